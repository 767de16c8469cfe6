#!/usr/bin/env bash
# 19. The escapee (fault matrix): a service's child double-forks, clears its environment (so no
# RUNNERD_SERVICE marks it), calls setsid and ignores SIGTERM. Without cgroups only the unit's
# cgroup caught it, once runnerd had exited. In its service's cgroup, runnerd finds it when the
# service stops, sends it the stop signal, and after the service's interrupt-timeout kills it with
# cgroup.kill, before the daemon exits: systemd finds nothing left to kill.
. "$(dirname "$0")/../harness/scenario.sh"
# Scenario 16 removes the package: put it back when 16 ran before this one.
X dpkg -s runnerd >/dev/null 2>&1 || X dpkg -i /e2e/runnerd.deb >/dev/null || { fail "reinstall runnerd"; finish; }

reset_unit runnerd
cursor=$(journal_cursor)
write_config runnerd <<YAML
groups:
  esc:
    services:
      leaver:
        # The escapee: a subshell's child in a session of its own, with an empty environment,
        # ignoring SIGTERM (so does its sleep, which inherits the ignored disposition).
        command: ["/bin/sh", "-c", "(env -i /usr/bin/setsid /bin/sh -c 'trap \"\" TERM; echo escaped; while :; do sleep 1; done' &); exec sleep 1000"]
        interrupt-timeout: 2s
YAML
X systemctl start runnerd || { fail "systemctl start runnerd"; finish; }
cg=$(prop runnerd ControlGroup)
escapee=
find_escapee() {
    escapee=$(X pgrep -f "trap \"\" TERM" | head -n 1)
    [ -n "$escapee" ]
}
check "the escapee runs" wait_until 10 find_escapee
# Once it says so, it ignores SIGTERM.
escaped() { journal_since "$cursor" runnerd leaver | grep -qx escaped; }
check "it has set its SIGTERM aside" wait_until 10 escaped
main=$(service_pid runnerd "sleep 1000")
check "it left its service's session (sid $(X ps -o sid= -p "$escapee" | tr -d ' ') vs $main)" \
    [ "$(X ps -o sid= -p "$escapee" | tr -d ' ')" != "$(X ps -o sid= -p "$main" | tr -d ' ')" ]
check "its environment is empty (no RUNNERD_SERVICE)" X test ! -s "/proc/$escapee/environ"
check "yet it is in its service's cgroup $cg/esc/leaver" X grep -qx "0::$cg/esc/leaver" "/proc/$escapee/cgroup"

cursor=$(journal_cursor)
X systemctl stop runnerd
j=$(journal_since "$cursor" runnerd)
echo "$j" | tail -n 8 | sed 's/^/       | /'
check "runnerd found it in the cgroup and sent it SIGTERM" \
    grep -Eq "service leaver left [0-9]+ process(es)? outside its process group \(pids? [^)]*\b$escapee\b[^)]*\); sending (it|them) SIGTERM" <<<"$j"
check "and killed it after interrupt-timeout 2s" grep -q "service leaver did not stop within 2s" <<<"$j"
check "the escapee is gone" X test ! -e "/proc/$escapee"
check "systemd had no process left to kill" test -z "$(grep -E 'Killing process|left-over process|remains running' <<<"$j")"
check "runnerd exited 1: a service had to be killed during the stop" [ "$(prop runnerd ExecMainStatus)" = 1 ]
X systemctl reset-failed runnerd 2>/dev/null
finish
