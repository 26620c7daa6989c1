//! The Fluxorae API server: configuration, transports, schema composition and CLI.

pub mod cli;
pub mod config;
pub mod demo;
pub mod domains;
pub mod embedded_pg;
pub mod explorer;
pub mod http;
pub mod limits;
pub mod persisted;
pub mod rest;
pub mod schema;
pub mod schema_compat;
pub mod server;
pub mod system;
pub mod telemetry;
pub mod ws;
