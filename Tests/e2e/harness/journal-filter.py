#!/usr/bin/env python3
"""journal-filter.py UNIT [IDENTIFIER] [cat|json] < journalctl -o json

Picks the entries of one unit (and one SYSLOG_IDENTIFIER) out of `journalctl -o json`, as
`journalctl -u UNIT -t IDENTIFIER` would. The scenarios read "everything after a cursor" this way
because journalctl 252 combines --after-cursor badly with matches: it skips the first matching
entry whenever the cursor's own entry does not match.
"""
import json
import sys

unit = sys.argv[1]
ident = sys.argv[2] if len(sys.argv) > 2 else ""
mode = sys.argv[3] if len(sys.argv) > 3 else "cat"
if not unit.endswith(".service"):
    unit += ".service"

for line in sys.stdin:
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    # -u matches the unit's own processes, and what systemd says about the unit.
    if unit not in (entry.get("_SYSTEMD_UNIT"), entry.get("UNIT")):
        continue
    if ident and entry.get("SYSLOG_IDENTIFIER") != ident:
        continue
    if mode == "json":
        print(json.dumps(entry))
    else:
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # journalctl writes non-UTF-8 messages as byte lists
            message = bytes(message).decode("utf-8", "replace")
        print(message)
