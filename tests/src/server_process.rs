//! The real `fluxorae serve` binary as a child process, logging JSON to a
//! file the test reads back: for what only the binary shows (log lines,
//! process start-up).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `fluxorae serve` on a free port, killed on drop.
pub struct ServerProcess {
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

/// Signs tokens of every spawned server, so a test can sign in over REST.
pub const JWT_KEYS: &str = "process:server-process-test-signing-key-0123456789";

impl ServerProcess {
    /// Serves `database_url` (already migrated) with JSON logs at `info`, and
    /// the cheap password hashing of the test personas; `env` goes on top.
    ///
    /// # Panics
    /// When the binary is missing (build it with `cargo build -p fluxorae`)
    /// or does not answer within a minute.
    pub async fn spawn(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        let binary = crate::fluxorae_binary();
        assert!(
            binary.exists(),
            "{} is missing: build it first (cargo build -p fluxorae)",
            binary.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("free port");
        let log = std::env::temp_dir().join(format!(
            "fluxorae-serve-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let mut command = Command::new(binary);
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("APP_ENV", "test")
            .env("DATABASE_URL", database_url)
            .env("RUN_MIGRATIONS", "false")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("OUTBOX_ENABLED", "false")
            .env("JWT_KEYS", JWT_KEYS)
            .env("ARGON2_MEMORY_KIB", "1024")
            .env("ARGON2_ITERATIONS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let server = ServerProcess {
            port,
            log,
            child: Some(command.spawn().expect("start fluxorae serve")),
        };
        server.wait_until_ready().await;
        server
    }

    async fn wait_until_ready(&self) {
        let client = crate::http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(self.url("/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server (SIGTERM, so it flushes its log) and answers every
    /// JSON line it logged.
    pub fn stop(mut self) -> Vec<Value> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
        let text = std::fs::read_to_string(&self.log).expect("read the server log");
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
