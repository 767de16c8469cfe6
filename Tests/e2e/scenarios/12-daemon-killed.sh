#!/usr/bin/env bash
# 12. The daemon itself gets SIGKILL (fault-matrix case 9 under systemd). runnerd cannot stop
# anything then: its direct children die with it (PR_SET_PDEATHSIG), and what they left behind
# (ticker.sh's `sleep`, a grandchild) is the unit's cgroup's to clean up. Nothing from before may
# survive, and Restart=on-failure brings everything back under a new daemon.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
restarts=$(prop runnerd NRestarts)
before=$(unit_pids runnerd | tr '\n' ' ')
ticker=$(service_pid runnerd "ticker.sh ticker")
grandchildren=$(X ps -o pid= --ppid "$ticker" | tr -d ' ' | tr '\n' ' ')
say "before: daemon $main; the unit's processes: $before; ticker.sh's children: $grandchildren"
[ -n "$grandchildren" ] || { fail "ticker.sh has a child (its sleep) to leave behind"; finish; }

cursor=$(journal_cursor)
send_signal KILL "$main"

restarted() { [ "$(prop runnerd NRestarts)" = $((restarts + 1)) ] && [ "$(prop runnerd ActiveState)" = active ]; }
check "systemd restarts the unit (NRestarts $restarts -> $((restarts + 1))) and it is active again" \
    wait_until 40 restarted
# A pid of before that still exists belongs to a new process only if it is in the new daemon's
# tree; the container's pids are not reused within seconds, so any survivor is an old process.
survivors() {
    local pid left=""
    for pid in $before; do X test -e "/proc/$pid" && left="$left $pid"; done
    echo "$left"
}
left=$(survivors)
check "no process of before survives (daemon, services, grandchildren)" test -z "$left"
[ -z "$left" ] || X ps -o pid,ppid,cmd -p "${left// /,}" | sed 's/^/       | /'
check "the services run again, under the new daemon $(prop runnerd MainPID)" \
    wait_until 20 new_pid "$ticker" "$(service_pid runnerd "ticker.sh ticker")"
j=$(journal_since "$cursor" runnerd systemd)
check "systemd saw the daemon killed by SIGKILL" grep -q 'code=killed, status=9/KILL' <<<"$j"
say "systemd's log of it:"
head -8 <<<"$j" | sed 's/^/       | /'
finish
