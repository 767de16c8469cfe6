#!/usr/bin/env bash
# runnerd beside supervisord, s6 and honcho, and a C floor, side by side in one run on this
# machine. It installs the peers (supervisor and s6 from Debian's packages, honcho from PyPI into
# a venv under /var/cache/runnerd-bench), builds runnerd in release mode and the floor
# (Benchmarks/floor/floor.c, compiled with cc into a temporary directory), then runs
# Benchmarks/supervisor_bench.py, which measures and prints Markdown tables:
#   1-3. start, stop and idle cost with 200 children (`sleep 100000`), implementations taking
#        turns run by run (the start order rotates; all of a run's supervisors idle together);
#   4.   log forwarding: one child writes 1,000,000 lines of 100 bytes;
#   5.   scale: 2,000 services (runnerd in 100 groups) beside the floor and s6.
# Needs root (apt-get, the kernel's process connector) and Debian 12.
#
# usage: [RUNNERD_BEFORE=old-runnerd] Benchmarks/run-supervisor-bench.sh [runs=5]
#            [figures=start,logs,scale] [extra options]
#   extra options go to supervisor_bench.py, e.g. --idle 30, --skip honcho, --children 200
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
figures=${2:-start,logs,scale}
shift $(( $# > 2 ? 2 : $# ))

[ "$(id -u)" -eq 0 ] || { echo "run as root: it installs packages and reads process events" >&2; exit 1; }

# The peers.
need=()
for pkg in supervisor s6 python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package may start its own supervisord under an init system; ours runs by itself.
venv=/var/cache/runnerd-bench/honcho
if [ ! -x "$venv/bin/honcho" ]; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q honcho
fi

# runnerd as the .deb ships it (packaging/build-release.sh), in a scratch path of its own so
# that it never disturbs another build.
runnerd=$(packaging/build-release.sh --scratch-path .build-bench | tail -n 1)
# RUNNERD_BEFORE=/path/to/an/older/runnerd adds it to every figure, as "runnerd before".
before=()
[ -n "${RUNNERD_BEFORE:-}" ] && before=(--runnerd-before "$RUNNERD_BEFORE")

work=$(mktemp -d /tmp/runnerd-supervisor-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/floor" Benchmarks/floor/floor.c

echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "versions: runnerd $("$runnerd" --version), supervisord $(supervisord --version)," \
  "s6 $(dpkg-query -W -f='${Version}' s6), $("$venv/bin/honcho" --version)" >&2
mkdir "$work/runs"
ulimit -n "$(ulimit -Hn)"
/usr/bin/python3 Benchmarks/supervisor_bench.py --runnerd "$runnerd" --floor "$work/floor" \
  --honcho "$venv/bin/honcho" --runs "$runs" --figures "$figures" --work "$work/runs" "${before[@]}" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
