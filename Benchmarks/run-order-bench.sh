#!/usr/bin/env bash
# Start in dependency order: 200 services in 10 waves of 20 beside the same 200 without order,
# side by side in one run (Benchmarks/order_bench.py measures and prints a Markdown table).
# Needs root (the kernel's process connector).
#
# usage: Benchmarks/run-order-bench.sh [runs=7]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
[ "$(id -u)" -eq 0 ] || { echo "run as root: it reads the kernel's process events" >&2; exit 1; }
# runnerd as the .deb ships it, in a scratch path of its own so that it never disturbs another build.
runnerd=$(packaging/build-release.sh --scratch-path .build-bench | tail -n 1)
work=$(mktemp -d /tmp/runnerd-order-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "runnerd $("$runnerd" --version) at $(git rev-parse --short HEAD)" >&2
ulimit -n "$(ulimit -Hn)"
/usr/bin/python3 Benchmarks/order_bench.py --runnerd "$runnerd" --runs "$runs" --work "$work"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
