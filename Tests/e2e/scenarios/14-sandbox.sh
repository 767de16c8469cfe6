#!/usr/bin/env bash
# 14. The unit's sandbox applies to every service, root ones included, and the drop-in that the
# README, runnerd(1) and the conffile show relaxes it: a root service cannot write under /etc
# ("Read-only file system") nor use CAP_NET_ADMIN ("Operation not permitted") until a drop-in
# adds ReadWritePaths=/etc/app and CapabilityBoundingSet=CAP_NET_ADMIN.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
X mkdir -p /etc/app
# The probe reports each attempt on one line, then stays up. SO_RCVBUFFORCE (33; Python has no
# name for it) is a plain socket option that needs CAP_NET_ADMIN and nothing else.
write_config runnerd <<'YAML'
# runnerd end-to-end suite: what a root service may do inside the unit's sandbox
groups:
  sandbox:
    services:
      probe:
        command:
          - /usr/bin/python3
          - -c
          - |
            import socket, time
            try:
                open("/etc/app/app.conf", "w").write("written\n")
                print("etc-write: ok", flush=True)
            except OSError as e:
                print("etc-write:", e.strerror, flush=True)
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, 33, 1 << 20)
                print("net-admin: ok", flush=True)
            except OSError as e:
                print("net-admin:", e.strerror, flush=True)
            time.sleep(3600)
YAML

probe_log() { journal_since "$cursor" runnerd probe; }
reported() { probe_log | grep -q '^net-admin:'; }

cursor=$(journal_cursor)
X systemctl start runnerd || { fail "systemctl start runnerd"; finish; }
wait_until 10 reported
j=$(probe_log); echo "$j" | sed 's/^/       | /'
check "without a drop-in, writing /etc/app/app.conf fails: Read-only file system" \
    grep -qx 'etc-write: Read-only file system' <<<"$j"
check "without a drop-in, CAP_NET_ADMIN is refused: Operation not permitted" \
    grep -qx 'net-admin: Operation not permitted' <<<"$j"

printf '[Service]\nReadWritePaths=/etc/app\nCapabilityBoundingSet=CAP_NET_ADMIN\n' |
    e2e_put /run/systemd/system/runnerd.service.d/e2e-sandbox.conf
X systemctl daemon-reload
cursor=$(journal_cursor)
X systemctl restart runnerd || { fail "systemctl restart runnerd with the drop-in"; finish; }
wait_until 10 reported
j=$(probe_log); echo "$j" | sed 's/^/       | /'
check "with ReadWritePaths=/etc/app, the write succeeds" grep -qx 'etc-write: ok' <<<"$j"
check "the file is there" [ "$(X cat /etc/app/app.conf)" = written ]
# systemd-nspawn gives the container CAP_NET_ADMIN only with a private network, as the harness
# boots it; a container without it cannot pass it on.
if (( 0x$(X sed -n 's/^CapBnd:[[:space:]]*//p' /proc/1/status) & (1 << 12) )); then
    check "with CapabilityBoundingSet=CAP_NET_ADMIN, the root service may use it" grep -qx 'net-admin: ok' <<<"$j"
else
    say "skipped: the container itself has no CAP_NET_ADMIN to give"
fi

reset_unit runnerd
X rm -rf /etc/app
finish
