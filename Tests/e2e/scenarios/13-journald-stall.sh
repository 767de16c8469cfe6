#!/usr/bin/env bash
# 13. journald stalls: SIGSTOP systemd-journald for 10 s while one group crashes every second and
# another floods its output. Supervision must not wait on journald: the crashing group keeps being
# restarted on time, the watchdog (3 s, by a drop-in) stays fed because supervision really runs,
# and `systemctl stop` during the stall finishes within its limits with a clean exit.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
printf '[Service]\nWatchdogSec=3s\n' | e2e_put /run/systemd/system/runnerd.service.d/e2e-stall.conf
X systemctl daemon-reload
X rm -f /run/e2e-crash-starts
write_config runnerd <<'YAML'
groups:
  crash:
    restart: always
    restart-delay: 200ms
    restart-delay-max: 200ms
    max-restarts: 1000
    services:
      crasher:
        command: [sh, -c, "date +%s.%N >> /run/e2e-crash-starts; echo crashing; sleep 1; exit 1"]
  chatty:
    services:
      flood:
        command: [sh, -c, "while :; do echo 'a line of output that keeps journald busy'; done"]
YAML
X systemctl start runnerd || { fail "systemctl start runnerd"; finish; }
wait_prop runnerd ActiveState '^active$' 20
restarts=$(prop runnerd NRestarts)
journald=$(X systemctl show -P MainPID systemd-journald)
starts() { X sh -c 'wc -l < /run/e2e-crash-starts' 2>/dev/null || echo 0; }

send_signal STOP "$journald" || { fail "SIGSTOP journald (MainPID '$journald')"; finish; }
say "journald ($journald) stopped"
before=$(starts)
sleep 8
during=$(starts)
say "crasher starts during 8 s of stall: $((during - before))"
# One run takes 1 s plus 0.2 s of back-off: about 6 in 8 s. On time means at least 5.
check "the crashing group keeps restarting while journald is stopped ($((during - before)) starts in 8 s)" \
    [ $((during - before)) -ge 5 ]
fed() { [ "$(prop runnerd ActiveState)" = active ] && [ "$(prop runnerd NRestarts)" = "$restarts" ]; }
check "the watchdog stays fed: still active, not restarted (NRestarts $restarts)" fed
started=$(e2e_now_ms)
X timeout 25 systemctl stop runnerd
took=$(( $(e2e_now_ms) - started ))
say "systemctl stop took ${took} ms with journald stopped"
check "systemctl stop finishes within its limits (${took} ms < 15000)" [ "$took" -lt 15000 ]
clean() { [ "$(prop runnerd ExecMainStatus)" = 0 ] && [ "$(prop runnerd Result)" = success ]; }
check "the daemon exited cleanly (ExecMainStatus=0, Result=success)" clean
send_signal CONT "$journald"
say "journald continued"
X rm -f /run/e2e-crash-starts
reset_unit runnerd
finish
