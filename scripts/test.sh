#!/usr/bin/env bash
# The whole suite: formatting, lints, every test, and the external
# GraphQL-over-HTTP conformance audit against a live server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-tools.sh --test

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
stop_private_postgres() {
  scripts/private-postgres.sh stop target/test-postgres || true
}
trap stop_private_postgres EXIT

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== build"
cargo build --workspace --locked
echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
echo "== GraphQL-over-HTTP conformance"
scripts/conformance.sh
