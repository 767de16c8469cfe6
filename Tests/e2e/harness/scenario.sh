# shellcheck shell=bash
# Helpers for the scenario scripts, which source this file. A scenario prints one line per check
# and exits 0 when all passed, 77 when it cannot apply, and 1 otherwise.
set -uo pipefail
E2E_HARNESS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$E2E_HARNESS/lib.sh"
e2e_load_state

# Where run.sh put the fixture programs inside the container.
FIX=/usr/local/lib/runnerd-e2e
e2e_failures=0

X() { e2e_in "$@"; }
prop() { X systemctl show -P "$2" "$1"; }          # prop UNIT PROPERTY
say() { echo "       $*"; }
pass() { echo "  ok   $*"; }
fail() { echo "  FAIL $*"; e2e_failures=$((e2e_failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { [ "$e2e_failures" = 0 ]; exit $?; }
skip() { echo "  skip $*"; exit 77; }

# wait_until SECONDS CMD...: poll CMD every 0.1s until it succeeds; fail after SECONDS.
wait_until() {
    local end=$(( $(e2e_now_ms) + $1 * 1000 )); shift
    while :; do
        "$@" && return 0
        [ "$(e2e_now_ms)" -lt "$end" ] || return 1
        sleep 0.1
    done
}
prop_matches() { [[ $(prop "$1" "$2") =~ $3 ]]; }
# wait_prop UNIT PROPERTY REGEX SECONDS
wait_prop() { wait_until "$4" prop_matches "$1" "$2" "$3"; }
# holds_for SECONDS CMD...: CMD stays true for the whole time (checked every 0.1s). For the
# things that must NOT happen, such as a restart; the time is the window in which it would.
holds_for() {
    local end=$(( $(e2e_now_ms) + $1 * 1000 )); shift
    while [ "$(e2e_now_ms)" -lt "$end" ]; do "$@" || return 1; sleep 0.1; done
}

# new_pid OLD NOW: NOW is a PID, and not OLD.
new_pid() { [ -n "$2" ] && [ "$2" != "$1" ]; }

# send_signal SIGNAL PID: kill -SIGNAL PID inside the container, for one real process only. An
# empty PID, 0 or 1 would signal a whole process group or init, the harness's own included.
send_signal() {
    [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -gt 1 ] || { echo "  (refusing to send SIG$1 to pid '$2')"; return 1; }
    X kill -s "$1" "$2"
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT inside the container.
port_open() {
    X python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null
}

# write_config NAME < yaml: install /etc/runnerd/NAME.yaml.
write_config() { e2e_put "/etc/runnerd/$1.yaml"; }

# reset_unit UNIT: stopped, no failed state, no test drop-ins, ready for a scenario.
reset_unit() {
    X systemctl stop "$1" 2>/dev/null
    # Drop-ins live in UNIT.service.d when the scenario names the unit without its suffix.
    X rm -rf "/run/systemd/system/$1.d" "/run/systemd/system/$1.service.d"
    X systemctl daemon-reload
    X systemctl reset-failed "$1" 2>/dev/null
    return 0
}

# A journal position, so that a scenario reads only what happened after it.
journal_cursor() { X journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'; }
# journal_since CURSOR UNIT [IDENTIFIER] [cat|json]: what `journalctl -u UNIT -t IDENTIFIER`
# shows after CURSOR: the messages (cat) or the whole entries, one JSON object a line.
journal_since() {
    X journalctl --no-pager --after-cursor="$1" -o json | python3 "$E2E_HARNESS/journal-filter.py" "$2" "${3:-}" "${4:-cat}"
}

# unit_pids UNIT: every PID in the unit's cgroup (and below it).
unit_pids() {
    local cg
    cg=$(prop "$1" ControlGroup)
    [ -n "$cg" ] || return 0
    X sh -c 'find "/sys/fs/cgroup$1" -name cgroup.procs -exec cat {} + 2>/dev/null' - "$cg" | sort -n
}
# pid_of UNIT PATTERN: the PIDs in UNIT whose command line contains PATTERN (space-separated).
pid_of() {
    local pid cmd
    for pid in $(unit_pids "$1"); do
        cmd=$(tr '\0' ' ' <"/proc/$E2E_LEADER/root/proc/$pid/cmdline" 2>/dev/null) || continue
        case $cmd in *"$2"*) echo "$pid" ;; esac
    done
}
# The PID of a service's main process, as the container sees it: the process whose command
# line names the fixture, and whose parent is runnerd.
service_pid() {
    local unit=$1 pattern=$2 main pid
    main=$(prop "$unit" MainPID)
    for pid in $(pid_of "$unit" "$pattern"); do
        [ "$(X ps -o ppid= -p "$pid" | tr -d ' ')" = "$main" ] && { echo "$pid"; return 0; }
    done
    return 1
}

# The config that most scenarios start from: two groups, three services. slowport opens its port
# 2s after it starts and has a tcp readiness probe; ticker runs as nobody; worker takes 1.5s to
# stop, which makes the daemon's stop visible.
base_config() {
    cat <<YAML
# runnerd end-to-end suite: the base config
defaults:
  interrupt-timeout: 5s
  group-interrupt-timeout: 8s
groups:
  web:
    restart: on-failure
    restart-delay: 500ms
    services:
      slowport:
        command: ["/usr/bin/python3", "$FIX/late-port.py", "18080", "2"]
        ready: { tcp: "127.0.0.1:18080" }
      ticker:
        command: ["/bin/sh", "$FIX/ticker.sh", "ticker"]
        user: nobody
  batch:
    restart: on-failure
    restart-delay: 500ms
    services:
      worker:
        command: ["/bin/sh", "$FIX/ticker.sh", "worker", "1.5"]
YAML
}

# start_base: runnerd.service running the base config, or the scenario fails here.
start_base() {
    reset_unit runnerd
    base_config | write_config runnerd
    if ! X systemctl start runnerd; then
        fail "systemctl start runnerd with the base config"
        X systemctl status --no-pager -n 20 runnerd | sed 's/^/       | /'
        finish
    fi
}
