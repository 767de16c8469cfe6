#!/usr/bin/env bash
# 15. A flood beside a quiet service: one service prints lines as fast as it can, another prints
# one numbered line every 100 ms. runnerd's per-service share (log-rate-limit) cuts the flood and
# says how much it suppressed; journald's own per-unit limit, which the unit raises, never does.
# Every one of the quiet service's lines and runnerd's own lines reach the journal.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
write_config runnerd <<'YAML'
groups:
  noisy:
    services:
      flood:
        command: [sh, -c, "yes 'a line of a service that floods its output'"]
        log-rate-limit: { burst: 2000, interval: 2s }
  calm:
    services:
      quiet:
        command: [sh, -c, "i=0; while :; do i=$((i + 1)); echo \"quiet line $i\"; sleep 0.1; done"]
YAML
cursor=$(journal_cursor)
X systemctl start runnerd || { fail "systemctl start runnerd"; finish; }
wait_prop runnerd ActiveState '^active$' 20
sleep 6
X systemctl stop runnerd
quiet=$(journal_since "$cursor" runnerd quiet)
last=$(grep -oE 'quiet line [0-9]+' <<<"$quiet" | tail -n 1 | grep -oE '[0-9]+$')
count=$(grep -cE '^quiet line [0-9]+$' <<<"$quiet")
say "the quiet service's last line: ${last:-none}; lines in the journal: $count"
complete() { [ -n "$last" ] && [ "$last" -ge 40 ] && [ "$count" = "$last" ]; }
check "every line of the quiet service reached the journal (1..${last:-0}, $count lines)" complete
own=$(journal_since "$cursor" runnerd runnerd)
check "runnerd says how much of the flood it suppressed" \
    grep -qE '^noisy/flood: suppressed [0-9,]+ lines in the last [0-9]+s \(log-rate-limit: 2000 lines per 2s\)$' <<<"$own"
check "runnerd's own lifecycle lines reached the journal too" grep -qF "stopped; exit code 0" <<<"$own"
journald=$(X journalctl --no-pager -u systemd-journald --after-cursor="$cursor" -o cat)
check "journald did not cut the unit (no 'Suppressed ... messages from runnerd.service')" \
    test -z "$(grep -F 'runnerd.service' <<<"$journald" | grep -i suppressed)"
reset_unit runnerd
finish
