#!/usr/bin/env bash
# 1. Start: `systemctl start runnerd` returns only once every service is ready. slowport opens
# its port 2s after it starts, so the start takes about 2s, and the port is open when it returns.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
base_config | write_config runnerd
t0=$(e2e_now_ms)
X systemctl start runnerd; rc=$?
dt=$(e2e_secs_since "$t0")
check "systemctl start runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "the start took about 2s, waiting for slowport's port (took ${dt}s)" \
    awk -v t="$dt" 'BEGIN { exit !(t >= 1.8 && t < 10) }'
check "port 18080 is open as soon as the start returned" \
    port_open 18080
check "ActiveState=active, SubState=running" \
    [ "$(prop runnerd ActiveState)/$(prop runnerd SubState)" = active/running ]
for s in late-port.py "ticker.sh ticker" "ticker.sh worker"; do
    check "service '$s' runs in runnerd.service's cgroup" test -n "$(service_pid runnerd "$s")"
done
ticker=$(service_pid runnerd "ticker.sh ticker")
check "ticker runs as nobody (user: nobody)" [ "$(X ps -o user= -p "${ticker:-0}" | tr -d ' ')" = nobody ]
[ "$rc" = 0 ] || X systemctl status --no-pager -n 30 runnerd | sed 's/^/       | /'
finish
