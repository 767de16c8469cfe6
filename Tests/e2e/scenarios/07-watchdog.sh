#!/usr/bin/env bash
# 7. The watchdog: SIGSTOP the daemon. Its pings stop, systemd's watchdog aborts it
# (Result=watchdog in the journal), restarts it (NRestarts goes up), and the services come back.
# A drop-in shortens WatchdogSec to 3s so that this takes seconds, not the shipped 20s.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
printf '[Service]\nWatchdogSec=3s\nLimitCORE=0\n' | e2e_put /run/systemd/system/runnerd.service.d/e2e-watchdog.conf
X systemctl daemon-reload
base_config | write_config runnerd
X systemctl start runnerd || { fail "systemctl start runnerd"; finish; }
check "WatchdogUSec=3s" [ "$(prop runnerd WatchdogUSec)" = 3s ]
check "a healthy daemon is not killed: still up after 2 watchdog periods" \
    holds_for 6 prop_matches runnerd ActiveState '^active$'
wait_prop runnerd ActiveState '^active$' 20
main=$(prop runnerd MainPID)
restarts=$(prop runnerd NRestarts)
worker=$(service_pid runnerd "ticker.sh worker")
cursor=$(journal_cursor)

send_signal STOP "$main" || { fail "SIGSTOP the daemon (MainPID '$main')"; finish; }
say "SIGSTOP sent to the daemon ($main)"
restarted() { [ "$(prop runnerd NRestarts)" -gt "$restarts" ]; }
check "the watchdog fires and systemd restarts the daemon (NRestarts > $restarts)" wait_until 30 restarted
j=$(journal_since "$cursor" runnerd)
check "journal: Watchdog timeout" grep -q 'Watchdog timeout' <<<"$j"
check "journal: Failed with result 'watchdog'" grep -q "Failed with result 'watchdog'" <<<"$j"
check "the daemon is back: active with a new PID" wait_prop runnerd ActiveState '^active$' 20
check "a new daemon PID" [ "$(prop runnerd MainPID)" != "$main" ]
now=$(service_pid runnerd "ticker.sh worker")
check "the services are back (worker PID $worker -> ${now:-none})" new_pid "$worker" "$now"
check "the services are ready (port 18080 open)" \
    port_open 18080
echo "$j" | grep -E 'Watchdog|watchdog|Scheduled restart|Started|Stopped' | sed 's/^/       | /'
reset_unit runnerd
finish
