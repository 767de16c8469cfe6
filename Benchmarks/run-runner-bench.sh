#!/usr/bin/env bash
# GroupRunner against swift-service-lifecycle's ServiceGroup and against bare Swift tasks,
# side by side in one run: for each N, the implementations take turns, one fresh process per
# measurement, so that machine noise hits them alike. Prints a Markdown table of medians with
# min-max, and each one's ratios to GroupRunner (elastic) and to the bare-task floor measured in
# the same run (the issue's targets are ratios to the floor). Below the table, GroupRunner's time
# ratio to the floor taken within each round, whose median shrugs off load that drifts during a run.
#
# usage: Benchmarks/run-runner-bench.sh [runs=7] [sizes="1000 10000 100000"]
# A measurement that takes longer than 60 s is stopped and reported as "did not finish".
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-7}
sizes=${2:-"1000 10000 100000"}
limit=60

swift build -c release >&2
bin=.build/release
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

for n in $sizes; do
  for run in $(seq "$runs"); do
    for impl in "GroupRunnerBench $n" "GroupRunnerBench $n cooperative" "TaskFloorBench $n" "ServiceGroupBench $n"; do
      set -- $impl
      name=$1; shift
      # ServiceGroup never finishes 100,000 within the limit; three tries show that well enough.
      if [ "$name" = ServiceGroupBench ] && [ "$n" -ge 100000 ] && [ "$run" -gt 3 ]; then continue; fi
      if ! line=$(timeout "$limit" "$bin/$name" "$@"); then
        line="${name%Bench} timeout $n DNF 0"
      fi
      echo "$line $run" | tee -a "$raw" >&2
    done
  done
done

python3 - "$raw" "$limit" <<'PY'
import statistics, sys
rows = {}
rounds = {}  # (key, run) -> seconds, for the paired ratios below
for line in open(sys.argv[1]):
    impl, mode, n, secs, rss, run = line.split()
    key = ("ServiceGroup" if impl.startswith("ServiceGroup") else impl, "default" if mode == "timeout" else mode, int(n))
    rows.setdefault(key, []).append((None if secs == "DNF" else float(secs), int(rss)))
    rounds[(key, run)] = None if secs == "DNF" else float(secs)
print("| implementation | N | runs | wall time, median (min–max) | peak RSS, median | time ÷ GroupRunner | RSS ÷ GroupRunner | time ÷ floor | RSS ÷ floor |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sorted({k[2] for k in rows}):
    base = rows.get(("GroupRunner", "elastic", n))
    base_t = statistics.median(t for t, _ in base) if base else None
    base_r = statistics.median(r for _, r in base) if base else None
    floor = rows.get(("SwiftTasks", "floor", n))
    floor_t = statistics.median(t for t, _ in floor) if floor else None
    floor_r = statistics.median(r for _, r in floor) if floor else None
    for key in sorted((k for k in rows if k[2] == n), key=lambda k: (k[0] != "GroupRunner", k[1] != "elastic", k)):
        samples = rows[key]
        done = [t for t, _ in samples if t is not None]
        name = f"{key[0]} ({key[1]})"
        if len(done) < len(samples):
            print(f"| {name} | {n:,} | {len(samples)} | did not finish within {sys.argv[2]} s ({len(samples) - len(done)} of {len(samples)}) | – | – | – | – | – |")
            continue
        t = statistics.median(done)
        r = statistics.median(r for _, r in samples)
        ratio = lambda value, base: f"{value/base:.2f}×" if base else "–"
        print(f"| {name} | {n:,} | {len(samples)} | {t*1000:.1f} ms ({min(done)*1000:.1f}–{max(done)*1000:.1f}) | {r/1024:.1f} MiB"
              f" | {ratio(t, base_t)} | {ratio(r, base_r)} | {ratio(t, floor_t)} | {ratio(r, floor_r)} |")
# Load from other processes drifts within a run; a ratio taken within each round (the
# implementations ran one after another) cancels most of that drift.
print()
for n in sorted({k[2] for k in rows}):
    floor_key = ("SwiftTasks", "floor", n)
    for key in sorted((k for k in rows if k[2] == n and k[0] == "GroupRunner"), key=lambda k: k[1] != "elastic"):
        paired = [rounds[(key, run)] / rounds[(floor_key, run)] for (k, run) in rounds
                  if k == key and rounds[(k, run)] and rounds.get((floor_key, run))]
        if paired:
            print(f"GroupRunner ({key[1]}) ÷ floor at {n:,}, paired by round: median {statistics.median(paired):.2f}×"
                  f" ({min(paired):.2f}–{max(paired):.2f}, {len(paired)} rounds)")
PY
