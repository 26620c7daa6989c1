//! How a domain crate plugs into the server: the whole contract.
//!
//! The api crate keeps one list of domains and drives every one of them
//! through this trait: configuration, construction, schema data, permissions,
//! notification categories, outbox jobs, periodic tasks, HTTP routes and demo data.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::SchemaBuilder;
use uuid::Uuid;

use crate::config::{ConfigError, Env};
use crate::db::Db;
use crate::error::AppResult;
use crate::events::EventBus;
use crate::outbox::JobHandler;
use crate::principal::{Permission, Principal};

/// What every domain gets from the server: shared infrastructure, nothing of
/// another domain.
#[derive(Clone)]
pub struct Deps {
    /// The database pool.
    pub db: Db,
    /// The event bus for live updates.
    pub bus: Arc<dyn EventBus>,
    /// Largest page a list may return.
    pub max_page_size: usize,
}

/// Why a domain could not be built from its configuration.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// A boxed future, for the object-safe parts of the contract.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work a domain wants run every `every` in each serving instance; it must be
/// safe to run in several instances at once (claim rows, mark once).
#[derive(Clone)]
pub struct PeriodicTask {
    /// Name for logs, e.g. `support.sla_scan`.
    pub name: &'static str,
    /// Interval between runs.
    pub every: Duration,
    /// One run.
    pub run: Arc<dyn Fn() -> BoxFuture<'static, AppResult<()>> + Send + Sync>,
}

impl std::fmt::Debug for PeriodicTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeriodicTask")
            .field("name", &self.name)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// A domain: built once at start from its own configuration section, then
/// asked for what it adds to the schema and the server.
pub trait Domain: Sized + Send + Sync + 'static {
    /// Short name, e.g. `support`; also its permission and topic prefix.
    const NAME: &'static str;

    /// The domain's configuration section.
    type Config: Clone + std::fmt::Debug + Send + Sync + 'static;

    /// Reads the section from the environment.
    fn configure(env: &Env) -> Result<Self::Config, ConfigError>;

    /// Builds the domain's services and adapters, once per process.
    fn build(deps: &Deps, config: &Self::Config) -> Result<Self, BuildError>;

    /// The permissions the domain's guards check (seeded by its migrations).
    fn permissions() -> &'static [Permission];

    /// The kinds of email the domain sends that users may turn off; the api
    /// collects every domain's into one [`crate::notifications::Catalog`].
    fn notification_categories() -> &'static [crate::notifications::Category] {
        &[]
    }

    /// Adds the domain's schema data (services, loaders) to the builder.
    fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>;

    /// Handlers of the outbox job kinds the domain enqueues, and of the
    /// durable changes of domains it depends on that it reacts to (such as
    /// auth's role changes); one handler per kind.
    fn jobs(&self) -> Vec<Arc<dyn JobHandler>> {
        Vec::new()
    }

    /// Work run on an interval while serving (scans, renewals, housekeeping).
    fn periodic(&self) -> Vec<PeriodicTask> {
        Vec::new()
    }

    /// HTTP routes outside GraphQL (webhooks, signed storage URLs); they get
    /// the server's middleware but not its body limit.
    fn routes(&self) -> axum::Router {
        axum::Router::new()
    }

    /// Adds development data; domains run in list order, so later ones find
    /// what earlier ones seeded in `seed`. Must be idempotent.
    fn seed_demo<'a>(&'a self, seed: &'a DemoSeed) -> BoxFuture<'a, AppResult<()>> {
        let _ = seed;
        Box::pin(async { Ok(()) })
    }
}

/// One demo login, printed by `seed-demo`.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Role.
    pub role: crate::principal::Role,
    /// Email.
    pub email: &'static str,
    /// Password.
    pub password: &'static str,
    /// Organization.
    pub organization: &'static str,
    /// Whether this run created it (false: it existed).
    pub created: bool,
}

/// What the demo seeding shares between domains: signed-in principals of the
/// demo users, ids of seeded rows by name, and the logins to print.
#[derive(Default)]
pub struct DemoSeed {
    principals: Mutex<HashMap<&'static str, Principal>>,
    ids: Mutex<HashMap<&'static str, Uuid>>,
    logins: Mutex<Vec<DemoLogin>>,
}

impl DemoSeed {
    /// Records the principal of a demo user.
    pub fn add_principal(&self, email: &'static str, principal: Principal) {
        lock(&self.principals).insert(email, principal);
    }

    /// The principal of a demo user seeded earlier.
    pub fn principal(&self, email: &str) -> AppResult<Principal> {
        lock(&self.principals)
            .get(email)
            .cloned()
            .ok_or_else(|| crate::AppError::internal(format!("demo user {email} missing")))
    }

    /// Records the id of a seeded row under a name such as `project.website`.
    pub fn add_id(&self, name: &'static str, id: Uuid) {
        lock(&self.ids).insert(name, id);
    }

    /// The id recorded under `name`, if that row was seeded in this run.
    pub fn id(&self, name: &str) -> Option<Uuid> {
        lock(&self.ids).get(name).copied()
    }

    /// Records a login to print.
    pub fn add_login(&self, login: DemoLogin) {
        lock(&self.logins).push(login);
    }

    /// The logins, in the order they were seeded.
    pub fn logins(&self) -> Vec<DemoLogin> {
        lock(&self.logins).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Seeding runs sequentially; a poisoned lock only means an earlier panic.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
