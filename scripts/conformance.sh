#!/usr/bin/env bash
# Runs the graphql-http server audit against a live `fluxorae serve` that uses
# its private PostgreSQL (no DATABASE_URL), exactly as `make run` would.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${CONFORMANCE_PORT:-18931}"
data_dir="target/conformance-data"
mkdir -p "$data_dir"
npm ci --prefix tests/conformance --silent --no-audit --no-fund

env -u DATABASE_URL DATA_DIR="$data_dir" APP_ENV=test RUST_LOG=warn \
  ./target/debug/fluxorae serve --bind "127.0.0.1:$port" &
server=$!
cleanup() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap cleanup EXIT

node tests/conformance/audit.mjs --wait 60 "http://127.0.0.1:$port/graphql"
