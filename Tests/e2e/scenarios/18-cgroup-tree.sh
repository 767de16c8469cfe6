#!/usr/bin/env bash
# 18. One cgroup per service (Delegate=yes): runnerd moves itself into runnerd.service/.supervisor
# and spawns each service straight into runnerd.service/GROUP/SERVICE, so `systemd-cgls` shows the
# tree by the services' names. A group's restart replaces its services' cgroups, and a stop
# leaves nothing behind.
. "$(dirname "$0")/../harness/scenario.sh"
# Scenario 16 removes the package: put it back when 16 ran before this one.
X dpkg -s runnerd >/dev/null 2>&1 || X dpkg -i /e2e/runnerd.deb >/dev/null || { fail "reinstall runnerd"; finish; }

cursor=$(journal_cursor)
start_base
cg=$(prop runnerd ControlGroup)
root=/sys/fs/cgroup$cg
main=$(prop runnerd MainPID)
check "the unit delegates its cgroup (Delegate=yes)" [ "$(prop runnerd Delegate)" = yes ]
check "runnerd says it runs one cgroup per service" \
    grep -q "one cgroup per service under $cg" <<<"$(journal_since "$cursor" runnerd runnerd)"
check "runnerd itself is in $cg/.supervisor" X grep -qx "0::$cg/.supervisor" "/proc/$main/cgroup"
in_cgroup() { # PID CGROUP
    X grep -qx "0::$2" "/proc/$1/cgroup"
}
slowport=$(service_pid runnerd late-port.py)
ticker=$(service_pid runnerd "ticker.sh ticker")
worker=$(service_pid runnerd "ticker.sh worker")
check "slowport (pid $slowport) is in $cg/web/slowport" in_cgroup "$slowport" "$cg/web/slowport"
check "ticker (pid $ticker) is in $cg/web/ticker" in_cgroup "$ticker" "$cg/web/ticker"
check "worker (pid $worker) is in $cg/batch/worker" in_cgroup "$worker" "$cg/batch/worker"
# ticker.sh's own child (its `sleep`) was never spawned by runnerd: the cgroup holds it anyway.
sleeper=$(X ps -o pid= --ppid "$ticker" | tr -d ' ' | head -n 1)
check "ticker's child (pid $sleeper) is in ticker's cgroup too" in_cgroup "$sleeper" "$cg/web/ticker"
cgls=$(X systemd-cgls --no-pager -u runnerd.service)
echo "$cgls" | sed 's/^/       | /'
for name in .supervisor web slowport ticker batch worker; do
    check "systemd-cgls shows $name" grep -Eq -- "─$name( \(#[0-9]+\))?\$" <<<"$cgls"
done
status=$(X systemctl status --no-pager runnerd)
check "systemctl status shows the tree by service name too" grep -q 'web/ticker\|─ticker' <<<"$status"
check "cpu.stat of web/ticker counts its CPU time (usage_usec)" X grep -q '^usage_usec ' "$root/web/ticker/cpu.stat"
if X grep -qw memory "$root/cgroup.controllers"; then
    check "memory.current of web/ticker is there for runnerd status" X test -s "$root/web/ticker/memory.current"
else
    say "(no memory controller here: $(X cat "$root/cgroup.controllers"); memory.current not checked)"
fi

# A member's crash restarts the group: new processes in the same-named cgroups, and the old run's
# processes are gone from them.
cursor=$(journal_cursor)
send_signal KILL "$worker"
worker_restarted() { new_pid "$worker" "$(service_pid runnerd "ticker.sh worker")"; }
check "worker restarts in a fresh run of batch/worker" wait_until 15 worker_restarted
worker2=$(service_pid runnerd "ticker.sh worker")
check "the new worker (pid $worker2) is in $cg/batch/worker" in_cgroup "$worker2" "$cg/batch/worker"
# Only the new run's processes: the new worker and its children (its `sleep`).
strangers() {
    local pid
    for pid in $(X cat "$root/batch/worker/cgroup.procs"); do
        [ "$pid" = "$worker2" ] || [ "$(X ps -o ppid= -p "$pid" | tr -d ' ')" = "$worker2" ] || echo "$pid"
    done
}
check "batch/worker holds only the new run's processes" test -z "$(strangers)"

# The stop: every service's cgroup is emptied and removed by runnerd itself, then systemd removes
# the unit's cgroup with nothing left to kill.
cursor=$(journal_cursor)
X systemctl stop runnerd
check "stopped cleanly (Result=success, ExecMainStatus=0)" \
    [ "$(prop runnerd Result)/$(prop runnerd ExecMainStatus)" = success/0 ]
j=$(journal_since "$cursor" runnerd)
check "systemd had no process left to kill" test -z "$(grep -E 'Killing process|left-over process|remains running' <<<"$j")"
check "the unit's cgroup $cg is gone" X test ! -e "$root"
finish
