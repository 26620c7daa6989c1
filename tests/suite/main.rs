//! One integration test binary: transport, protocol and schema tests.

mod embedded_database;
mod http_transport;
mod outbox;
mod rbac;
mod schema_guards;
mod websocket;
