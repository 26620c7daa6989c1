//! A PostgreSQL cluster of one test's own, which the test stops and starts
//! again (on the same port) to see what clients get while the database is
//! away. The shared test server cannot be stopped: other tests use it.

use std::path::PathBuf;

use fluxorae::embedded_pg::{EmbeddedPostgres, RunningPostgres};

/// A private cluster with the migrated application database.
pub struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    running: RunningPostgres,
}

impl PrivateCluster {
    /// Starts a fresh cluster on a free port and migrates its `fluxorae` database.
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("fluxorae-outage-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster parent dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("free port");
        let running = Self::ensure_running(&dir, port).await;
        let cluster = Self { dir, port, running };
        fluxorae::server::create_database_if_missing(&cluster.running.url("postgres"), "fluxorae")
            .await
            .expect("create the database");
        fluxorae::server::migrate(&cluster.url())
            .await
            .expect("migrate the database");
        cluster
    }

    async fn ensure_running(dir: &std::path::Path, port: u16) -> RunningPostgres {
        let cluster = EmbeddedPostgres::new(dir.join("postgres")).on_port(port);
        tokio::task::spawn_blocking(move || cluster.ensure_running())
            .await
            .expect("join")
            .unwrap_or_else(|error| panic!("private PostgreSQL: {error}"))
    }

    /// URL of the application database.
    pub fn url(&self) -> String {
        self.running.url("fluxorae")
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub async fn stop(&self) {
        let running = self.running.clone();
        tokio::task::spawn_blocking(move || running.stop())
            .await
            .expect("join")
            .unwrap_or_else(|error| panic!("stopping the private PostgreSQL: {error}"));
    }

    /// Starts the server again on the same port, with the same data.
    pub async fn restart(&mut self) {
        self.running = Self::ensure_running(&self.dir, self.port).await;
        assert_eq!(self.running.port(), self.port, "restarted on another port");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.running.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
