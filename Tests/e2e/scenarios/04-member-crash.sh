#!/usr/bin/env bash
# 4. A member crash: SIGKILL one service of the web group. The whole web group restarts (both of
# its services get new PIDs); the batch group keeps its PID, and the daemon itself stays up.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
slowport=$(service_pid runnerd late-port.py)
ticker=$(service_pid runnerd "ticker.sh ticker")
worker=$(service_pid runnerd "ticker.sh worker")
say "before: daemon $main, slowport $slowport, ticker $ticker, worker $worker"
[ -n "$slowport" ] && [ -n "$ticker" ] && [ -n "$worker" ] || { fail "all three services run"; finish; }

send_signal KILL "$ticker"
changed() { # PATTERN OLD_PID: the service runs again, with another PID
    local now
    now=$(service_pid runnerd "$1") && [ -n "$now" ] && [ "$now" != "$2" ]
}
check "ticker is restarted with a new PID" wait_until 20 changed "ticker.sh ticker" "$ticker"
check "slowport, in the same group, is restarted too" wait_until 20 changed late-port.py "$slowport"
check "slowport is ready again (port 18080 open)" \
    wait_until 20 port_open 18080
check "worker, in the batch group, keeps its PID $worker" [ "$(service_pid runnerd "ticker.sh worker")" = "$worker" ]
check "the daemon keeps its PID $main" [ "$(prop runnerd MainPID)" = "$main" ]
check "runnerd.service stays active, NRestarts=0" \
    [ "$(prop runnerd ActiveState)/$(prop runnerd NRestarts)" = active/0 ]
say "after: slowport $(service_pid runnerd late-port.py), ticker $(service_pid runnerd "ticker.sh ticker"), worker $(service_pid runnerd "ticker.sh worker")"
say "daemon's log of it:"
X journalctl --no-pager -u runnerd -t runnerd -n 8 -o cat | sed 's/^/       | /'
finish
