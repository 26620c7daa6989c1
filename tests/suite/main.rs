//! One integration test binary: transport, protocol and schema tests.

mod audit_log;
mod auth_flows;
mod auth_security;
mod embedded_database;
mod files;
mod http_transport;
mod knowledge_base;
mod mfa;
mod organizations;
mod outbox;
mod projects;
mod rbac;
mod schema_guards;
mod storage;
mod support;
mod table_ownership;
mod websocket;
