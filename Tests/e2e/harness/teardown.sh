#!/usr/bin/env bash
# Stop the container that boot.sh started and remove everything it left on the host: its
# processes (only those in our own sub-cgroups), the sub-cgroups and the state files.
# Safe to run at any time, any number of times. --purge also deletes the rootfs cache.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
[ "$(id -u)" = 0 ] || e2e_die "must run as root"

gone_within() { # PID TENTHS: wait until PID is gone, at most TENTHS tenths of a second
    local pid=$1 n=$2
    while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
    ! kill -0 "$pid" 2>/dev/null
}

E2E_NSPAWN_PID='' E2E_CGDIRS='' E2E_NSPAWN_DIR_EXISTED=1
if [ -r "$E2E_STATE/env" ]; then
    # shellcheck disable=SC1091
    . "$E2E_STATE/env"
fi
[ -n "$E2E_CGDIRS" ] || E2E_CGDIRS=$(e2e_cgroup_dirs)

# Signal the PID only while it still is our nspawn, never a recycled PID.
if [ -n "$E2E_NSPAWN_PID" ] && [ "$(cat "/proc/$E2E_NSPAWN_PID/comm" 2>/dev/null)" = systemd-nspawn ]; then
    t0=$(e2e_now_ms)
    kill -TERM "$E2E_NSPAWN_PID"            # the first SIGTERM powers the container off cleanly
    if ! gone_within "$E2E_NSPAWN_PID" 200; then
        echo "e2e: the container did not power off within 20s; killing it" >&2
        kill -TERM "$E2E_NSPAWN_PID"        # a second one makes nspawn kill the container
        gone_within "$E2E_NSPAWN_PID" 50 || kill -KILL "$E2E_NSPAWN_PID" 2>/dev/null
    fi
    e2e_log "container $E2E_NAME stopped in $(e2e_secs_since "$t0")s"
fi

# Whatever is still in our sub-cgroups was started by this harness: kill it, then remove them.
for top in $E2E_CGDIRS; do
    [ -d "$top" ] || continue
    for _ in 1 2 3 4 5; do
        pids=$(find "$top" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
        [ -z "$pids" ] && break
        echo "e2e: killing leftover processes in $top: $(echo $pids)" >&2
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        sleep 0.2
    done
    find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$top" ] && echo "e2e: warning: could not remove $top" >&2
done

rm -rf "/run/systemd/nspawn/propagate/$E2E_NAME" "/run/systemd/nspawn/unix-export/$E2E_NAME"
if [ "$E2E_NSPAWN_DIR_EXISTED" = 0 ]; then
    rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate \
          /run/systemd/nspawn/unix-export /run/systemd/nspawn 2>/dev/null
fi
rm -rf "$E2E_STATE"

if [ "${1:-}" = --purge ]; then
    rm -rf "$E2E_CACHE"
    e2e_log "removed $E2E_CACHE"
fi
exit 0
