#!/usr/bin/env bash
# 9. A bad config: the unit fails with exit status 78 and is not restarted
# (RestartPreventExitStatus=78), and the error names the file, line and column.
. "$(dirname "$0")/../harness/scenario.sh"

reset_unit runnerd
{ base_config; echo "      colour: blue"; } | write_config runnerd
out=$(X runnerd check --config /etc/runnerd/runnerd.yaml 2>&1); rc=$?
echo "$out" | sed 's/^/       | check: /'
check "runnerd check exits 78 (got $rc)" [ "$rc" = 78 ]
check "runnerd check names runnerd.yaml:LINE:COLUMN" grep -qE 'runnerd\.yaml:[0-9]+:[0-9]+' <<<"$out"
check "runnerd check names the unknown key" grep -q colour <<<"$out"

cursor=$(journal_cursor)
X systemctl start runnerd; rc=$?
check "systemctl start runnerd fails (rc $rc)" [ "$rc" != 0 ]
check "ActiveState=failed" wait_prop runnerd ActiveState '^failed$' 10
check "Result=exit-code, ExecMainStatus=78" \
    [ "$(prop runnerd Result)/$(prop runnerd ExecMainStatus)" = exit-code/78 ]
# RestartSec=2s: a restart would have come within 3s.
not_restarted() { [ "$(prop runnerd ActiveState)/$(prop runnerd NRestarts)" = failed/0 ]; }
check "not restarted: still failed with NRestarts=0 after RestartSec + 1s" holds_for 3 not_restarted
j=$(journal_since "$cursor" runnerd)
check "the journal has the error with file:line:column" grep -qE 'runnerd\.yaml:[0-9]+:[0-9]+' <<<"$j"
echo "$j" | tail -n 6 | sed 's/^/       | /'
reset_unit runnerd
finish
