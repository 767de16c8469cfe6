#!/usr/bin/env bash
# Log forwarding throughput, side by side in one run: one child writes 1,000,000 lines of 100
# bytes (99 characters and a newline). Measured, for each of N runs, taking turns:
#   file:     the child writing straight to a file;
#   runnerd:  the same child as a runnerd service, runnerd writing `group/service | line` to its
#             stdout, a file; timed from launching runnerd until the file holds every line.
# Prints medians with min-max and runnerd's rate as a ratio of the direct one.
#
# usage: Benchmarks/run-log-bench.sh [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
lines=1000000
swift build -c release --product runnerd >&2
runnerd=$(swift build -c release --show-bin-path)/runnerd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

payload=$(printf 'x%.0s' $(seq 99))
generator="yes $payload | head -n $lines"
cat > "$work/config.yaml" <<YAML
groups:
  logs:
    restart: never
    required: false
    services:
      gen: { command: [sh, -c, "$generator"] }
YAML
expected_runnerd=$(( lines * (100 + 11) ))

now() { date +%s%N; }
for run in $(seq "$runs"); do
  start=$(now)
  sh -c "$generator" > "$work/direct.txt"
  end=$(now)
  echo "file $(( end - start ))"

  : > "$work/runnerd.txt"
  start=$(now)
  "$runnerd" run --config "$work/config.yaml" > "$work/runnerd.txt" 2>/dev/null &
  pid=$!
  while [ "$(stat -c %s "$work/runnerd.txt")" -lt "$expected_runnerd" ]; do sleep 0.005; done
  end=$(now)
  kill -TERM "$pid"; wait "$pid" || true
  echo "runnerd $(( end - start ))"
done | tee "$work/raw" >&2

python3 - "$work/raw" "$lines" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, secs = line.split()
    rows.setdefault(name, []).append(int(secs) / 1e9)
n = int(sys.argv[2])
base = statistics.median(rows["file"])
print("| writer | runs | time, median (min–max) | lines/s | ÷ straight to a file |")
print("|---|---|---|---|---|")
for name in ["file", "runnerd"]:
    t = rows[name]
    m = statistics.median(t)
    print(f"| {name} | {len(t)} | {m*1000:.0f} ms ({min(t)*1000:.0f}–{max(t)*1000:.0f}) | {n/m/1e6:.2f} M | {base/m:.2f}× |")
PY
