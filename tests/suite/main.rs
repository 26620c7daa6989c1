//! One integration test binary: transport, protocol and schema tests.

mod auth_flows;
mod embedded_database;
mod http_transport;
mod outbox;
mod projects;
mod rbac;
mod schema_guards;
mod storage;
mod websocket;
