# Two commands do all the set-up on a fresh Debian machine with Rust installed.
.PHONY: run test schema build

BIN := target/debug/fluxorae

## make run: install PostgreSQL if missing, build, migrate, seed demo data, serve.
run:
	scripts/ensure-tools.sh
	cargo build -p fluxorae --locked
	$(BIN) migrate
	$(BIN) seed-demo
	@echo "Serving the API at http://$${BIND_ADDR:-127.0.0.1:8080}/graphql (Ctrl-C stops it and its private PostgreSQL)"
	exec $(BIN) serve

## make test: fmt check, clippy -D warnings, every test, and the conformance audit.
test:
	scripts/test.sh

## make schema: refresh the committed schema.graphql from the code.
schema:
	cargo run -q -p fluxorae -- print-schema > schema.graphql

build:
	cargo build --workspace --locked
