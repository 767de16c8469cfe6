#!/usr/bin/env bash
# Installs what building and testing runnerd needs on a Debian machine: libsystemd-dev for the
# CSystemd module map and pkg-config to find it. It is idempotent and quiet when all is present.
set -euo pipefail

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
