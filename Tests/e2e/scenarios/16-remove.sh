#!/usr/bin/env bash
# 16. Remove and purge: `dpkg -r` stops runnerd and its instances and keeps the config;
# `dpkg -P` removes the config and the enablement links. It uninstalls the package: later
# scenarios (17) install it again.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
write_config demo <<YAML
groups:
  solo:
    services:
      idle: { command: ["/bin/sh", "$FIX/ticker.sh", "idle"] }
YAML
X systemctl start runnerd@demo || fail "systemctl start runnerd@demo"
X dpkg -r runnerd >/dev/null; rc=$?
check "dpkg -r runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "runnerd.service was stopped" [ "$(prop runnerd ActiveState)" != active ]
check "runnerd@demo.service was stopped" [ "$(prop runnerd@demo ActiveState)" != active ]
check "no fixture process is left" test -z "$(X pgrep -af "$FIX/" | grep -v pgrep)"
check "the binary is gone" X test ! -e /usr/bin/runnerd
check "the conffile stays after remove" X test -e /etc/runnerd/runnerd.yaml
X dpkg -P runnerd >/dev/null; rc=$?
check "dpkg -P runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "the conffile is gone after purge" X test ! -e /etc/runnerd/runnerd.yaml
check "no enablement link is left" test -z "$(X find /etc/systemd/system -name 'runnerd*')"
finish
