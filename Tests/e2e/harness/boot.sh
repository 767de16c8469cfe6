#!/usr/bin/env bash
# Boot the cached rootfs as a container whose PID 1 is systemd, in the background, and wait until
# `systemctl is-system-running` inside says running (or degraded).
#   boot.sh [extra systemd-nspawn args]      e.g. boot.sh --bind-ro=/tmp/x:/e2e
# The rootfs is mounted read-only under a tmpfs overlay (--volatile=overlay), so every boot starts
# from the same pristine tree and nothing a test does reaches the cache.
# --register=no --keep-unit: no machined and no D-Bus are needed on the host, which is what lets
# this work where the host's PID 1 is not systemd.
# Exit status: 0 up; 1 it did not come up (see the console log printed on the way out).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || e2e_die "must run as root"
[ -x "$E2E_ROOTFS/usr/lib/systemd/systemd" ] || e2e_die "no rootfs at $E2E_ROOTFS; run rootfs.sh first"
if [ -e "$E2E_STATE/env" ]; then
    e2e_die "a container is already recorded in $E2E_STATE; run teardown.sh first"
fi
mkdir -p "$E2E_STATE"
# nspawn creates /run/systemd/nspawn on the host; teardown removes it again if we caused it.
if [ -d /run/systemd/nspawn ]; then nspawn_dir_existed=1; else nspawn_dir_existed=0; fi

cgdirs=$(e2e_cgroup_dirs)
[ -n "$cgdirs" ] || e2e_die "no usable cgroup hierarchy under /sys/fs/cgroup"
for d in $cgdirs; do mkdir -p "$d"; done

# Record what teardown needs before anything can go wrong.
cat >"$E2E_STATE/env" <<STATE
E2E_CGDIRS="$(echo $cgdirs)"
E2E_NSPAWN_DIR_EXISTED=$nspawn_dir_existed
STATE

args=(--directory="$E2E_ROOTFS" --machine="$E2E_NAME" --hostname="$E2E_NAME"
      --boot --register=no --keep-unit --private-network --volatile=overlay
      --link-journal=no --console=pipe "$@")
# A pure cgroup v2 tree inside, even on a hybrid host: runnerd is tested the way it runs on
# current distributions, and systemd 252 does not mark itself tainted.
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1

t0=$(e2e_now_ms)
# The launcher joins our sub-cgroups, records its own PID and then becomes systemd-nspawn, so the
# recorded PID is nspawn's. setsid keeps the caller's Ctrl-C away from it: teardown stops it.
setsid bash -c '
    pidfile=$1 cgdirs=$2; shift 2
    for d in $cgdirs; do echo $$ >"$d/cgroup.procs"; done
    echo $$ >"$pidfile"
    exec systemd-nspawn "$@"' e2e-launch "$E2E_STATE/nspawn.pid" "$cgdirs" "${args[@]}" \
    </dev/null >"$E2E_STATE/console.log" 2>&1 &

nspawn_pid=
for _ in $(seq 100); do
    [ -s "$E2E_STATE/nspawn.pid" ] && { nspawn_pid=$(cat "$E2E_STATE/nspawn.pid"); break; }
    sleep 0.05
done
[ -n "$nspawn_pid" ] || e2e_die "systemd-nspawn did not start; see $E2E_STATE/console.log"
echo "E2E_NSPAWN_PID=$nspawn_pid" >>"$E2E_STATE/env"

fail() {
    echo "---- tail of $E2E_STATE/console.log ----" >&2
    tail -n 40 "$E2E_STATE/console.log" >&2
    e2e_die "$*"
}

# The container's init is the child of nspawn that is PID 1 in its own namespace.
leader=
deadline=$(( $(date +%s) + E2E_BOOT_TIMEOUT ))
while [ -z "$leader" ]; do
    kill -0 "$nspawn_pid" 2>/dev/null || fail "systemd-nspawn exited while starting"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no container init after ${E2E_BOOT_TIMEOUT}s"
    for c in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
        if awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$c/status" 2>/dev/null &&
           [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then
            leader=$c
        fi
    done
    [ -n "$leader" ] || sleep 0.05
done
echo "E2E_LEADER=$leader" >>"$E2E_STATE/env"
# shellcheck disable=SC2034  # e2e_in (lib.sh) reads it
E2E_LEADER=$leader

state=
while :; do
    kill -0 "$nspawn_pid" 2>/dev/null || fail "the container died while booting"
    state=$(e2e_in systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    [ "$(date +%s)" -lt "$deadline" ] || fail "not booted after ${E2E_BOOT_TIMEOUT}s (state: ${state:-no answer})"
    sleep 0.1
done
e2e_log "container $E2E_NAME up in $(e2e_secs_since "$t0")s: nspawn $nspawn_pid, init $leader, $state"
if [ "$state" = degraded ]; then
    e2e_in systemctl --failed --no-pager --no-legend >&2 || true
fi
