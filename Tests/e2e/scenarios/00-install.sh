#!/usr/bin/env bash
# 0. Install: `dpkg -i` put everything in place, the units verify clean under the container's
# systemd, and the package enabled runnerd.service the way debhelper would. The shipped service
# gets exactly the unit's eight capabilities, and a drop-in adds one, as the README says.
. "$(dirname "$0")/../harness/scenario.sh"

pkg_field() { X dpkg-query -W -f="\${$1}" runnerd; }
check "dpkg says runnerd is installed" [ "$(pkg_field Status)" = "install ok installed" ]
for f in /usr/bin/runnerd /lib/systemd/system/runnerd.service /lib/systemd/system/runnerd@.service \
         /etc/runnerd/runnerd.yaml /usr/share/doc/runnerd/copyright /usr/share/doc/runnerd/changelog.Debian.gz \
         /usr/share/doc/runnerd/config.md /usr/share/man/man1/runnerd.1.gz; do
    check "$f is installed" X test -e "$f"
done
check "/etc/runnerd/runnerd.yaml is a conffile" grep -q /etc/runnerd/runnerd.yaml <<<"$(pkg_field Conffiles)"
version=$(X runnerd --version 2>&1)
check "runnerd --version names $(cat "$E2E_HARNESS/../../../VERSION") (got: $version)" \
    grep -qF "$(cat "$E2E_HARNESS/../../../VERSION")" <<<"$version"
for u in runnerd.service runnerd@demo.service; do
    out=$(X systemd-analyze verify "$u" 2>&1)
    check "systemd-analyze verify $u is clean${out:+: $out}" test -z "$out"
done
check "runnerd.service is enabled" [ "$(X systemctl is-enabled runnerd.service)" = enabled ]
check "the packaged config passes runnerd check" X runnerd check --config /etc/runnerd/runnerd.yaml
check "the conffile points to the installed config reference" \
    X grep -q /usr/share/doc/runnerd/config.md /etc/runnerd/runnerd.yaml

# CapBnd of the shipped placeholder service: CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) KILL(5) SETGID(6)
# SETUID(7) NET_BIND_SERVICE(10) SYS_RESOURCE(24), and nothing else; less whatever the container
# itself lacks (a host without CAP_SYS_RESOURCE cannot give it to the container's PID 1).
wait_prop runnerd ActiveState '^active$' 30
hello=$(service_pid runnerd "sleep infinity") || true
bounding=$(X sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/${hello:-0}/status" 2>/dev/null)
container=$(X sed -n 's/^CapBnd:[[:space:]]*//p' /proc/1/status)
expected=$(printf '%016x' $(( 0x10004eb & 0x${container:-0} )))
check "the shipped service's bounding set is the unit's eight capabilities, as far as the container has them (CapBnd: ${bounding:-none}, expected $expected)" \
    [ "$bounding" = "$expected" ]
caps=$(prop runnerd CapabilityBoundingSet)
check "runnerd.service has no cap_net_admin, cap_ipc_lock or cap_sys_chroot ($caps)" \
    eval '! grep -qE "cap_(net_admin|ipc_lock|sys_chroot)" <<<"$caps"'
printf '[Service]\nCapabilityBoundingSet=CAP_NET_ADMIN\n' | e2e_put /run/systemd/system/runnerd.service.d/e2e-capability.conf
X systemctl daemon-reload
caps=$(prop runnerd CapabilityBoundingSet)
check "a drop-in CapabilityBoundingSet=CAP_NET_ADMIN adds it to the unit's set ($caps)" \
    eval 'grep -q cap_net_admin <<<"$caps" && grep -q cap_setuid <<<"$caps"'
X rm -rf /run/systemd/system/runnerd.service.d
X systemctl daemon-reload
finish
