#!/usr/bin/env bash
# 6. A broken reload: reload with an invalid config. `systemctl reload` fails (ExecReload= is
# `runnerd reload`, which waits for the daemon's answer), the unit stays active, the old config
# keeps running untouched, and the status shows the error.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
service_pids() {
    echo "$(service_pid runnerd late-port.py) $(service_pid runnerd "ticker.sh ticker") $(service_pid runnerd "ticker.sh worker")"
}
pids=$(service_pids)
cursor=$(journal_cursor)
{ base_config; echo "  broken: { restart: sometimes, services: { x: { command: [] } } }"; } | write_config runnerd
X systemctl reload runnerd; rc=$?
check "systemctl reload fails (rc $rc)" [ "$rc" != 0 ]
reload_said_where() { journal_since "$cursor" runnerd | grep -q 'the config is invalid; the running config stays'; }
check "runnerd reload (ExecReload=) logged why" wait_until 5 reload_said_where
status_has_error() { prop_matches runnerd StatusText 'runnerd\.yaml|[Ee]rror|[Ii]nvalid'; }
check "the status shows the config error" wait_until 10 status_has_error
say "StatusText: $(prop runnerd StatusText)"
check "the unit is active" wait_prop runnerd ActiveState '^active$' 10
check "the daemon keeps PID $main, NRestarts=0" [ "$(prop runnerd MainPID)/$(prop runnerd NRestarts)" = "$main/0" ]
check "every service of the old config keeps its PID ($pids)" [ "$(service_pids)" = "$pids" ]
logged_location() { journal_since "$cursor" runnerd | grep -qE 'runnerd\.yaml:[0-9]+:[0-9]+'; }
check "the daemon logged the error as runnerd.yaml:LINE:COLUMN" wait_until 5 logged_location
finish
