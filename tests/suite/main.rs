//! One integration test binary: transport, protocol and schema tests.

mod embedded_database;
mod http_transport;
mod outbox;
mod schema_guards;
mod websocket;
