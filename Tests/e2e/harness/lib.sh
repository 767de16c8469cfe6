# shellcheck shell=bash
# shellcheck disable=SC2034  # the settings are used by the scripts that source this file
# Settings and helpers shared by the runnerd end-to-end harness. Sourced, never run.
#
# The harness boots a throw-away Debian 12 container whose PID 1 is a real systemd 252, so that
# the suite can install runnerd's .deb, drive it with systemctl and read journalctl, even on a
# host whose own PID 1 is not systemd. Every setting can be overridden from the environment.

: "${E2E_CACHE:=/var/cache/runnerd-e2e}"         # rootfs and its tarball survive between runs here
: "${E2E_SUITE:=bookworm}"
: "${E2E_MIRROR:=}"                              # empty: the Debian archive apt is configured with
# systemd-sysv gives the container an /sbin/init; dbus lets units that want the system bus start;
# procps has ps and kill for the scenarios; python3 runs the demo-like fixture services.
: "${E2E_PACKAGES:=systemd,systemd-sysv,dbus,procps,python3}"
: "${E2E_NAME:=runnerd-e2e}"                     # machine name and hostname inside
# Both follow E2E_NAME, so that runs under different names (engineers sharing a machine) never
# read, tear down or kill each other's container; the defaults are what they always were.
: "${E2E_STATE:=/run/$E2E_NAME}"                 # pids and the console log of the running container
: "${E2E_CGROUP:=$E2E_NAME}"                     # our own sub-cgroup in each host hierarchy
: "${E2E_BOOT_TIMEOUT:=60}"                      # seconds until systemd inside must be up

E2E_ROOTFS=$E2E_CACHE/rootfs
E2E_TARBALL=$E2E_CACHE/rootfs.tar.zst
# Bump E2E_RECIPE whenever the way the rootfs is made changes: a different stamp rebuilds it.
E2E_RECIPE=1
E2E_STAMP="recipe=$E2E_RECIPE suite=$E2E_SUITE packages=$E2E_PACKAGES"

e2e_log() { printf '== %s\n' "$*" >&2; }
e2e_die() { printf 'e2e: error: %s\n' "$*" >&2; exit 1; }

# e2e_skip REASON: the machine cannot run the suite. Say so loudly and succeed, so that a
# machine without root or namespaces still runs (and passes) the unit tests.
e2e_skip() {
    {
        echo
        echo "################################################################"
        echo "SKIPPED: runnerd end-to-end suite: $*"
        echo "################################################################"
        echo
    } >&2
    exit 0
}

e2e_now_ms() { date +%s%3N; }
e2e_secs_since() { awk -v a="$1" -v b="$(e2e_now_ms)" 'BEGIN { printf "%.2f", (b - a) / 1000 }'; }

# The host cgroup directories to create before booting. With --keep-unit, systemd-nspawn puts
# the container's cgroups below the cgroup it was started in; starting it in a sub-cgroup of
# our own keeps them out of the host's root cgroup and makes leftovers easy to find.
e2e_cgroup_dirs() {
    if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
        echo "/sys/fs/cgroup/$E2E_CGROUP"
        return 0
    fi
    # Hybrid or legacy layout: the v2 tree at unified/, and the named systemd v1 tree.
    [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
        echo "/sys/fs/cgroup/unified/$E2E_CGROUP"
    [ -e /sys/fs/cgroup/systemd/cgroup.procs ] && echo "/sys/fs/cgroup/systemd/$E2E_CGROUP"
    return 0
}

e2e_load_state() {
    [ -r "$E2E_STATE/env" ] || e2e_die "no container is running (no $E2E_STATE/env)"
    # shellcheck disable=SC1091
    . "$E2E_STATE/env"
}

# e2e_in CMD...: run CMD inside the container: its mount, pid, net, uts, ipc and cgroup
# namespaces, its root and a clean environment. Stdin, stdout, stderr and the exit status pass
# through. The process stays in the host cgroup of the caller, so anything long-lived must be
# started as a unit inside (systemctl, systemd-run), not from here.
e2e_in() {
    [ -n "${E2E_LEADER:-}" ] || e2e_load_state
    nsenter --target "$E2E_LEADER" --mount --uts --ipc --net --pid --cgroup --root --wd \
        /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 \
        "$@"
}

# e2e_put PATH [MODE] < content: write stdin to PATH inside the container.
e2e_put() {
    local path=$1 mode=${2:-0644}
    e2e_in sh -c 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"' put "$path" "$mode"
}
