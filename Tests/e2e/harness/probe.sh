#!/usr/bin/env bash
# Can this machine run a systemd-nspawn container at all? Runs /bin/true in a throw-away
# container of the cached rootfs (no --boot), in a sub-cgroup of our own, and exits with its
# status. run.sh asks this after a failed boot, to tell "this machine cannot" (the suite is
# skipped) from "the harness or the rootfs is broken" (the suite fails).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

E2E_CGROUP=$E2E_CGROUP-probe
name=$E2E_NAME-probe
[ -d /run/systemd/nspawn ] && nspawn_dir_existed=1 || nspawn_dir_existed=0
cgdirs=$(e2e_cgroup_dirs)
for d in $cgdirs; do mkdir -p "$d" || exit 1; done
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
timeout 30 bash -c '
    cgdirs=$1; shift
    for d in $cgdirs; do echo $$ >"$d/cgroup.procs"; done
    exec systemd-nspawn "$@"' e2e-probe "$cgdirs" \
    --quiet --directory="$E2E_ROOTFS" --machine="$name" --register=no --keep-unit --private-network \
    --volatile=overlay --link-journal=no --console=pipe /bin/true </dev/null \
    2> >(grep -v 'Attempted to remove disk file system' >&2)   # /run on disk: we clean up below
rc=$?
for d in $cgdirs; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
rm -rf "/run/systemd/nspawn/propagate/$name" 2>/dev/null
if [ "$nspawn_dir_existed" = 0 ]; then
    rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate \
          /run/systemd/nspawn/unix-export /run/systemd/nspawn 2>/dev/null
fi
exit "$rc"
