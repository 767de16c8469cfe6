#!/usr/bin/env bash
# shellcheck disable=SC2016  # $ in single quotes is for the container's shell
# Log forwarding through journald, under a real systemd 252: the packaged runnerd.service beside a
# writer that logs straight to journald, side by side in one run. One child writes LINES lines of
# 100 bytes (`yes <99 x> | head -n LINES`). Measured, for each of RUNS runs, taking turns (the
# order rotates from run to run), each on an emptied journal:
#   direct:   the generator as a transient unit with StandardOutput=journal: journald's stream
#             protocol straight from the child;
#   runnerd:  the same generator as the only service of runnerd.service, which sends each line
#             to journald as a native entry (SYSLOG_IDENTIFIER=gen);
#   file:     the generator writing to a file in the container's /tmp: its own speed.
# Times come from journald's own stamps (__REALTIME_TIMESTAMP): from the writer's first entry to
# its last, and from the start command (systemd-run, systemctl start) to its last entry. Every
# run checks that exactly LINES entries with the payload arrived. A second table gives journald's
# CPU time while each writer's entries came in, as a share of the span (how close journald was to
# never waiting for entries), and runnerd's own CPU time.
#
# It reuses the end-to-end harness (Tests/e2e/harness: rootfs, boot, in, teardown) under a
# container name, state directory and cgroup of its own, and needs root, as the suite does.
#
# usage: [E2E_DEB=runnerd.deb] Benchmarks/run-journald-bench.sh [runs=5] [lines=1000000]
#   E2E_DEB: install this .deb instead of building one with packaging/build-deb.sh (which builds
#            the working tree, uncommitted changes included).
#   JBENCH_ALLOW_E2E=1: run even while the e2e suite has a container up.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
lines=${2:-1000000}
harness=$PWD/Tests/e2e/harness

[ "$(id -u)" -eq 0 ] || { echo "run as root: it boots a container with systemd-nspawn" >&2; exit 1; }

# A name, state directory and cgroup of our own: Tests/e2e/run.sh uses runnerd-e2e for all three,
# and its teardown removes whatever is recorded there, so sharing them would let either run end
# the other's container.
export E2E_NAME=runnerd-jbench E2E_STATE=/run/runnerd-journald-bench E2E_CGROUP=runnerd-journald-bench
# shellcheck source=SCRIPTDIR/../Tests/e2e/harness/lib.sh
. "$harness/lib.sh"
# An e2e run boots, installs and restarts services the whole time: on 2 shared cores that would be
# measured too.
if [ -e /run/runnerd-e2e/env ] && [ "${JBENCH_ALLOW_E2E:-0}" != 1 ]; then
  echo "an e2e run has a container up (/run/runnerd-e2e/env): wait for it to end, or set JBENCH_ALLOW_E2E=1" >&2
  exit 1
fi
# Checked here, before the EXIT trap exists: that trap would tear down the other run's container.
if [ -e "$E2E_STATE/env" ]; then
  echo "another journald benchmark is running (or one was killed): $E2E_STATE/env exists;" \
       "if none is running, end it with" \
       "E2E_NAME=$E2E_NAME E2E_STATE=$E2E_STATE E2E_CGROUP=$E2E_CGROUP $harness/teardown.sh" >&2
  exit 1
fi

"$harness/rootfs.sh"

stage=$(mktemp -d /tmp/runnerd-journald-bench.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "$harness/teardown.sh" || true
  rm -rf "$stage"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${E2E_DEB:-}" ]; then
  deb=$(realpath "$E2E_DEB")
else
  deb=$(packaging/build-deb.sh | tail -n 1)
fi
cp "$deb" "$stage/runnerd.deb"
chmod -R a+rX "$stage"

"$harness/boot.sh" --bind-ro="$stage:/jbench"
e2e_load_state
e2e_in dpkg -i /jbench/runnerd.deb >"$stage/dpkg.log" 2>&1 || { cat "$stage/dpkg.log" >&2; exit 1; }

payload=$(printf 'x%.0s' $(seq 99))
generator="yes $payload | head -n $lines"

# journald keeps its files in /run (a tmpfs of 20% of RAM here) and by default may use only 10%
# of it, and drops what a unit logs beyond 10,000 lines in 30 s: either would lose lines, not slow
# them. So: room for every entry of one writer (0.4-0.55 KiB each; the journal is emptied before
# each writer), one big file so that no rotation lands inside a measurement, and no rate limit,
# neither journald's own nor the units' (LogRateLimitIntervalSec=0 on runnerd.service here, on the
# direct unit below). Everything else stays as Debian ships it, ForwardToSyslog=yes included: it
# costs journald a failed send per entry here (no syslog daemon), the same for every writer.
room_mib=$(( lines / 1024 + 1024 ))
e2e_in sh -c "
  set -e
  systemctl stop runnerd
  mount -o remount,size=$(( room_mib * 2 ))M /run
  mkdir -p /etc/systemd/journald.conf.d /etc/systemd/system/runnerd.service.d
  printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=${room_mib}M\nRuntimeKeepFree=64M\nRuntimeMaxFileSize=${room_mib}M\nRateLimitIntervalSec=0\n' \
    >/etc/systemd/journald.conf.d/jbench.conf
  printf '[Service]\nLogRateLimitIntervalSec=0\n' >/etc/systemd/system/runnerd.service.d/jbench.conf
  systemctl daemon-reload
  systemctl restart systemd-journald"
# required: false and a sleep after the lines: the group stays up, quietly, until it is stopped.
e2e_put /etc/runnerd/runnerd.yaml <<YAML
groups:
  jbench:
    restart: never
    required: false
    services:
      gen:
        command: [sh, -c, "$generator; exec sleep 100000"]
YAML
e2e_in runnerd check --config /etc/runnerd/runnerd.yaml >/dev/null

now_us() { date +%s%6N; }   # the container shares the host's clock, and journald stamps with it
die() { echo "journald-bench: $*" >&2; exit 1; }

clear_journal() { e2e_in journalctl --rotate --vacuum-size=1 >/dev/null 2>&1; }

# cpu_ticks PID...: the CPU time those container processes have used so far, in clock ticks.
cpu_ticks() {
  e2e_in sh -c 'for p; do cut -d" " -f14,15 /proc/$p/stat; done' ticks "$@" | awk '{ t += $1 + $2 } END { print t + 0 }'
}

# wait_for_entries MATCH...: wait until journald holds all LINES payload entries of the writer, and
# fail if it holds another number. journalctl only reads once journald and the writer have been idle
# for a second (CPU time, from /proc), so that the counting never takes a core from journald while
# entries are still coming in; each read counts only what came after the previous one.
wait_for_entries() {
  local pids n=0 other=0 cursor='' stalled=0 before after got new_n new_other new_cursor
  read -r -a pids <<<"$(e2e_in systemctl show -P MainPID systemd-journald) ${writer_pid:-}"
  local deadline=$(( $(date +%s) + 600 ))
  after=$(cpu_ticks "${pids[@]}")
  while :; do
    [ "$(date +%s)" -lt "$deadline" ] || die "gave up after 600 s with $n of $lines entries"
    sleep 1
    before=$after
    after=$(cpu_ticks "${pids[@]}")
    [ $(( after - before )) -le 5 ] || continue
    got=$(e2e_in journalctl --no-pager "$@" ${cursor:+"--after-cursor=$cursor"} --show-cursor -o cat |
          awk -v p="$payload" '$0 == p { n++; next } /^-- cursor: / { c = substr($0, 12); next } { o++ }
                               END { print n + 0, o + 0, c }')
    read -r new_n new_other new_cursor <<<"$got"
    n=$(( n + new_n )); other=$(( other + new_other )); cursor=${new_cursor:-$cursor}
    [ "$n" -lt "$lines" ] || break
    if [ "$new_n" = 0 ]; then
      stalled=$(( stalled + 1 ))
      [ "$stalled" -lt 10 ] || die "journald is idle with $n of $lines entries for $* (lines were lost)"
    else
      stalled=0
    fi
  done
  [ "$n" = "$lines" ] || die "$n entries for $*, not $lines"
  [ "$other" = 0 ] || echo "  note: $other entries other than the payload for $*" >&2
}

# first_last MATCH...: "FIRST LAST", the journal stamps (µs) of the writer's first and last payload entries.
first_last() {
  local stamp='s/.*"__REALTIME_TIMESTAMP":"\([0-9]*\)".*/\1/p'
  echo "$(e2e_in sh -c 'journalctl --no-pager "$@" -o json | head -n 1' first "$@" "MESSAGE=$payload" | sed -n "$stamp")" \
       "$(e2e_in journalctl --no-pager "$@" "MESSAGE=$payload" -o json -n 1 | sed -n "$stamp")"
}

journald_ticks() { cpu_ticks "$(e2e_in systemctl show -P MainPID systemd-journald)"; }

# Each writer prints "NAME FIRST_TO_LAST_US LAUNCH_TO_LAST_US JOURNALD_TICKS WRITER_TICKS": the
# CPU time journald spent while the writer's entries came in, and the writer's own (runnerd's
# whole process; 0 where the writer is not a daemon).
measure_direct() {
  local unit=jbench-direct-$1 t0 first last j0
  writer_pid=''
  j0=$(journald_ticks)
  t0=$(now_us)
  # IgnoreSIGPIPE=no: the generator's `yes` dies of SIGPIPE as it does under runnerd, which resets
  # its children's signals; with systemd's default it would log "Broken pipe" into the same stream.
  e2e_in systemd-run --quiet --wait --unit="$unit" -p StandardOutput=journal -p StandardError=journal \
    -p IgnoreSIGPIPE=no -p LogRateLimitIntervalSec=0 sh -c "$generator"
  wait_for_entries "_SYSTEMD_UNIT=$unit.service"
  read -r first last <<<"$(first_last "_SYSTEMD_UNIT=$unit.service")"
  echo "direct $(( last - first )) $(( last - t0 )) $(( $(journald_ticks) - j0 )) 0"
}

measure_runnerd() {
  local t0 deadline first last j0 writer_ticks
  j0=$(journald_ticks)
  t0=$(now_us)
  e2e_in systemctl start runnerd
  writer_pid=$(e2e_in systemctl show -P MainPID runnerd)
  # The generator is done once its shell has become the sleep; runnerd may still be forwarding.
  deadline=$(( $(date +%s) + 600 ))
  until e2e_in pgrep -x sleep >/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || die "the generator under runnerd did not finish in 600 s"
    sleep 0.2
  done
  wait_for_entries _SYSTEMD_UNIT=runnerd.service SYSLOG_IDENTIFIER=gen
  read -r first last <<<"$(first_last _SYSTEMD_UNIT=runnerd.service SYSLOG_IDENTIFIER=gen)"
  writer_ticks=$(cpu_ticks "$writer_pid")
  local journald=$(( $(journald_ticks) - j0 ))
  e2e_in systemctl stop runnerd
  echo "runnerd $(( last - first )) $(( last - t0 )) $journald $writer_ticks"
}

measure_file() {
  local out us count
  out=$(e2e_in sh -c 's=$(date +%s%6N); '"$generator"' >/tmp/jbench.txt; e=$(date +%s%6N)
                      echo $(( e - s )) $(wc -l </tmp/jbench.txt); rm -f /tmp/jbench.txt')
  read -r us count <<<"$out"
  [ "$count" = "$lines" ] || die "the file holds $count lines, not $lines"
  echo "file $us $us 0 0"
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "runnerd $(e2e_in runnerd --version), $(e2e_in systemctl --version | head -n 1); $runs runs of $lines lines" >&2
writers=(direct runnerd file)
for run in $(seq "$runs"); do
  for i in 0 1 2; do
    w=${writers[$(( (run - 1 + i) % 3 ))]}
    clear_journal
    "measure_$w" "$run"
  done
done | tee "$stage/raw" >&2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$stage/raw" "$lines" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows, cpu, n, hz = {}, {}, int(sys.argv[2]), int(sys.argv[3])
for line in open(sys.argv[1]):
    name, span, launch, journald, writer = line.split()
    rows.setdefault(name, []).append((int(span) / 1e6, int(launch) / 1e6))
    cpu.setdefault(name, []).append((int(journald) / hz, int(writer) / hz))
runs = len(rows["direct"])

def cell(times):
    m = statistics.median(times)
    return f"{m*1000:.0f} ({min(times)*1000:.0f}–{max(times)*1000:.0f}) | {n/m/1e6:.3f} M"

def ratio(name, k):
    # runnerd's rate as a share of journald-direct's in the same run (its time ÷ ours), then the median
    return statistics.median(d[k] / w[k] for d, w in zip(rows["direct"], rows[name]))

print("| writer | runs | first → last entry, ms | lines/s | ÷ direct | launch → last entry, ms | lines/s | ÷ direct |")
print("|---|---|---|---|---|---|---|---|")
for name, label in [("direct", "journald direct (StandardOutput=journal)"), ("runnerd", "**runnerd** (native entries)"),
                    ("file", "file (the generator alone, start to exit)")]:
    spans = [s for s, _ in rows[name]]
    launches = [l for _, l in rows[name]]
    if name == "file":
        print(f"| {label} | {len(spans)} | — | — | — | {cell(launches)} | {ratio(name, 1):.2f}× |")
    else:
        print(f"| {label} | {len(spans)} | {cell(spans)} | {ratio(name, 0):.2f}× | {cell(launches)} | {ratio(name, 1):.2f}× |")

# Who is the bottleneck: journald's CPU time while a writer's entries came in, as a share of the
# writer's first → last span (1.00 = journald never waited for entries), and runnerd's own CPU.
print()
print("| writer | journald CPU, s | journald busy (CPU ÷ first → last) | writer's CPU, s |")
print("|---|---|---|---|")
for name, label in [("direct", "journald direct"), ("runnerd", "**runnerd**")]:
    journald = [j for j, _ in cpu[name]]
    busy = [j / s for (j, _), (s, _) in zip(cpu[name], rows[name])]
    writer = "—" if name == "direct" else f"{statistics.median(w for _, w in cpu[name]):.2f}"
    print(f"| {label} | {statistics.median(journald):.2f} ({min(journald):.2f}–{max(journald):.2f}) "
          f"| {statistics.median(busy):.2f} ({min(busy):.2f}–{max(busy):.2f}) | {writer} |")
PY
