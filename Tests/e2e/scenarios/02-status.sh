#!/usr/bin/env bash
# 2. Status: `systemctl status` shows the daemon's Status: line, `systemctl show -p StatusText`
# says the same, and it counts the services that are ready.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
text=$(prop runnerd StatusText)
say "StatusText: $text"
check "StatusText is set" test -n "$text"
check "StatusText counts the ready services (3/3)" grep -qE '(^|[^0-9])3/3([^0-9]|$)' <<<"$text"
st=$(X systemctl status --no-pager runnerd)
echo "$st" | head -n 12 | sed 's/^/       | /'
check "systemctl status shows Status: \"<StatusText>\"" grep -qF "Status: \"$text\"" <<<"$st"
finish
