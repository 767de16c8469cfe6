#!/usr/bin/env bash
# Installs what building and testing runnerd needs on a Debian machine: libsystemd-dev for the
# CSystemd module map and pkg-config to find it. It is idempotent and quiet when all is present.
set -euo pipefail

# Python's varlink package (PyPI), the independent client the control-socket tests drive runnerd
# with, goes into .build/python-deps (out of git, per clone); pinned, so every run tests the same.
if ! [ -d .build/python-deps/varlink ] && command -v python3 >/dev/null; then
  echo "setup: installing varlink==31.0.0 (PyPI) into .build/python-deps" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target .build/python-deps varlink==31.0.0 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
fi

need=()
for pkg in libsystemd-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
