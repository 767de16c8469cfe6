#!/usr/bin/env bash
# Run a command inside the running container, with stdin, stdout and the exit status passed through:
#   Tests/e2e/harness/in.sh systemctl status runnerd
#   Tests/e2e/harness/in.sh sh -c 'cat > /etc/runnerd/runnerd.yaml' < my.yaml
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
[ $# -gt 0 ] || e2e_die "usage: $0 COMMAND [ARGS...]"
e2e_load_state
kill -0 "$E2E_LEADER" 2>/dev/null || e2e_die "the container's init (pid $E2E_LEADER) is gone"
e2e_in "$@"
