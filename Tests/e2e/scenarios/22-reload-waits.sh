#!/usr/bin/env bash
# 22. `systemctl reload` returns only once the new config runs: the reload adds a service to
# batch whose port opens 2s after it starts, so the reload job (ExecReload= is `runnerd reload`)
# must take about 2s, and the port is open the moment it returns.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
{ base_config; cat <<YAML
      late:
        command: ["/usr/bin/python3", "$FIX/late-port.py", "18082", "2"]
        ready: { tcp: "127.0.0.1:18082" }
YAML
} | write_config runnerd
t0=$(e2e_now_ms)
X systemctl reload runnerd; rc=$?
dt=$(e2e_secs_since "$t0")
check "systemctl reload succeeds (rc $rc)" [ "$rc" = 0 ]
check "it took the 2s the new service needs to be ready (took ${dt}s)" awk -v t="$dt" 'BEGIN { exit !(t >= 1.8) }'
check "the new service's port is open as it returns" port_open 18082
check "the unit is active" wait_prop runnerd ActiveState '^active$' 5
finish
