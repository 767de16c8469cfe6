#!/usr/bin/env bash
# 11. A Type=notify program: notify-prog.sh calls `systemd-notify --ready` after 1s, exactly as
# it would under systemd. With `ready: notify` runnerd gives it a NOTIFY_SOCKET of its own
# (under /run/runnerd), waits for its READY=1 and shows its STATUS=; running as nobody, too.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
cursor=$(journal_cursor)
write_config runnerd <<YAML
# runnerd end-to-end suite: a program written for Type=notify
groups:
  notify:
    services:
      notifyprog:
        command: ["/bin/sh", "$FIX/notify-prog.sh"]
        ready: { notify: { timeout: 10s } }
      asnobody:
        command: ["/bin/sh", "$FIX/notify-prog.sh"]
        user: nobody
        ready: { notify: { timeout: 10s } }
YAML
t0=$(e2e_now_ms)
X systemctl start runnerd; rc=$?
dt=$(e2e_secs_since "$t0")
check "systemctl start runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "the start waited for the program's READY=1, sent after 1s (took ${dt}s)" \
    awk -v t="$dt" 'BEGIN { exit !(t >= 0.9 && t < 10) }'
check "ActiveState=active" [ "$(prop runnerd ActiveState)" = active ]
program_log() { journal_since "$cursor" runnerd notifyprog; }
said_ready() { program_log | grep -q 'sent READY=1'; }
wait_until 5 said_ready
j=$(program_log)
echo "$j" | sed 's/^/       | /'
check "the program got a NOTIFY_SOCKET under /run/runnerd" grep -q 'NOTIFY_SOCKET=/run/runnerd/' <<<"$j"
check "systemd-notify --ready succeeded in the program" grep -q 'sent READY=1 (exit status 0)' <<<"$j"
say "StatusText: $(prop runnerd StatusText)"
check "the daemon's status shows the program's STATUS=" wait_prop runnerd StatusText 'notify-prog is serving' 5
nobody_log() { journal_since "$cursor" runnerd asnobody; }
check "the same program as user nobody reached its socket too" grep -q 'sent READY=1 (exit status 0)' <<<"$(nobody_log)"
X systemctl stop runnerd
check "it stops cleanly" [ "$(prop runnerd Result)/$(prop runnerd ExecMainStatus)" = success/0 ]
finish
