#!/usr/bin/env bash
# Builds the release binary, serves it on its private PostgreSQL with the
# production Argon2 cost, creates a user and runs bench/login_latency.py.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${BENCH_PORT:-18950}"
data_dir="target/bench-data"
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -p fluxorae --locked
mkdir -p "$data_dir"
export DATA_DIR="$data_dir" APP_ENV=development RUST_LOG=warn \
  RATE_LIMIT_LOGIN_PER_MINUTE=1000000 OUTBOX_ENABLED=false
./target/release/fluxorae migrate >/dev/null
./target/release/fluxorae create-user --email bench@fluxorae.local --password 'Quartz Lantern 5517' \
  --role employee >/dev/null 2>&1 || true
./target/release/fluxorae serve --bind "127.0.0.1:$port" &
server=$!
trap 'kill -TERM $server; wait $server' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
python3 bench/login_latency.py "http://127.0.0.1:$port" bench@fluxorae.local 'Quartz Lantern 5517' "$@"
echo "idle RSS of serve (after the run): $(grep VmRSS /proc/$server/status | awk '{print $2 " " $3}')"
