#!/usr/bin/env bash
# 5. Reload: change only the batch group and reload. The daemon says RELOADING=1 (the unit goes
# `reloading`) and READY=1 once the changed group is ready again (`active`); batch restarts with
# the new config, web keeps its PIDs, and the daemon keeps its own.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
slowport=$(service_pid runnerd late-port.py)
ticker=$(service_pid runnerd "ticker.sh ticker")
worker=$(service_pid runnerd "ticker.sh worker")
web_untouched() {
    [ "$(service_pid runnerd "late-port.py 18080")" = "$slowport" ] &&
        [ "$(service_pid runnerd "ticker.sh ticker")" = "$ticker" ]
}

# 1. batch gets a second service whose port opens 2s late, so READY=1 must wait for it. SIGHUP
# goes straight to the daemon, without a reload job: only the daemon's own RELOADING=1 can put
# the unit in `reloading`. (With `systemctl reload`, systemd 252 shows `reloading` while the
# ExecReload= command runs, whatever the daemon says.)
{ base_config; cat <<YAML
      late:
        command: ["/usr/bin/python3", "$FIX/late-port.py", "18081", "2"]
        ready: { tcp: "127.0.0.1:18081" }
YAML
} | write_config runnerd
X systemctl kill --kill-who=main --signal=SIGHUP runnerd
t0=$(e2e_now_ms)
check "SIGHUP: RELOADING=1 puts the unit in reloading" wait_prop runnerd ActiveState '^reloading$' 5
check "READY=1 puts it back to active" wait_prop runnerd ActiveState '^active$' 20
dt=$(e2e_secs_since "$t0")
check "not before the changed group was ready: the port opens 2s after its start (took ${dt}s)" \
    awk -v t="$dt" 'BEGIN { exit !(t >= 1.8) }'
check "batch's new service is ready (port 18081 open)" port_open 18081
now=$(service_pid runnerd "ticker.sh worker")
check "batch's worker was restarted (PID $worker -> ${now:-none})" new_pid "$worker" "$now"
check "web's services keep their PIDs ($slowport, $ticker)" web_untouched
check "the daemon keeps PID $main, NRestarts=0" [ "$(prop runnerd MainPID)/$(prop runnerd NRestarts)" = "$main/0" ]
say "StatusText: $(prop runnerd StatusText)"

# 2. The operator's way, back to the base config: batch changes again (late goes away).
worker=$now
base_config | write_config runnerd
X systemctl reload runnerd; rc=$?
check "systemctl reload runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "the unit is active again" wait_prop runnerd ActiveState '^active$' 20
late_gone() { [ -z "$(service_pid runnerd "late-port.py 18081")" ]; }
check "batch's removed service is gone" wait_until 10 late_gone
worker_restarted() { new_pid "$worker" "$(service_pid runnerd "ticker.sh worker")"; }
check "batch's worker was restarted again" wait_until 10 worker_restarted
check "web's services still keep their PIDs" web_untouched
check "the daemon keeps PID $main, NRestarts=0" [ "$(prop runnerd MainPID)/$(prop runnerd NRestarts)" = "$main/0" ]
finish
