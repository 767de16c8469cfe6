#!/usr/bin/env bash
# The control socket's round trip beside supervisorctl, and its idle cost beside the build before
# it: see Benchmarks/control_bench.py. Builds runnerd in release mode as the .deb ships it.
#
# usage: RUNNERD_BEFORE=runnerd-without-socket Benchmarks/run-control-bench.sh [rounds=21] [services=200,2000]
#        (services "" measures only the idle cost)
# Needs root and Debian 12 (it installs supervisor).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-21}
services=${2:-200,2000}
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
: "${RUNNERD_BEFORE:?set RUNNERD_BEFORE to a runnerd built before the control socket (e.g. at f1a6b43)}"
if ! dpkg-query -W -f='${Status}' supervisor 2>/dev/null | grep -q 'install ok installed'; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends supervisor >/dev/null
fi
packaging/build-release.sh --scratch-path .build-bench >&2
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 Benchmarks/control_bench.py --runnerd .build-bench/release/runnerd \
    --runnerd-before "$RUNNERD_BEFORE" --rounds "$rounds" --services "$services"
