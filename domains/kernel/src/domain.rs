//! How a domain crate plugs into the server.

use std::sync::Arc;

use async_graphql::SchemaBuilder;

use crate::db::Db;
use crate::events::EventBus;
use crate::principal::Permission;
use crate::storage::{ObjectStorage, UploadPolicy};

/// What domains get from the server when they install themselves.
#[derive(Clone)]
pub struct Deps {
    /// The database pool.
    pub db: Db,
    /// The event bus for live updates.
    pub bus: Arc<dyn EventBus>,
    /// Largest page a list may return.
    pub max_page_size: usize,
    /// Object storage for uploaded files.
    pub storage: Arc<dyn ObjectStorage>,
    /// What uploads may be.
    pub uploads: UploadPolicy,
}

/// A domain: its name, the permissions it checks, and what it adds to the schema.
pub trait Domain {
    /// Short name, e.g. `auth`.
    const NAME: &'static str;

    /// The permissions the domain's guards check.
    fn permissions() -> &'static [Permission];

    /// Adds the domain's schema data (services, loaders) to the builder.
    fn install<Q, M, S>(builder: SchemaBuilder<Q, M, S>, deps: &Deps) -> SchemaBuilder<Q, M, S>;
}
