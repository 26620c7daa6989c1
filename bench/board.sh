#!/usr/bin/env bash
# Kanban board query throughput next to `pgbench -S` on the same PostgreSQL.
#
# Serves the release binary on its private PostgreSQL (target/bench-board),
# seeds 200 projects x 50 tasks through the API (once; later runs reuse them),
# runs wrk with 32 connections POSTing the board query for random projects as
# a client user, then `pgbench -S` with 32 clients on the same cluster, and
# prints a JSON summary: board rps and p50/p99, pgbench tps, their ratio, RSS.
#
# Environment: BENCH_PORT (18960), BENCH_SECONDS (20), BENCH_CONNECTIONS (32),
# BENCH_PROJECTS (200), BENCH_TASKS (50), BENCH_SEED_THREADS (8),
# BENCH_PGBENCH_SCALE (10), BENCH_NO_BUILD=1 to use target/release/fluxorae as is.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${BENCH_PORT:-18960}"
seconds="${BENCH_SECONDS:-20}"
connections="${BENCH_CONNECTIONS:-32}"
projects="${BENCH_PROJECTS:-200}"
tasks="${BENCH_TASKS:-50}"
seed_threads="${BENCH_SEED_THREADS:-8}"
scale="${BENCH_PGBENCH_SCALE:-10}"
data_dir="target/bench-board"
bin=./target/release/fluxorae
password='Bench Board 7731 Kestrel'
admin_email=bench-admin@fluxorae.local
client_email=bench-client@fluxorae.local
client_org="Bench Client Pvt Ltd"
employees=()
for i in 1 2 3 4 5; do employees+=("bench-employee-$i@fluxorae.local"); done

pg_tool() { # the named PostgreSQL client binary: PATH, then the server's bin directory
  command -v "$1" 2>/dev/null && return
  local found
  found=$(ls -1 /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n1)
  [[ -n "$found" ]] || { echo "board.sh: $1 not found (install postgresql)" >&2; return 1; }
  echo "$found"
}

# 1. Tools.
if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
fi
psql=$(pg_tool psql)
pgbench=$(pg_tool pgbench)
createdb=$(pg_tool createdb)
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  cargo build --release -p fluxorae --locked
fi
[[ -x "$bin" ]] || { echo "board.sh: $bin missing (cargo build --release -p fluxorae --locked)" >&2; exit 1; }

# 2. The server on its private PostgreSQL.
mkdir -p "$data_dir"
export DATA_DIR="$data_dir" APP_ENV=development RUST_LOG=warn OUTBOX_ENABLED=false \
  RATE_LIMIT_LOGIN_PER_MINUTE=1000000 GRAPHQL_MAX_COMPLEXITY=100000 DB_POOL_SIZE=32
unset DATABASE_URL
"$bin" serve --bind "127.0.0.1:$port" &
server=$!
trap 'kill -TERM $server 2>/dev/null && wait $server' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 $server 2>/dev/null || { echo "board.sh: the server exited" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "board.sh: not ready" >&2; exit 1; }
pg_port=$(sed -n 4p "$data_dir/postgres/postmaster.pid")
sql() { "$psql" -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d "${2:-fluxorae}" -c "$1"; }

# 3. Seed through the API (idempotent: users once, then only missing projects/tasks).
create_user() { # email role [org]; prints the JSON line, nothing when the user exists
  if [[ -n $(sql "SELECT 1 FROM users WHERE email = '$1'") ]]; then return; fi
  "$bin" create-user --email "$1" --password "$password" --role "$2" ${3:+--org "$3"}
}
create_user "$admin_email" admin >/dev/null
for email in "${employees[@]}"; do create_user "$email" employee >/dev/null; done
org_id=$(create_user "$client_email" client "$client_org" |
  python3 -c 'import json,sys; t=sys.stdin.read().strip(); print(json.loads(t)["organizationId"] if t else "")')
if [[ -z "$org_id" ]]; then
  org_id=$(sql "SELECT organization_id FROM users WHERE email = '$client_email'")
fi
employee_args=()
for email in "${employees[@]}"; do employee_args+=(--employee-email "$email"); done
work="$data_dir/run"
mkdir -p "$work"
echo "seeding $projects projects x $tasks tasks (skipped when present)" >&2
seed=$(python3 bench/seed_board.py "http://127.0.0.1:$port" --psql "$psql" --pg-port "$pg_port" \
  --org-id "$org_id" --admin-email "$admin_email" --client-email "$client_email" \
  --password "$password" "${employee_args[@]}" --projects "$projects" --tasks "$tasks" \
  --threads "$seed_threads" --projects-out "$work/projects.txt" --token-out "$work/client-token")
echo "seed: $seed" >&2

# 4. The board query under load. Other work on the machine skews both numbers:
# the load average before each phase goes into the summary.
load_before_wrk=$(cut -d' ' -f1 /proc/loadavg)
echo "wrk: $connections connections, ${seconds}s (load average $load_before_wrk)" >&2
wrk_out=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s bench/board.lua \
  "http://127.0.0.1:$port/graphql" -- "$work/projects.txt" "$work/client-token")
board=$(sed -n 's/^BOARD_JSON //p' <<<"$wrk_out")
[[ -n "$board" ]] || { echo "$wrk_out" >&2; echo "board.sh: no wrk summary" >&2; exit 1; }
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$server/status)

# 5. pgbench -S on the same cluster, right after.
if [[ $(sql "SELECT count(*) FROM pg_database WHERE datname = 'pgbench_bench'") == 0 ]]; then
  "$createdb" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench_bench
fi
if [[ $(sql "SELECT count(*) FROM pgbench_branches" pgbench_bench 2>/dev/null || echo 0) != "$scale" ]]; then
  echo "pgbench -i -s $scale" >&2
  "$pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench_bench >/dev/null 2>&1
fi
load_before_pgbench=$(cut -d' ' -f1 /proc/loadavg)
echo "pgbench -S: $connections clients, ${seconds}s (load average $load_before_pgbench)" >&2
pg_out=$("$pgbench" -S -n -c "$connections" -j 2 -T "$seconds" -h 127.0.0.1 -p "$pg_port" -U postgres pgbench_bench 2>&1)
pg_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$pg_out" | head -n1)
pg_lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$pg_out" | head -n1)
[[ -n "$pg_tps" ]] || { echo "$pg_out" >&2; echo "board.sh: no pgbench tps" >&2; exit 1; }

# 6. Summary.
python3 - "$board" "$seed" "$pg_tps" "${pg_lat:-0}" "$rss_kb" "$connections" "$seconds" \
  "$(nproc)" "$load_before_wrk" "$load_before_pgbench" <<'EOF'
import json, sys
board, seed = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pg_tps, pg_lat, rss_kb = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(json.dumps({
    "connections": int(sys.argv[6]),
    "seconds": int(sys.argv[7]),
    "cpus": int(sys.argv[8]),
    "load_average_before": {"wrk": float(sys.argv[9]), "pgbench": float(sys.argv[10])},
    "seed": seed,
    "board_query": {
        "requests": board["requests"],
        "rps": board["rps"],
        "p50_ms": board["latency_ms"]["p50"],
        "p99_ms": board["latency_ms"]["p99"],
        "max_ms": board["latency_ms"]["max"],
        "non_200": board["non_200"],
        "graphql_errors": board["graphql_errors"],
        "socket_errors": board["socket_errors"],
    },
    "pgbench_select_only": {"tps": round(pg_tps, 1), "latency_avg_ms": pg_lat},
    "board_vs_pgbench_percent": round(100 * board["rps"] / pg_tps, 2),
    "server_rss_mb_after_run": round(rss_kb / 1024, 1),
}, indent=2))
EOF
