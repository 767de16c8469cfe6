#!/usr/bin/env bash
# The soak: one group whose only service exits at once, restarted every millisecond
# (restart: always, restart-delay 1ms, a 1ms restart window so that it never gives up), until it
# has been restarted RESTARTS times (10,000 by default). Meanwhile the daemon's open fds, RSS and
# zombie children are sampled; at the end the script checks that
#   - the fd count is flat: the daemon's base count (the fewest of 30 reads over 100 ms, since a
#     run's pipes come and go) is the same in every sample after warm-up;
#   - RSS grew by less than 1 MiB after warm-up (the first 10% of the restarts);
#   - no zombie child of the daemon lived across two samples;
#   - runnerd's own log stayed small: a flapping group logs a summary every 10 s, not a line per
#     restart.
# It prints the figures (recorded in RELIABILITY.md) and exits non-zero if a check fails.
#
# Usage: Benchmarks/soak.sh [RESTARTS]
#   RUNNERD=path/to/runnerd  use that binary instead of building one (release, .build-soak)
#   SAMPLE=seconds           time between samples (default 0.5)
set -euo pipefail
cd "$(dirname "$0")/.."

restarts=${1:-10000}
sample=${SAMPLE:-0.5}
if [[ -z "${RUNNERD:-}" ]]; then
    swift build -c release --scratch-path .build-soak --product runnerd >&2
    RUNNERD=.build-soak/release/runnerd
fi

work=$(mktemp -d /tmp/runnerd-soak-XXXXXX)
daemon=""
cleanup() {
    if [[ -n "$daemon" ]] && kill -0 "$daemon" 2>/dev/null; then kill -KILL "$daemon" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Every run appends one byte: the file's size counts the starts (restarts + 1) exactly, and the
# service prints nothing, so runnerd's output is only its own log.
count="$work/starts"
: > "$count"
cat > "$work/soak.yaml" <<EOF
groups:
  soak:
    restart: always
    restart-delay: 1ms
    restart-delay-max: 1ms
    max-restarts: 1000000000
    restart-window: 1ms
    services:
      blip: { command: [sh, -c, "printf x >> $count"] }
EOF

# The fewest of 30 reads over some 100 ms, a few dozen runs: the count between runs, without the
# pipes of a running service. A leak raises it.
fds() {
    local least=1000000 open
    for _ in $(seq 30); do
        open=(/proc/"$daemon"/fd/*)
        (( ${#open[@]} < least )) && least=${#open[@]}
        sleep 0.003
    done
    echo "$least"
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status" 2>/dev/null || echo 0; }
# ps exits 1 when the daemon has no child at that moment.
zombies() { { ps --ppid "$daemon" -o pid=,stat= 2>/dev/null || true; } | awk '$2 ~ /^Z/ { print $1 }' | sort | tr '\n' ' '; }
started() { stat -c %s "$count"; }

"$RUNNERD" run --config "$work/soak.yaml" > "$work/stdout.log" 2> "$work/runnerd.log" &
daemon=$!
begin=$(date +%s.%N)

warmup=$(( restarts / 10 ))
samples="$work/samples"
echo "seconds restarts fds rss_kib zombies" > "$samples"
previous_zombies=""
lingering=""
warm_rss="" warm_fds="" warm_at=0
while true; do
    sleep "$sample"
    kill -0 "$daemon" 2>/dev/null || { echo "runnerd exited early:" >&2; cat "$work/runnerd.log" >&2; exit 1; }
    n=$(( $(started) - 1 ))
    now=$(date +%s.%N)
    f=$(fds) r=$(rss) z=$(zombies)
    echo "$(echo "$now - $begin" | bc) $n $f $r ${z:--}" >> "$samples"
    # A zombie that is still there one sample later was not reaped.
    for pid in $z; do
        if [[ " $previous_zombies " == *" $pid "* ]]; then lingering+="$pid "; fi
    done
    previous_zombies=$z
    # The first sample at or past the warm-up is the reference.
    if [[ -z "$warm_rss" ]] && (( n >= warmup )); then
        warm_rss=$r warm_fds=$f warm_at=$n
    fi
    if (( n >= restarts )); then break; fi
done

end_restarts=$(( $(started) - 1 ))
end=$(date +%s.%N)
end_rss=$(rss) end_fds=$(fds)
kill -TERM "$daemon"
code=0
wait "$daemon" || code=$?
daemon=""

elapsed=$(echo "$end - $begin" | bc)
rate=$(echo "$end_restarts / $elapsed" | bc)
# fd figures from the reference sample on
read -r fds_min fds_max < <(awk -v w="$warm_at" 'NR > 1 && $2 >= w { if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3 } END { print min, max }' "$samples")
first_rss=$(awk 'NR == 2 { print $4 }' "$samples")
log_lines=$(wc -l < "$work/runnerd.log")
growth=$(( end_rss - warm_rss ))

echo "runnerd soak: $end_restarts restarts in ${elapsed}s ($rate restarts/s), $(( $(wc -l < "$samples") - 1 )) samples every ${sample}s"
echo "  binary:      $RUNNERD"
echo "  fds:         after warm-up ($warm_at restarts) $warm_fds; from then on $fds_min..$fds_max; at the end $end_fds"
echo "  RSS:         first sample $first_rss KiB; after warm-up ($warm_at restarts) $warm_rss KiB; at the end $end_rss KiB (growth $growth KiB)"
echo "  zombies:     ${lingering:-none} lingering across samples"
echo "  runnerd log: $log_lines lines; exit code $code after SIGTERM"
echo "  log:"
sed 's/^/    /' "$work/runnerd.log"

failed=0
check() {
    if eval "$2"; then echo "ok:   $1"; else echo "FAIL: $1"; failed=1; fi
}
check "fd count flat ($warm_fds after warm-up, $fds_min..$fds_max since)" "(( fds_min == warm_fds && fds_max == warm_fds ))"
check "RSS growth after warm-up under 1 MiB ($growth KiB)" "(( growth < 1024 ))"
check "no zombie lingered" "[[ -z \"$lingering\" ]]"
check "the log is not flooded ($log_lines lines for $end_restarts restarts)" "(( log_lines < 100 ))"
check "a clean stop (exit 0)" "(( code == 0 ))"
exit $failed
