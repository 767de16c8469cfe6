#!/usr/bin/env bash
# 0. Install: `dpkg -i` put everything in place, the units verify clean under the container's
# systemd, and the package enabled runnerd.service the way debhelper would.
. "$(dirname "$0")/../harness/scenario.sh"

pkg_field() { X dpkg-query -W -f="\${$1}" runnerd; }
check "dpkg says runnerd is installed" [ "$(pkg_field Status)" = "install ok installed" ]
for f in /usr/bin/runnerd /lib/systemd/system/runnerd.service /lib/systemd/system/runnerd@.service \
         /etc/runnerd/runnerd.yaml /usr/share/doc/runnerd/copyright /usr/share/doc/runnerd/changelog.Debian.gz; do
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
finish
