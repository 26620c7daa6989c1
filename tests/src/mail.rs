//! A real SMTP server for tests: `aiosmtpd` (PyPI) storing every message in its
//! own maildir. Each [`SmtpServer`] has its own port and folder; it can be
//! stopped and started again on the same port to test delivery retries.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// One message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope recipients (`RCPT TO`), as the server saw them.
    pub rcpt_to: Vec<String>,
    /// The `To` header.
    pub to: String,
    /// The `Subject` header.
    pub subject: String,
    /// The plain-text body (the `text/plain` part of a multipart message).
    pub text: String,
    /// The whole message as stored.
    pub raw: String,
}

/// An `aiosmtpd` process on 127.0.0.1, killed on drop.
pub struct SmtpServer {
    port: u16,
    root: PathBuf,
    child: Option<Child>,
}

impl SmtpServer {
    /// Starts a server on a free port with an empty maildir.
    ///
    /// # Panics
    /// When `aiosmtpd` is not installed (with the command that installs it) or
    /// the server does not come up.
    pub async fn start() -> SmtpServer {
        ensure_aiosmtpd();
        let port = free_port();
        let root =
            std::env::temp_dir().join(format!("fluxorae-smtp-{}", uuid::Uuid::new_v4().simple()));
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join("maildir").join(sub)).expect("create the maildir");
        }
        let mut server = SmtpServer {
            port,
            root,
            child: None,
        };
        server.restart().await;
        server
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server; connections are refused until [`restart`](Self::restart).
    /// The messages received so far are kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and maildir; waits until it
    /// answers with its `220` greeting.
    pub async fn restart(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.log_path()).expect("create the smtp log");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start aiosmtpd with {}: {error}", python()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.greets().await {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "aiosmtpd exited ({status}) on port {}:\n{}",
                    self.port,
                    self.log()
                );
            }
            if Instant::now() > deadline {
                self.stop();
                panic!(
                    "aiosmtpd did not answer on port {} within 15 s:\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn greets(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                .await
        else {
            return false;
        };
        let mut greeting = [0u8; 3];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut greeting)).await,
            Ok(Ok(_)) if &greeting == b"220"
        )
    }

    /// The maildir the server writes to.
    pub fn maildir(&self) -> PathBuf {
        self.root.join("maildir")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("aiosmtpd.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        messages_in(&[self.maildir().join("new"), self.maildir().join("cur")])
    }

    /// Waits until at least `count` messages arrived; returns them all.
    ///
    /// # Panics
    /// When fewer arrived within `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() > deadline {
                panic!(
                    "expected {count} messages within {timeout:?}, got {}: {messages:#?}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn ensure_aiosmtpd() {
    let ok = Command::new(python())
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        ok,
        "the SMTP tests need aiosmtpd: install it with `python3 -m pip install aiosmtpd` \
         (or `sudo apt-get install python3-aiosmtpd`, or run scripts/ensure-tools.sh)"
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Every message file (a maildir's, or the `.eml` files of the file mailer)
/// in `dirs`, oldest first.
pub fn messages_in(dirs: &[PathBuf]) -> Vec<ReceivedMail> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            files.push((modified, path));
        }
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, path)| read_message(&path))
        .collect()
}

fn read_message(path: &Path) -> Option<ReceivedMail> {
    let raw = String::from_utf8_lossy(&std::fs::read(path).ok()?).replace("\r\n", "\n");
    let (headers, body) = split_headers(&raw);
    let rcpt_to = header(&headers, "x-rcptto")
        .map(|list| list.split(',').map(|one| one.trim().to_owned()).collect())
        .unwrap_or_default();
    Some(ReceivedMail {
        rcpt_to,
        to: header(&headers, "to").unwrap_or_default(),
        subject: header(&headers, "subject").unwrap_or_default(),
        text: plain_text(&headers, body),
        raw,
    })
}

/// Unfolded headers (name lower-cased) and the body.
fn split_headers(message: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = message.split_once("\n\n").unwrap_or((message, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    (headers, body)
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// The text/plain content: the body itself, or the first text/plain part.
fn plain_text(headers: &[(String, String)], body: &str) -> String {
    let content_type = header(headers, "content-type").unwrap_or_default();
    if content_type.to_ascii_lowercase().starts_with("multipart/")
        && let Some(boundary) = parameter(&content_type, "boundary")
    {
        let delimiter = format!("--{boundary}");
        for part in body.split(delimiter.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part.strip_prefix('\n').unwrap_or(part);
            let (part_headers, part_body) = split_headers(part);
            let part_type = header(&part_headers, "content-type").unwrap_or_default();
            if part_type.to_ascii_lowercase().starts_with("text/plain") {
                return decode(&part_headers, part_body.trim_end_matches('\n'));
            }
        }
        return String::new();
    }
    decode(headers, body.trim_end_matches('\n'))
}

fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Undoes quoted-printable (enough for tests); 7bit and 8bit pass through.
fn decode(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "content-transfer-encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if encoding != "quoted-printable" {
        return body.to_owned();
    }
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => out.push(byte),
                    None => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
