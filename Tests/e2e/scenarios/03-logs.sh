#!/usr/bin/env bash
# 3. Logs: `journalctl -u runnerd -t SERVICE` shows that service's lines, with the service's name
# as SYSLOG_IDENTIFIER, its group in RUNNERD_GROUP, stdout at PRIORITY=6 and stderr at PRIORITY=4;
# and `journalctl RUNNERD_GROUP=batch` shows runnerd's own lines about that group too.
. "$(dirname "$0")/../harness/scenario.sh"

cursor=$(journal_cursor)
start_base
# entries SERVICE: that service's journal entries since the start, as JSON lines.
entries() { journal_since "$cursor" runnerd "$1" json; }
has_line() { entries "$1" | grep -qF "$2"; }
check "slowport's stdout line reached the journal" wait_until 10 has_line slowport "late-port 18080: starting"
check "slowport's stderr line reached the journal" wait_until 10 has_line slowport "this line goes to stderr"
check "ticker's lines reached the journal" wait_until 10 has_line ticker "ticker: stdout line"

fields() { # SERVICE TEXT -> "IDENTIFIER GROUP PRIORITY PID" of the entry whose MESSAGE has TEXT
    entries "$1" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if isinstance(e.get("MESSAGE"), str) and sys.argv[1] in e["MESSAGE"]:
        print(e.get("SYSLOG_IDENTIFIER"), e.get("RUNNERD_GROUP"), e.get("PRIORITY"), e.get("_SYSTEMD_UNIT"))
        break' "$2"
}
out=$(fields slowport "late-port 18080: starting"); say "stdout entry: $out"
check "stdout entry: SYSLOG_IDENTIFIER=slowport RUNNERD_GROUP=web PRIORITY=6 in runnerd.service" \
    [ "$out" = "slowport web 6 runnerd.service" ]
out=$(fields slowport "this line goes to stderr"); say "stderr entry: $out"
check "stderr entry: SYSLOG_IDENTIFIER=slowport RUNNERD_GROUP=web PRIORITY=4 in runnerd.service" \
    [ "$out" = "slowport web 4 runnerd.service" ]
out=$(fields worker "worker: stdout line"); say "worker entry: $out"
check "worker entry: RUNNERD_GROUP=batch" [ "$out" = "worker batch 6 runnerd.service" ]
check "-t ticker shows none of slowport's lines" \
    test -z "$(journal_since "$cursor" runnerd ticker | grep late-port)"
# The group filter finds runnerd's own lines about the group too, with the service's full name.
grouped=$(X journalctl --no-pager -u runnerd RUNNERD_GROUP=batch -o json | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("SYSLOG_IDENTIFIER") == "runnerd":
        print(e.get("RUNNERD_SERVICE"), e.get("MESSAGE"))')
say "runnerd's lines about batch: $(head -n 2 <<<"$grouped" | tr '\n' ' ')"
check "journalctl RUNNERD_GROUP=batch shows runnerd's 'started' line, with RUNNERD_SERVICE=batch/worker" \
    grep -qE '^batch/worker group batch: service worker started \(pid [0-9]+\)$' <<<"$grouped"
plain=$(X journalctl --no-pager -u runnerd -t slowport)
check "the operator's command, journalctl -u runnerd -t slowport, shows them" \
    grep -qF "late-port 18080: this line goes to stderr" <<<"$plain"
tail -n 3 <<<"$plain" | sed 's/^/       | /'
finish
