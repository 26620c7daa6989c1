//! A real S3-compatible server for tests: `s3s-fs` 0.14.1 (crates.io), which
//! checks SigV4 signatures, presigned URLs included. Each [`S3Server`] has its
//! own port, data directory and fixed credentials; it is killed on drop.
//!
//! Install it with
//! `cargo install s3s-fs --version 0.14.1 --locked --features binary`
//! (`scripts/ensure-tools.sh` does when it is missing); newer versions need a
//! newer rustc. `S3S_FS` may name the binary.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use files::storage::{S3Config, S3Storage};

/// The command that installs the server.
pub const INSTALL_COMMAND: &str =
    "cargo install s3s-fs --version 0.14.1 --locked --features binary";

const ACCESS_KEY: &str = "fluxorae-test-access";
const SECRET_KEY: &str = "fluxorae-test-secret-9f3c1d7a";

/// An `s3s-fs` process on 127.0.0.1, killed on drop.
pub struct S3Server {
    port: u16,
    root: PathBuf,
    child: Child,
}

impl S3Server {
    /// Starts a server on a free port with an empty data directory.
    ///
    /// # Panics
    /// When `s3s-fs` is not installed (naming the command that installs it)
    /// or the server does not come up.
    pub async fn start() -> S3Server {
        let binary = binary();
        let mut root =
            std::env::temp_dir().join(format!("fluxorae-s3-{}", uuid::Uuid::new_v4().simple()));
        let data = root.join("data");
        std::fs::create_dir_all(&data).expect("create the s3 data directory");
        let log_path = root.join("s3s-fs.log");
        // Another process may take the free port before the server binds it;
        // then the server exits and we try another.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("create the s3 log");
            let child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(&data)
                // Info level for the "server is running" line readiness waits for.
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot start {}: {error}; install it with `{INSTALL_COMMAND}`",
                        binary.display()
                    )
                });
            let mut server = S3Server { port, root, child };
            if server.wait_until_listening().await {
                return server;
            }
            root = std::mem::take(&mut server.root);
            // `server` is dropped here without its directory: the next try reuses it.
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&root);
        panic!("s3s-fs did not start on a free port after 5 tries:\n{log}");
    }

    /// Waits until the server says it listens and the port answers; `false`
    /// when the process exited first (the port was taken).
    async fn wait_until_listening(&mut self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // The log line, not just a connection: another process may hold
            // the port we picked.
            if self.log().contains("server is running at")
                && tokio::net::TcpStream::connect(addr).await.is_ok()
            {
                return true;
            }
            if Instant::now() > deadline {
                panic!(
                    "s3s-fs did not listen on port {} within 15 s:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("s3s-fs.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access key the server accepts.
    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    /// The secret key that goes with [`access_key`](Self::access_key).
    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    /// A path-style configuration for `bucket` on this server (region
    /// `ap-south-1`; the server accepts any region).
    pub fn config(&self, bucket: &str) -> S3Config {
        S3Config {
            endpoint: self.endpoint(),
            region: "ap-south-1".to_string(),
            bucket: bucket.to_string(),
            access_key: ACCESS_KEY.to_string(),
            secret_key: SECRET_KEY.to_string(),
            session_token: None,
            path_style: true,
        }
    }

    /// An [`S3Storage`] for `bucket`, which it creates when missing.
    pub async fn storage(&self, bucket: &str) -> S3Storage {
        let storage =
            S3Storage::new(self.config(bucket), crate::http_client()).expect("valid S3 config");
        storage
            .create_bucket_if_missing()
            .await
            .unwrap_or_else(|error| panic!("create bucket {bucket}: {error}"));
        storage
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.root.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// `$S3S_FS`, else `s3s-fs` on PATH, else Cargo's bin directory.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("s3s-fs"))
            .find(|candidate| candidate.is_file())
    });
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin").join("s3s-fs"))
        .filter(|candidate| candidate.is_file());
    on_path.or(cargo_bin).unwrap_or_else(|| {
        panic!(
            "the storage tests need the s3s-fs server: install it with `{INSTALL_COMMAND}` \
             (or run scripts/ensure-tools.sh)"
        )
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}
