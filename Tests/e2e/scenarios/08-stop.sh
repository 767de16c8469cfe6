#!/usr/bin/env bash
# 8. Stop: the daemon says STOPPING=1 when it starts stopping, exits 0 once every service stopped
# within its limits, and leaves no process behind in the unit's cgroup.
. "$(dirname "$0")/../harness/scenario.sh"

# STOPPING=1 on its own: SIGTERM sent straight to the daemon, without a stop job. Only the
# daemon's STOPPING=1 can move the unit to deactivating (worker takes 1.5s to stop).
start_base
cursor=$(journal_cursor)
X systemctl kill --kill-who=main --signal=SIGTERM runnerd
check "SIGTERM without a stop job: STOPPING=1 moves the unit to deactivating" \
    wait_prop runnerd ActiveState '^deactivating$' 5
say "StatusText while stopping: $(prop runnerd StatusText)"
check "then inactive" wait_prop runnerd ActiveState '^inactive$' 20
check "Result=success, exit status 0 (not restarted: NRestarts=0)" \
    [ "$(prop runnerd Result)/$(prop runnerd ExecMainStatus)/$(prop runnerd NRestarts)" = success/0/0 ]

# systemctl stop: clean exit, nothing left for systemd's final SIGKILL.
start_base
cg=$(prop runnerd ControlGroup)
cursor=$(journal_cursor)
X systemctl stop --no-block runnerd
check "systemctl stop: deactivating" wait_prop runnerd ActiveState '^deactivating$' 5
check "systemctl stop: inactive" wait_prop runnerd ActiveState '^inactive$' 25
check "Result=success, ExecMainStatus=0" \
    [ "$(prop runnerd Result)/$(prop runnerd ExecMainStatus)" = success/0 ]
j=$(journal_since "$cursor" runnerd)
check "systemd had no process left to kill in the unit's cgroup" \
    test -z "$(grep -E 'Killing process|left-over process|remains running' <<<"$j")"
check "the unit's cgroup $cg is gone" X test ! -e "/sys/fs/cgroup$cg"
check "no fixture process is left anywhere in the container" \
    test -z "$(X pgrep -af "$FIX/" | grep -v pgrep)"
check "worker got its stop signal and said bye" grep -q 'worker: bye' <<<"$j"
echo "$j" | tail -n 12 | sed 's/^/       | /'
finish
