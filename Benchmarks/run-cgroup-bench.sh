#!/usr/bin/env bash
# Per-service cgroups against none, side by side in one run under the real systemd 252 of the
# end-to-end container (Tests/e2e/harness): N services (`sleep 100000`, one group each), started
# and stopped RUNS times with the shipped unit (Delegate=yes: a cgroup per service) and with a
# drop-in Delegate=no (the process-group path), taking turns run by run. It prints a Markdown table.
#
#   start: the unit's exec to READY=1 (ExecMainStartTimestamp to ActiveEnterTimestamp), every
#          service spawned into its cgroup;
#   stop:  the stop job's start to the unit's end (ActiveExitTimestamp to InactiveEnterTimestamp),
#          every service stopped and its cgroup removed;
#   idle:  context switches of runnerd's threads over IDLE seconds, from 3 s after the start
#          (both variants with WatchdogSec=0, so that only runnerd's own wake-ups count).
#
# usage: [E2E_DEB=build/runnerd_*.deb] Benchmarks/run-cgroup-bench.sh [runs=7] [services=200] [idle=10]
# Needs root and what the e2e suite needs; the container gets a name, state and cgroup of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7} n=${2:-200} idle=${3:-10}
export E2E_NAME=${E2E_NAME:-runnerd-bench-cg} E2E_STATE=${E2E_STATE:-/run/runnerd-bench-cg} E2E_CGROUP=${E2E_CGROUP:-runnerd-bench-cg}
harness=Tests/e2e/harness
# shellcheck source=../Tests/e2e/harness/lib.sh
. "$harness/lib.sh"

deb=${E2E_DEB:-$(packaging/build-deb.sh | tail -n 1)}
"$harness/rootfs.sh" >&2
stage=$(mktemp -d /tmp/runnerd-cgroup-bench.XXXXXX)
cp "$deb" "$stage/runnerd.deb"
chmod -R a+rX "$stage"
trap '"$harness/teardown.sh" >&2; rm -rf "$stage"' EXIT
"$harness/boot.sh" --bind-ro="$stage:/e2e" >&2
e2e_load_state
e2e_in dpkg -i /e2e/runnerd.deb >/dev/null
# dpkg started it with the shipped config; every run below starts it itself.
e2e_in systemctl stop runnerd

{
    echo "groups:"
    for i in $(seq "$n"); do
        printf '  g%03d:\n    services:\n      s: { command: [sleep, "100000"], interrupt-timeout: 5s }\n' "$i"
    done
} | e2e_put /etc/runnerd/runnerd.yaml

prop() { e2e_in systemctl show -P "$1" runnerd; }
# threads: "TID SWITCHES" for every thread of runnerd now (voluntary plus involuntary context
# switches). Threads can end between two samples (the executors shrink after a start), so a
# delta is taken over the threads present in both.
threads() {
    e2e_in sh -c 'for t in /proc/$1/task/*; do echo "${t##*/} $(awk "/ctxt_switches/ { s += \$2 } END { print s }" $t/status)"; done' - "$(prop MainPID)"
}
wakeups() { # BEFORE AFTER: the switches of the threads in both
    awk 'NR == FNR { before[$1] = $2; next } ($1 in before) { s += $2 - before[$1] } END { print s + 0 }' "$1" "$2"
}
variant() { # cgroups | plain
    local delegate=yes
    [ "$1" = plain ] && delegate=no
    printf '[Service]\nDelegate=%s\nWatchdogSec=0\n' "$delegate" |
        e2e_put /run/systemd/system/runnerd.service.d/bench.conf
    e2e_in systemctl daemon-reload
}

results=$stage/results
: >"$results"
for run in $(seq "$runs"); do
    order="cgroups plain"
    [ $((run % 2)) = 0 ] && order="plain cgroups"
    for v in $order; do
        variant "$v"
        e2e_in systemctl start runnerd
        start_us=$(( $(prop ActiveEnterTimestampMonotonic) - $(prop ExecMainStartTimestampMonotonic) ))
        cg=$(prop ControlGroup)
        cgroups=$(e2e_in sh -c 'find "/sys/fs/cgroup$1" -mindepth 3 -name cgroup.procs | wc -l' - "$cg")
        # Settle first: the executors' spare threads retire within a few seconds of the start.
        sleep 3
        threads >"$stage/before"
        sleep "$idle"
        threads >"$stage/after"
        switches=$(wakeups "$stage/before" "$stage/after")
        e2e_in systemctl stop runnerd
        stop_us=$(( $(prop InactiveEnterTimestampMonotonic) - $(prop ActiveExitTimestampMonotonic) ))
        echo "$v $start_us $stop_us $switches $cgroups" >>"$results"
        echo "run $run $v: start $((start_us / 1000)) ms, stop $((stop_us / 1000)) ms, idle switches $switches, service cgroups $cgroups" >&2
    done
done
e2e_in rm -f /run/systemd/system/runnerd.service.d/bench.conf

python3 - "$results" "$n" "$idle" "$runs" <<'PY'
import statistics, sys
path, n, idle, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = {}
for line in open(path):
    v, start, stop, switches, cgroups = line.split()
    rows.setdefault(v, []).append((int(start) / 1000, int(stop) / 1000, int(switches), int(cgroups)))
def fig(values):
    return f"{statistics.median(values):.1f} ms ({min(values):.1f}–{max(values):.1f})"
c, p = rows["cgroups"], rows["plain"]
med = lambda rs, i: statistics.median(r[i] for r in rs)
print(f"| figure ({n} services, `sleep`, one group each; {runs} runs) | per-service cgroups (Delegate=yes) | process groups (Delegate=no) | cgroups ÷ plain | cost per service |")
print("|---|---|---|---|---|")
for i, name in ((0, "start: exec to READY=1"), (1, "stop: stop job to inactive")):
    a, b = [r[i] for r in c], [r[i] for r in p]
    per = (med(c, i) - med(p, i)) / n * 1000
    print(f"| {name} | {fig(a)} | {fig(b)} | {med(c, i) / med(p, i):.2f}× | {per:+.0f} µs |")
print(f"| idle wake-ups over {idle} s (context switches, all threads) | {med(c, 2):.0f} | {med(p, 2):.0f} | – | – |")
print(f"| service cgroups while running | {med(c, 3):.0f} | {med(p, 3):.0f} | – | – |")
PY
