#!/usr/bin/env bash
# The runnerd end-to-end suite, under a real systemd 252 in a throw-away Debian 12 container:
#   rootfs (cached) -> build the .deb (+ lintian) -> boot -> dpkg -i inside -> scenarios ->
#   teardown (always).
#
#   Tests/e2e/run.sh                 every scenario
#   Tests/e2e/run.sh 3 4 8 9 10      some of them, by number (or E2E_SCENARIOS="3 4 8")
#
# Environment: E2E_DEB=PATH installs that .deb instead of building one; E2E_KEEP=1 leaves the
# container running afterwards (Tests/e2e/harness/in.sh CMD to look around, teardown.sh to end it);
# E2E_SCENARIO_TIMEOUT (default 180) bounds each scenario in seconds.
#
# Each scenario reports PASS, FAIL or SKIP; the last line is "N passed, M failed, K skipped".
# Exit status: 0 when nothing failed. A machine that cannot run the suite (not root, no
# namespaces, no way to install systemd-nspawn) prints SKIPPED and exits 0.
set -uo pipefail
e2e_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$e2e_dir/../.." && pwd)
harness=$e2e_dir/harness
# shellcheck source=harness/lib.sh
. "$harness/lib.sh"

: "${E2E_SCENARIO_TIMEOUT:=180}"
selected=("$@")
[ ${#selected[@]} -gt 0 ] || read -r -a selected <<<"${E2E_SCENARIOS:-}"

# ---- which scenarios
scenarios=()
for f in "$e2e_dir"/scenarios/[0-9][0-9]-*.sh; do
    n=$(basename "$f" | cut -c1-2); n=$((10#$n))
    if [ ${#selected[@]} -eq 0 ]; then scenarios+=("$f"); continue; fi
    for want in "${selected[@]}"; do [ "$((10#$want))" = "$n" ] && scenarios+=("$f"); done
done
[ ${#scenarios[@]} -gt 0 ] || e2e_die "no scenario matches: ${selected[*]}"

passed=0 failed=0 skipped=0
summary=()
record() { # RESULT NAME
    summary+=("$1 $2")
    case $1 in PASS) passed=$((passed + 1)) ;; FAIL) failed=$((failed + 1)) ;; *) skipped=$((skipped + 1)) ;; esac
}
report() {
    echo
    echo "== runnerd end-to-end results"
    local line
    for line in "${summary[@]}"; do echo "   $line"; done
    echo "$passed passed, $failed failed, $skipped skipped"
}
# fail_all WHY: nothing can run; every selected scenario fails with that reason.
fail_all() {
    echo "e2e: $*" >&2
    for f in "${scenarios[@]}"; do record FAIL "$(basename "$f" .sh) ($*)"; done
    report
    exit 1
}

# ---- can this machine run it at all?
[ "$(id -u)" = 0 ] || e2e_skip "needs root (systemd-nspawn boots a container); run it as root or in CI"
[ -d /sys/fs/cgroup ] && [ -n "$(e2e_cgroup_dirs)" ] || e2e_skip "no cgroup hierarchy under /sys/fs/cgroup"
command -v unshare >/dev/null && unshare --pid --mount --fork true 2>/dev/null ||
    e2e_skip "this machine cannot create PID and mount namespaces"

t_all=$(e2e_now_ms)
t=$(e2e_now_ms)
"$harness/rootfs.sh"; rc=$?
[ "$rc" = 2 ] && e2e_skip "systemd-nspawn and debootstrap cannot be installed here"
[ "$rc" = 0 ] || fail_all "the container's rootfs could not be made"
e2e_log "setup took $(e2e_secs_since "$t")s"

# ---- the package
stage=$(mktemp -d /tmp/runnerd-e2e.XXXXXX)
if [ -n "${E2E_DEB:-}" ]; then
    deb=$(realpath "$E2E_DEB")
else
    t=$(e2e_now_ms)
    "$repo/packaging/build-deb.sh" --lintian >"$stage/deb-path"
    rc=$?
    deb=$(tail -n 1 "$stage/deb-path")
    case $rc in
        0) record PASS "lintian" ;;
        3) record FAIL "lintian (findings above)" ;;
        *) rm -rf "$stage"; fail_all "the .deb did not build" ;;
    esac
    e2e_log "the .deb built and was checked in $(e2e_secs_since "$t")s"
fi
[ -f "$deb" ] || { rm -rf "$stage"; fail_all "no .deb at $deb"; }
cp "$deb" "$stage/runnerd.deb"
cp -r "$e2e_dir/fixtures" "$stage/fixtures"
chmod -R a+rX "$stage"

# ---- from here on the container exists: tear it down whatever happens.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        e2e_log "E2E_KEEP=1: the container stays up; end it with $harness/teardown.sh"
    else
        "$harness/teardown.sh"
    fi
    rm -rf "$stage"
    exit "$rc"
}
trap cleanup EXIT
scenario_pid=
interrupted() {
    echo "e2e: interrupted" >&2
    # timeout passes the signal on to the scenario it runs.
    [ -n "$scenario_pid" ] && kill -TERM "$scenario_pid" 2>/dev/null && wait "$scenario_pid"
    exit 130
}
trap interrupted INT TERM

if ! "$harness/boot.sh" --bind-ro="$stage:/e2e"; then
    "$harness/teardown.sh"
    "$harness/probe.sh" ||
        e2e_skip "systemd-nspawn cannot run a container on this machine (its error is above)"
    fail_all "the container did not boot, although systemd-nspawn works here"
fi
e2e_load_state
# The fixtures live inside the container, so that services never depend on the host's mount.
e2e_in sh -c "mkdir -p /usr/local/lib/runnerd-e2e && cp /e2e/fixtures/* /usr/local/lib/runnerd-e2e/ && chmod -R a+rX /usr/local/lib/runnerd-e2e"
if ! e2e_in dpkg -i /e2e/runnerd.deb >"$E2E_STATE/dpkg.log" 2>&1; then
    cat "$E2E_STATE/dpkg.log" >&2
    fail_all "dpkg -i runnerd.deb failed inside the container"
fi

# ---- the scenarios
for f in "${scenarios[@]}"; do
    name=$(basename "$f" .sh)
    echo
    echo "== scenario $name"
    t=$(e2e_now_ms)
    # In the background, so that Ctrl-C or SIGTERM reaches the trap at once, not after the scenario.
    timeout --kill-after=10 "$E2E_SCENARIO_TIMEOUT" bash "$f" &
    scenario_pid=$!
    wait "$scenario_pid"
    rc=$?
    scenario_pid=
    dt=$(e2e_secs_since "$t")
    case $rc in
        0) result=PASS ;;
        77) result=SKIP ;;
        124|137) result=FAIL; echo "  FAIL timed out after ${E2E_SCENARIO_TIMEOUT}s" ;;
        *) result=FAIL ;;
    esac
    echo "$result: $name (${dt}s)"
    record "$result" "$name (${dt}s)"
done

e2e_log "the suite took $(e2e_secs_since "$t_all")s"
report
[ "$failed" = 0 ]
