//! One integration test binary: transport, protocol and schema tests.

mod audit_log;
mod auth_flows;
mod auth_security;
mod cors;
mod database_outage;
mod document_limits;
mod embedded_database;
mod explorer;
mod files;
mod http_transport;
mod knowledge_base;
mod mfa;
mod organizations;
mod outbox;
mod persisted_queries;
mod production_config;
mod projects;
mod rbac;
mod request_logs;
mod schema_guards;
mod storage;
mod support;
mod table_ownership;
mod websocket;
