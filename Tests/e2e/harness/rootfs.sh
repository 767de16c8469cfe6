#!/usr/bin/env bash
# Make sure a bootable Debian rootfs for the suite is in $E2E_CACHE/rootfs, building it only when
# it is missing or was made by a different recipe (its .e2e-stamp differs):
#   1. install the host tools that are missing (debootstrap, systemd-nspawn, zstd, nsenter);
#   2. unpack $E2E_CACHE/rootfs.tar.zst when its stamp matches, otherwise debootstrap a minbase
#      rootfs and write that tarball, so that a wiped rootfs comes back in seconds.
# Exit status: 0 ready; 2 the host cannot get the tools (the caller skips); 1 anything else.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || e2e_die "must run as root"
t0=$(e2e_now_ms)

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v zstd >/dev/null || need+=(zstd)
command -v nsenter >/dev/null || need+=(util-linux)
mkdir -p "$E2E_CACHE"
if [ ${#need[@]} -gt 0 ]; then
    e2e_log "installing host packages: ${need[*]}"
    # --no-install-recommends keeps libnss-mymachines out: it would edit the host's nsswitch.conf.
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -q --no-install-recommends "${need[@]}"; } >"$E2E_CACHE/apt.log" 2>&1; then
        tail -n 20 "$E2E_CACHE/apt.log" >&2
        echo "e2e: could not install ${need[*]}" >&2
        exit 2
    fi
    rm -f "$E2E_CACHE/apt.log"
fi

stamp_of() { cat "$1" 2>/dev/null || true; }

if [ -x "$E2E_ROOTFS/usr/lib/systemd/systemd" ] && [ "$(stamp_of "$E2E_ROOTFS/.e2e-stamp")" = "$E2E_STAMP" ]; then
    e2e_log "rootfs is cached at $E2E_ROOTFS ($(e2e_secs_since "$t0")s)"
    exit 0
fi

mkdir -p "$E2E_CACHE"
rm -rf "$E2E_ROOTFS" "$E2E_ROOTFS.new"

if [ -s "$E2E_TARBALL" ] && [ "$(stamp_of "$E2E_TARBALL.stamp")" = "$E2E_STAMP" ]; then
    e2e_log "unpacking $E2E_TARBALL"
    mkdir -p "$E2E_ROOTFS.new"
    tar --zstd -xpf "$E2E_TARBALL" --numeric-owner --xattrs --xattrs-include='*' --acls -C "$E2E_ROOTFS.new"
    mv "$E2E_ROOTFS.new" "$E2E_ROOTFS"
    e2e_log "rootfs restored in $(e2e_secs_since "$t0")s"
    exit 0
fi

mirror=$E2E_MIRROR
if [ -z "$mirror" ]; then
    # The first Debian archive in apt's own sources, in the one-line or the deb822 format.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
             grep -v '^[[:space:]]*#' | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
             head -n 1 | tr -d '[:space:]' || true)
    [ -n "$mirror" ] || e2e_die "no Debian archive found in apt's sources; set E2E_MIRROR"
fi

r=$E2E_ROOTFS.new
e2e_log "debootstrap --variant=minbase --include=$E2E_PACKAGES $E2E_SUITE ($mirror)"
if ! debootstrap --variant=minbase --include="$E2E_PACKAGES" "$E2E_SUITE" "$r" "$mirror" \
        >"$E2E_CACHE/debootstrap.log" 2>&1; then
    tail -n 30 "$E2E_CACHE/debootstrap.log" >&2
    e2e_die "debootstrap failed; the whole log is $E2E_CACHE/debootstrap.log"
fi

echo "$E2E_NAME" >"$r/etc/hostname"
# debootstrap copies some host state in; the container gets its own identity and an empty journal.
systemd-id128 new >"$r/etc/machine-id"
rm -rf "$r"/var/log/journal/*
# Timers and units that only add noise and load to a container that lives for a minute.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
            fstrim.timer e2scrub_reap.service systemd-pstore.service getty@tty1.service \
            console-getty.service; do
    ln -sfn /dev/null "$r/etc/systemd/system/$unit"
done
# The container has no network (--private-network): package lists and .debs are dead weight.
rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
echo "$E2E_STAMP" >"$r/.e2e-stamp"

e2e_log "writing $E2E_TARBALL"
tar --zstd -cpf "$E2E_TARBALL.tmp" --numeric-owner --xattrs --xattrs-include='*' --acls -C "$r" .
mv "$E2E_TARBALL.tmp" "$E2E_TARBALL"
echo "$E2E_STAMP" >"$E2E_TARBALL.stamp"
mv "$r" "$E2E_ROOTFS"
e2e_log "rootfs built in $(e2e_secs_since "$t0")s: $E2E_ROOTFS ($(du -sh "$E2E_ROOTFS" | cut -f1))"
