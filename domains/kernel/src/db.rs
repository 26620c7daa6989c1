//! The PostgreSQL pool and the embedded migration history.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::Text;
use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration of every domain, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The shared connection pool.
pub type Db = deadpool::Pool<AsyncPgConnection>;

/// A connection checked out of the pool.
pub type DbConn = deadpool::Object<AsyncPgConnection>;

/// Failure to check out a connection.
pub type PoolError = deadpool::PoolError;

/// Builds a pool of at most `max_size` connections; connects lazily.
pub fn connect_pool(database_url: &str, max_size: usize) -> Result<Db, deadpool::BuildError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
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
