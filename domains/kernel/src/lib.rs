//! Shared kernel of the Fluxorae API: database schema and pool, ids, errors,
//! identity and access scopes, the event bus and the domain plug-in trait.

pub mod calendar;
pub mod config;
pub mod cost;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod events_pg;
pub mod ids;
pub mod live;
pub mod mailer;
pub mod notifications;
pub mod outbox;
pub mod pagination;
pub mod principal;
pub mod request;
pub mod schema;
pub mod validate;

pub use config::{ConfigError, Env, Environment};
pub use db::{Db, DbConn};
pub use domain::{BuildError, DemoSeed, Deps, Domain, PeriodicTask};
pub use error::{AppError, AppResult, ErrorCode, FieldError};
pub use principal::{
    AccessScope, Authenticator, Permission, Principal, RequirePermission, Role, SignedIn, Viewer,
    caller,
};
pub use request::RequestMeta;
