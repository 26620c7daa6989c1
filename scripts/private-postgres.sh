#!/usr/bin/env bash
# Stops a private PostgreSQL cluster started by the server or the test harness:
#   scripts/private-postgres.sh stop DATA_DIR
set -euo pipefail
action="${1:?usage: private-postgres.sh stop DATA_DIR}"
data_dir="${2:?usage: private-postgres.sh stop DATA_DIR}"
[ "$action" = "stop" ] || { echo "unknown action $action" >&2; exit 2; }
[ -f "$data_dir/postmaster.pid" ] || exit 0

pg_ctl=$(command -v pg_ctl || true)
if [ -z "$pg_ctl" ]; then
  pg_ctl=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/pg_ctl
fi
if [ "$(id -u)" -eq 0 ]; then
  owner=$(stat -c %U "$data_dir")
  runuser -u "$owner" -- "$pg_ctl" stop -D "$data_dir" -m fast -w >/dev/null
else
  "$pg_ctl" stop -D "$data_dir" -m fast -w >/dev/null
fi
