#!/usr/bin/env bash
# 5. Reload: change only the batch group and `systemctl reload`. The unit goes `reloading`
# (RELOADING=1) and back to `active` (READY=1); batch restarts with the new config, web keeps
# its PIDs, and the daemon keeps its own.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
slowport=$(service_pid runnerd late-port.py)
ticker=$(service_pid runnerd "ticker.sh ticker")
worker=$(service_pid runnerd "ticker.sh worker")

# batch gets a second service whose port opens 2s late: READY=1 after the reload has to wait for
# it, which keeps the unit in `reloading` long enough to be seen.
{ base_config; cat <<YAML
      late:
        command: ["/usr/bin/python3", "$FIX/late-port.py", "18081", "2"]
        ready: { tcp: "127.0.0.1:18081" }
YAML
} | write_config runnerd
X systemctl reload runnerd; rc=$?
check "systemctl reload runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "the unit goes reloading (RELOADING=1)" wait_prop runnerd ActiveState '^reloading$' 5
check "then active again (READY=1)" wait_prop runnerd ActiveState '^active$' 20
check "batch's new service runs" test -n "$(service_pid runnerd "late-port.py 18081")"
check "batch's new service is ready (port 18081 open)" \
    port_open 18081
now=$(service_pid runnerd "ticker.sh worker")
check "batch's worker was restarted (PID $worker -> ${now:-none})" new_pid "$worker" "$now"
check "web's slowport keeps PID $slowport" [ "$(service_pid runnerd "late-port.py 18080")" = "$slowport" ]
check "web's ticker keeps PID $ticker" [ "$(service_pid runnerd "ticker.sh ticker")" = "$ticker" ]
check "the daemon keeps PID $main, NRestarts=0" [ "$(prop runnerd MainPID)/$(prop runnerd NRestarts)" = "$main/0" ]
say "StatusText: $(prop runnerd StatusText)"
finish
