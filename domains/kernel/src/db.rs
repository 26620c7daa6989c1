//! The PostgreSQL pool and the embedded migration history.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::InstrumentationEvent;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::Text;
use diesel_async::pooled_connection::deadpool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

/// Every migration of every domain, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The shared connection pool.
pub type Db = deadpool::Pool<AsyncPgConnection>;

/// A connection checked out of the pool.
pub type DbConn = deadpool::Object<AsyncPgConnection>;

/// Failure to check out a connection.
pub type PoolError = deadpool::PoolError;

/// Counts SQL statements run through the pool: exported as a metric, and
/// used by tests to prove that a query is served in a bounded number of statements.
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    /// Statements started so far.
    pub fn get(&self) -> u64 {
        AtomicU64::load(&self.0, Ordering::Relaxed)
    }
}

/// Builds a pool of at most `max_size` connections; connects lazily.
pub fn connect_pool(database_url: &str, max_size: usize) -> Result<Db, deadpool::BuildError> {
    connect_counted_pool(database_url, max_size, QueryCounter::default())
}

/// Like [`connect_pool`], counting every statement into `counter`.
pub fn connect_counted_pool(
    database_url: &str,
    max_size: usize,
    counter: QueryCounter,
) -> Result<Db, deadpool::BuildError> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    // A round trip per checkout doubles the statements of a cheap request;
    // broken connections are still dropped (tokio-postgres reports them).
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { .. } = event {
                    counter.0.fetch_add(1, Ordering::Relaxed);
                }
            });
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    deadpool::Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .runtime(::deadpool::Runtime::Tokio1)
        .build()
}

/// Error of the migration machinery.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Applies pending migrations on one connection; returns the versions applied.
///
/// Needs the multi-threaded tokio runtime (the harness blocks in place).
pub async fn run_migrations(conn: AsyncPgConnection) -> Result<Vec<String>, MigrationError> {
    let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
    let applied = harness.run_pending_migrations(MIGRATIONS)?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Versions of every embedded migration, oldest first.
pub fn embedded_versions() -> Result<Vec<String>, MigrationError> {
    Ok(MigrationSource::<Pg>::migrations(&MIGRATIONS)?
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect())
}

#[derive(diesel::QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Embedded migrations that this database has not applied yet.
pub async fn pending_versions(
    conn: &mut AsyncPgConnection,
    embedded: &[String],
) -> Result<Vec<String>, diesel::result::Error> {
    let applied: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .await?;
    Ok(embedded
        .iter()
        .filter(|version| !applied.iter().any(|row| &row.version == *version))
        .cloned()
        .collect())
}
