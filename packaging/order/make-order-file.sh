#!/usr/bin/env bash
# Regenerate packaging/runnerd.order, the function order that packaging/build-release.sh links
# runnerd with. Run it after changes that rename or add much code; build-release.sh says when
# the file has drifted. Needs root for apt (valgrind) and takes a few minutes.
#
#   packaging/order/make-order-file.sh
#   KEEP_WORK=1 packaging/order/make-order-file.sh   # keep the profiles and link map (/tmp)
#
# It builds runnerd as the .deb does but without an order, runs that binary under valgrind's
# callgrind (start, idle and stop of packaging/order/profile.yaml; the demo; check, --help and
# --version; a config with errors), and lists the functions that ran, grouped by the first
# workload that ran them, limited to those the linker can move (select-functions.py says which).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
here=packaging/order

command -v valgrind >/dev/null || {
    apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >&2
}

work=$(mktemp -d /tmp/runnerd-order.XXXXXX)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT

binary=$(packaging/build-release.sh --scratch-path .build-order --no-order -- \
    -Xlinker --no-demangle -Xlinker -Map="$work/link.map" | tail -n 1)
# The valgrind of Debian 12 cannot read the DWARF 5 that swiftc writes; symbols are enough.
objcopy --strip-debug "$binary" "$work/runnerd"
cc -O2 -Wall -shared -fPIC -o "$work/clone-without-shared-files.so" "$here/clone-without-shared-files.c" -ldl

# Runs runnerd under callgrind; the process keeps the caller's pid (exec), so that a daemon run
# in the background can be signalled.
profile() {
    local name=$1; shift
    LD_PRELOAD=$work/clone-without-shared-files.so \
        exec valgrind --tool=callgrind --demangle=no --trace-children=no \
        --callgrind-out-file="$work/$name.callgrind" "$work/runnerd" "$@"
}

# Under systemd the daemon reports to a notify socket (READY=1, STATUS=...); the profiled daemons
# do too, so that the code of those reports is placed with the rest of their start.
notify=$work/notify.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    s.recv(65536)
' "$notify" &
listener=$!
trap 'kill $listener 2>/dev/null; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT

# A daemon: start, wait until each service has started, stay idle for $2 seconds (long enough
# for the worker pool to retire the threads the start added), then SIGTERM.
daemon() {
    local name=$1 idle=$2 config=$3 services
    services=$(grep -cE '^ {6}[A-Za-z0-9_.-]+:' "$config")
    (NOTIFY_SOCKET=$notify profile "$name" --config "$config" >"$work/$name.log" 2>&1) &
    local pid=$! deadline=$((SECONDS + 120))
    until [ "$(grep -c 'started (pid' "$work/$name.log")" -ge "$services" ]; do
        kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; echo "make-order-file: $config: runnerd exited early" >&2; exit 1; }
        [ $SECONDS -lt $deadline ] || { echo "make-order-file: $config: not started after 120 s" >&2; kill "$pid"; exit 1; }
        sleep 0.5
    done
    sleep "$idle"
    kill -TERM "$pid"
    wait "$pid" || true
}

echo "== profiling (a few minutes)" >&2
daemon start-idle-stop 8 "$here/profile.yaml"
daemon demo 8 examples/demo.yaml
(profile check check --config examples/demo.yaml) >/dev/null 2>&1
(profile help --help) >/dev/null 2>&1
(profile version --version) >/dev/null 2>&1
printf 'groups:\n  g:\n    services:\n      s: { command: [true], interrupt-timeout: 10 }\n      s: {}\n' >"$work/bad.yaml"
(profile bad check --config "$work/bad.yaml") >/dev/null 2>&1 || true

"$here/select-functions.py" "$work/link.map" packaging/runnerd.order \
    "$work"/{start-idle-stop,demo,check,help,version,bad}.callgrind
echo "== wrote packaging/runnerd.order ($(grep -c . packaging/runnerd.order) functions)" >&2
