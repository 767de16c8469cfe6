#!/usr/bin/env bash
# 10. An instance: runnerd@demo runs from /etc/runnerd/demo.yaml, next to runnerd.service and
# independent of it, with its own runtime directory and its own journal stream.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
reset_unit runnerd@demo
write_config demo <<YAML
# runnerd end-to-end suite: the instance's config
groups:
  solo:
    services:
      demoport:
        command: ["/usr/bin/python3", "$FIX/late-port.py", "18090", "1"]
        ready: { tcp: "127.0.0.1:18090" }
YAML
X systemctl start runnerd@demo; rc=$?
check "systemctl start runnerd@demo succeeds (rc $rc)" [ "$rc" = 0 ]
check "runnerd@demo is active" [ "$(prop runnerd@demo ActiveState)" = active ]
check "it runs /etc/runnerd/demo.yaml" grep -q -- '--config /etc/runnerd/demo.yaml' <<<"$(prop runnerd@demo ExecStart)"
check "its service runs in runnerd@demo.service" test -n "$(service_pid runnerd@demo "late-port.py 18090")"
check "its service is ready (port 18090 open)" \
    port_open 18090
check "its runtime directory /run/runnerd-demo exists" X test -d /run/runnerd-demo
has_log() { X journalctl --no-pager -u runnerd@demo -t demoport -o cat | grep -q 'late-port 18090: listening'; }
check "journalctl -u runnerd@demo -t demoport has its lines" wait_until 5 has_log
X systemctl stop runnerd@demo
check "runnerd@demo stops cleanly" [ "$(prop runnerd@demo ActiveState)/$(prop runnerd@demo Result)" = inactive/success ]
check "runnerd.service was not touched (PID $main, active)" \
    [ "$(prop runnerd MainPID)/$(prop runnerd ActiveState)" = "$main/active" ]
finish
