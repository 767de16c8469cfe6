#!/usr/bin/env bash
# Idle wake-ups of runnerd, thread by thread: one sleeping service, 2 s to settle, then SECONDS
# measured. Per thread: voluntary+nonvoluntary context switches (/proc/PID/task/TID/status) and
# schedulings (the third field of /proc/PID/task/TID/schedstat), before and after.
#
# usage: Benchmarks/idle-threads.sh RUNNERD [seconds=10]
set -euo pipefail
bin=$1
window=${2:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'groups:\n  g:\n    services:\n      s: { command: [sleep, "100000"] }\n' > "$work/idle.yaml"
"$bin" run --config "$work/idle.yaml" > "$work/out" 2>&1 &
pid=$!
sleep 2
# One line per thread: TID NAME SWITCHES SCHEDULINGS.
snap() { for t in /proc/$pid/task/*; do
  printf '%s %s %s %s\n' "${t##*/}" "$(cat "$t/comm")" \
    "$(awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ {s+=$2} END {print s}' "$t/status")" \
    "$(awk '{print $3}' "$t/schedstat")"; done | sort; }
snap > "$work/before"
sleep "$window"
snap > "$work/after"
kill -TERM $pid; wait $pid || true
# Threads alive at both reads; one that exited in the window is listed apart.
join -a 1 "$work/before" "$work/after" | awk -v w="$window" '
  NF == 7 { printf "%-16s switches %s -> %s  schedulings %s -> %s\n", $2, $3, $6, $4, $7; ds += $6 - $3; dr += $7 - $4; next }
  { printf "%-16s exited during the window\n", $2 }
  END { print "total: " ds " context switches, " dr " schedulings in " w " s" }'
