#!/usr/bin/env bash
# 21. The control socket under systemd: `runnerd status` inside the container finds the daemon at
# /run/runnerd/control.sock and shows both groups; `runnerd restart batch` restarts that group
# alone (its worker gets a new PID, web keeps its PIDs) and the journal says it was requested;
# `runnerd logs batch/worker` shows the worker's own lines; `runnerd stop web` keeps the unit
# active with web down, and READY stays (a required group stopped on request stops nothing else);
# status shows what each service's cgroup used.
. "$(dirname "$0")/../harness/scenario.sh"

start_base
main=$(prop runnerd MainPID)
slowport=$(service_pid runnerd late-port.py)
worker=$(service_pid runnerd "ticker.sh worker")
cursor=$(journal_cursor)

out=$(X runnerd status); rc=$?
say "runnerd status:"; echo "$out" | sed 's/^/       | /'
check "runnerd status exits 0 (rc $rc)" [ "$rc" = 0 ]
check "it shows both groups running" bash -c '[[ $1 == *"web "*running* && $1 == *"batch "*running* ]]' - "$out"
check "the socket is /run/runnerd/control.sock, mode 0600" [ "$(X stat -c %a /run/runnerd/control.sock)" = 600 ]

# Accounting from the services' own cgroups (scenario 18 has the tree): CPU time always; memory
# where runnerd's cgroup has the memory controller (a host that keeps it in cgroup v1 has not).
json=$(X runnerd status --json)
has_cpu() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not all("cpuSeconds" in s for g in r["groups"] for s in g["services"]) or "cpuSeconds" not in r["groups"][0])' "$1"; }
check "runnerd status --json has each service's CPU time and the group totals" has_cpu "$json"
cg=$(prop runnerd ControlGroup)
if X test -e "/sys/fs/cgroup$cg/web/memory.current"; then
    has_memory() { python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(not all("memoryBytes" in s for g in r["groups"] for s in g["services"]))' "$1"; }
    check "and each service's memory" has_memory "$json"
    check "the table shows a MEMORY column" bash -c '[[ $1 == *MEMORY* ]]' - "$(X runnerd status)"
else
    say "no memory controller in runnerd's cgroup here: memory is not shown (checked: CPU only)"
fi

out=$(X runnerd restart batch); rc=$?
check "runnerd restart batch: exit 0 and 'batch: ready' ($rc: $out)" [ "$rc/$out" = "0/batch: ready" ]
now=$(service_pid runnerd "ticker.sh worker")
check "batch's worker has a new PID ($worker -> ${now:-none})" new_pid "$worker" "$now"
check "web keeps its PID ($slowport)" [ "$(service_pid runnerd late-port.py)" = "$slowport" ]
requested() { journal_since "$cursor" runnerd | grep -q 'group batch: restarting (requested)'; }
check "the journal says the restart was requested" wait_until 5 requested

logs=$(X runnerd logs batch/worker -n 20)
check "runnerd logs batch/worker shows the worker's lines" bash -c '[[ $1 == *"worker: stdout line, pid $2"* ]]' - "$logs" "$now"

out=$(X runnerd stop web); rc=$?
check "runnerd stop web: exit 0 ($rc: $out)" [ "$rc" = 0 ]
check "the unit stays active, the daemon keeps PID $main" [ "$(prop runnerd ActiveState)/$(prop runnerd MainPID)" = "active/$main" ]
check "StatusText says web is stopped by request" wait_prop runnerd StatusText 'web: stopped by request' 5
out=$(X runnerd start web); rc=$?
check "runnerd start web: exit 0 once ready ($rc: $out)" [ "$rc/$out" = "0/web: ready" ]
check "its port is open" port_open 18080
finish
