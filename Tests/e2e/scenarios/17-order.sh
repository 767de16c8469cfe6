#!/usr/bin/env bash
# 17. Order under the real systemd: db (its port opens 1s late), then app, bound to it: a oneshot
# migration, then an API after it. `systemctl start` returns only once the API is ready; the API
# starts only after the migration is done and db is ready; `runnerd check` prints the waves; a
# failing migration fails the group's start and the API never starts; the stop is clean.
. "$(dirname "$0")/../harness/scenario.sh"

# 16 uninstalls the package, and a whole run comes here after it: install it again.
if X test ! -e /usr/bin/runnerd; then
    X dpkg -i /e2e/runnerd.deb >/dev/null 2>&1 || { fail "dpkg -i /e2e/runnerd.deb again, after 16 removed it"; finish; }
fi
reset_unit runnerd
order_config() {   # order_config MIGRATION_EXIT
    cat <<YAML
defaults: { interrupt-timeout: 5s, group-interrupt-timeout: 8s }
groups:
  db:
    services:
      db:
        command: ["/bin/sh", "-c", "date +%s%N > /run/e2e-order-db; exec /usr/bin/python3 $FIX/late-port.py 18090 1"]
        ready: { tcp: "127.0.0.1:18090" }
  app:
    binds-to: [db]
    restart: never
    required: false
    services:
      migrate:
        type: oneshot
        timeout: 30s
        command: ["/bin/sh", "-c", "sleep 1; date +%s%N > /run/e2e-order-migrated; exit $1"]
      api:
        after: [migrate]
        command: ["/bin/sh", "-c", "date +%s%N > /run/e2e-order-api; exec /usr/bin/python3 $FIX/late-port.py 18091 0"]
        ready: { tcp: "127.0.0.1:18091" }
YAML
}
order_config 0 | write_config runnerd
X rm -f /run/e2e-order-db /run/e2e-order-migrated /run/e2e-order-api

out=$(X runnerd check --config /etc/runnerd/runnerd.yaml 2>&1); rc=$?
echo "$out" | grep -E 'start (in )?order' | sed 's/^/       | check: /'
check "runnerd check accepts it (rc $rc)" [ "$rc" = 0 ]
check "runnerd check prints the services' waves" grep -q 'start order: 1. migrate  2. api' <<<"$out"
check "runnerd check prints the groups' waves" grep -q 'groups start in order: 1. db  2. app' <<<"$out"

cursor=$(journal_cursor)
t0=$(e2e_now_ms)
X systemctl start runnerd; rc=$?
dt=$(e2e_secs_since "$t0")
check "systemctl start runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "it returned only once the API was ready: port 18091 open" port_open 18091
check "which took db's 1s and the migration's 1s in turn (took ${dt}s)" awk -v t="$dt" 'BEGIN { exit !(t >= 1.9) }'
db=$(X cat /run/e2e-order-db); migrated=$(X cat /run/e2e-order-migrated); api=$(X cat /run/e2e-order-api)
check "the migration finished before the API started ($migrated <= $api)" [ "${migrated:-9}" -le "${api:-0}" ]
check "the migration started after db was ready: 1s after db ($db -> $migrated)" [ $(( ${migrated:-0} - ${db:-0} )) -ge 1900000000 ]
j=$(journal_since "$cursor" runnerd)
check "the journal says the migration is done" grep -q 'group app: service migrate is done' <<<"$j"
say "StatusText: $(prop runnerd StatusText)"
check "StatusText counts the finished migration as ready" grep -q '2 groups, 3/3 services ready' <<<"$(prop runnerd StatusText)"

# A failing migration: the reload restarts app, whose start fails; the API never starts.
X rm -f /run/e2e-order-api
cursor=$(journal_cursor)
order_config 3 | write_config runnerd
X systemctl reload runnerd
failed() { journal_since "$cursor" runnerd | grep -q 'group app: service migrate exited with status 3'; }
check "the failed migration fails app's start" wait_until 15 failed
api_absent() { ! X test -e /run/e2e-order-api; }
check "the API did not start again" holds_for 1 api_absent
check "app is reported down in StatusText" wait_prop runnerd StatusText 'group app is down' 5

X systemctl stop runnerd; rc=$?
check "systemctl stop runnerd succeeds (rc $rc)" [ "$rc" = 0 ]
check "Result=success" [ "$(prop runnerd Result)" = success ]
reset_unit runnerd
finish
