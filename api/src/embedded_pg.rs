//! A private PostgreSQL cluster for development and tests.
//!
//! Drives the locally installed server binaries (`initdb`, `pg_ctl`, `postgres`) against a
//! data directory owned by the project. The server listens only on 127.0.0.1 with trust
//! authentication, keeps its unix socket inside the data directory, and keeps `fsync` on,
//! because the cluster holds real development data. Standard library only.
//!
//! The server outlives the process that started it (`pg_ctl` detaches it), so several
//! processes — parallel test binaries, a dev server, a CLI — can share one cluster:
//! the first [`EmbeddedPostgres::ensure_running`] starts it, later ones reuse it. Whoever
//! wants it gone calls [`RunningPostgres::stop`]; nothing stops it implicitly.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Database superuser created by `initdb`.
const SUPERUSER: &str = "postgres";
/// OS account the server runs as when we are root (PostgreSQL refuses to run as root).
const SERVICE_USER: &str = "postgres";
/// Where Debian/Ubuntu install versioned server binaries (`<root>/<version>/bin`).
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";
const INSTALL_HINT: &str = "install the PostgreSQL server with `sudo apt-get install -y postgresql` \
     (Debian/Ubuntu), or set DATABASE_URL to point at an existing server instead";
const START_TIMEOUT_SECS: u64 = 60;
/// A port chosen by binding port 0 can be taken by someone else before the server binds it.
const START_ATTEMPTS: usize = 3;
/// Tests open many connections (pools per test process).
const MAX_CONNECTIONS: u32 = 200;
/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const SUN_PATH_MAX: usize = 107;
/// Longest socket file name the server appends to the socket directory.
const SOCKET_FILE_SUFFIX: &str = "/.s.PGSQL.65535";
/// Bytes of `server.log` included in a start failure.
const LOG_TAIL_BYTES: u64 = 4096;

/// Where and how to run the private cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    port: Option<u16>,
}

impl EmbeddedPostgres {
    /// `data_dir` is the cluster directory (e.g. `.data/postgres`); created if missing.
    ///
    /// A relative path is resolved against the current directory when
    /// [`ensure_running`](Self::ensure_running) is called.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: None,
        }
    }

    /// Starts the server on `port` instead of a free one, so that a cluster
    /// stopped and started again is found at the same address (tests of a
    /// database outage); a server already running keeps its port.
    pub fn on_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Ensures a cluster runs on data_dir: initdb on first use, start when not running,
    /// reuse when already running (started by another process). Returns a handle.
    ///
    /// Concurrent callers (also in other processes) are serialised with an exclusive lock on
    /// `<parent of data_dir>/<data_dir name>.lock`; exactly one of them starts the server and
    /// the others reuse it.
    pub fn ensure_running(&self) -> Result<RunningPostgres, EmbeddedPgError> {
        let bins = find_binaries()?;
        let run_as = RunAs::detect()?;
        let data_dir = resolve_data_dir(&self.data_dir)?;
        let lock_path = lock_path_for(&data_dir)?;
        let _lock = acquire_lock(&lock_path)?;

        let ctl = Ctl {
            pg_ctl: bins.pg_ctl,
            run_as,
            data_dir,
        };
        ctl.prepare_data_dir()?;
        if !is_initialized(&ctl.data_dir) {
            ctl.initdb(&bins.initdb)?;
        }
        if let Some(port) = ctl.serving_port()? {
            return Ok(RunningPostgres {
                port,
                started_here: false,
                ctl,
                lock_path,
            });
        }
        let port = ctl.start(self.port)?;
        Ok(RunningPostgres {
            port,
            started_here: true,
            ctl,
            lock_path,
        })
    }
}

/// A running private cluster, as returned by [`EmbeddedPostgres::ensure_running`].
///
/// Dropping the handle leaves the server running; call [`stop`](Self::stop) to stop it.
#[derive(Debug, Clone)]
pub struct RunningPostgres {
    port: u16,
    started_here: bool,
    ctl: Ctl,
    lock_path: PathBuf,
}

impl RunningPostgres {
    /// TCP port the server listens on (on 127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// true when this process started the server (then it should stop it on shutdown)
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// Absolute path of the cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.ctl.data_dir
    }

    /// `postgres://<superuser>@127.0.0.1:<port>/<db>` (trust auth on loopback only)
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port,
            percent_encode(database)
        )
    }

    /// Stops the server (pg_ctl stop -m fast); idempotent.
    ///
    /// Returns `Ok(())` when the server is already stopped, whoever started it.
    pub fn stop(&self) -> Result<(), EmbeddedPgError> {
        let _lock = acquire_lock(&self.lock_path)?;
        if !self.ctl.pid_file().exists() {
            return Ok(());
        }
        let out = self.ctl.run(
            "pg_ctl stop",
            &self.ctl.pg_ctl,
            &[
                "stop".into(),
                "-D".into(),
                self.ctl.data_dir_str()?.to_owned(),
                "-m".into(),
                "fast".into(),
                "-w".into(),
                "-t".into(),
                START_TIMEOUT_SECS.to_string(),
            ],
        )?;
        if out.status.success() || !self.ctl.is_running()? {
            return Ok(());
        }
        Err(EmbeddedPgError::Command {
            what: format!("pg_ctl stop -D {}", self.ctl.data_dir.display()),
            output: describe_output(&out),
        })
    }
}

/// Why the private cluster could not be provided.
#[derive(Debug)]
pub enum EmbeddedPgError {
    /// `initdb`, `pg_ctl` and `postgres` were found neither on `PATH` nor under
    /// `/usr/lib/postgresql/<version>/bin`.
    BinariesNotFound {
        /// What to do about it (install command, or use `DATABASE_URL`).
        hint: String,
    },
    /// A filesystem or process-spawning operation failed: what was being done, and the error.
    Io(String, io::Error),
    /// An external command (`initdb`, `pg_ctl`, `chown`, …) failed.
    Command {
        /// The command that failed.
        what: String,
        /// Exit status, stdout, stderr (and for a failed start, the end of `server.log`).
        output: String,
    },
    /// Running as root, but the server cannot be run as its service user.
    ServiceUser {
        /// The service user (`postgres`).
        user: String,
        /// Why it cannot be used, and what to do about it.
        reason: String,
    },
    /// Running as root, and the service user cannot enter the data directory's parent.
    DataDirNotTraversable {
        /// The data directory that was asked for.
        data_dir: PathBuf,
        /// The user that must be able to reach it.
        user: String,
    },
    /// The data directory path or its contents cannot be used.
    InvalidDataDir {
        /// The data directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for EmbeddedPgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BinariesNotFound { hint } => write!(
                f,
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH \
                 or under {VERSIONED_ROOT}/<version>/bin; {hint}"
            ),
            Self::Io(context, err) => write!(f, "{context}: {err}"),
            Self::Command { what, output } => write!(f, "{what} failed:\n{output}"),
            Self::ServiceUser { user, reason } => write!(
                f,
                "running as root, and PostgreSQL refuses to run as root, so it must run as the \
                 `{user}` user, but {reason}"
            ),
            Self::DataDirNotTraversable { data_dir, user } => write!(
                f,
                "the PostgreSQL data directory {} is inside a directory the `{user}` user cannot \
                 enter (PostgreSQL refuses to run as root and runs as `{user}`); use a data \
                 directory outside it, make its parent directories traversable (chmod o+x), or \
                 set DATABASE_URL to point at an existing server instead",
                data_dir.display()
            ),
            Self::InvalidDataDir { path, reason } => write!(
                f,
                "cannot use {} as a PostgreSQL data directory: {reason}",
                path.display()
            ),
        }
    }
}

// Every variant's Display already carries the underlying message, so no `source()`: error
// reporters would otherwise print it twice.
impl std::error::Error for EmbeddedPgError {}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedPgError {
    let context = context.into();
    move |err| EmbeddedPgError::Io(context, err)
}

struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

fn find_binaries() -> Result<Binaries, EmbeddedPgError> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    candidates.retain(|dir| dir.is_absolute());
    let versions = fs::read_dir(VERSIONED_ROOT)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    candidates.extend(
        versions_descending(versions)
            .into_iter()
            .map(|version| Path::new(VERSIONED_ROOT).join(version).join("bin")),
    );
    candidates
        .into_iter()
        // pg_ctl and initdb look for `postgres` next to themselves, so all three must be together.
        .find(|dir| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|bin| is_executable(&dir.join(bin)))
        })
        .map(|dir| Binaries {
            initdb: dir.join("initdb"),
            pg_ctl: dir.join("pg_ctl"),
        })
        .ok_or_else(|| EmbeddedPgError::BinariesNotFound {
            hint: INSTALL_HINT.to_owned(),
        })
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Version directory names, highest first; names that are not versions are dropped.
fn versions_descending(names: Vec<String>) -> Vec<String> {
    let mut versions: Vec<(Vec<u32>, String)> = names
        .into_iter()
        .filter_map(|name| Some((parse_version(&name)?, name)))
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, name)| name).collect()
}

/// How commands that touch the cluster are run.
#[derive(Debug, Clone)]
enum RunAs {
    /// As the current (non-root) user.
    CurrentUser,
    /// We are root: as the service user, through `runuser` or `su`.
    ServiceUser {
        uid: u32,
        gid: u32,
        switch: SwitchUser,
    },
}

#[derive(Debug, Clone)]
enum SwitchUser {
    Runuser(PathBuf),
    Su(PathBuf),
}

impl RunAs {
    fn detect() -> Result<Self, EmbeddedPgError> {
        if effective_uid()? != 0 {
            return Ok(Self::CurrentUser);
        }
        let service_user_err = |reason: String| EmbeddedPgError::ServiceUser {
            user: SERVICE_USER.to_owned(),
            reason,
        };
        let switch = if let Some(runuser) = find_program("runuser") {
            SwitchUser::Runuser(runuser)
        } else if let Some(su) = find_program("su") {
            SwitchUser::Su(su)
        } else {
            return Err(service_user_err(
                "neither `runuser` nor `su` is available to switch to it".to_owned(),
            ));
        };
        let missing = || {
            service_user_err(format!(
                "that user does not exist; {INSTALL_HINT} (the package creates the user), \
                 or run as a non-root user"
            ))
        };
        let uid = id_of(&["-u", SERVICE_USER]).ok_or_else(missing)?;
        let gid = id_of(&["-g", SERVICE_USER]).ok_or_else(missing)?;
        Ok(Self::ServiceUser { uid, gid, switch })
    }
}

fn effective_uid() -> Result<u32, EmbeddedPgError> {
    if let Some(uid) = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_effective_uid(&status))
    {
        return Ok(uid);
    }
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    // No procfs (not Linux): ask `id`.
    id_of(&["-u"]).ok_or_else(|| {
        EmbeddedPgError::Io(
            "determining the current user id".to_owned(),
            io::Error::other("neither /proc/self nor `id -u` is available"),
        )
    })
}

/// Effective uid from the `Uid:` line of `/proc/self/status` (real, effective, saved, fs).
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn id_of(args: &[&str]) -> Option<u32> {
    let out = Command::new("id")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        // sbin is often missing from PATH in containers and non-login shells.
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Absolute, symlink-free data directory path, with its parent created.
fn resolve_data_dir(given: &Path) -> Result<PathBuf, EmbeddedPgError> {
    let invalid = |reason: &str| EmbeddedPgError::InvalidDataDir {
        path: given.to_path_buf(),
        reason: reason.to_owned(),
    };
    let absolute =
        std::path::absolute(given).map_err(io_err(format!("resolving {}", given.display())))?;
    let name = absolute
        .file_name()
        .ok_or_else(|| invalid("the path has no final directory name"))?
        .to_owned();
    let parent = absolute
        .parent()
        .ok_or_else(|| invalid("the path has no parent directory"))?;
    fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
    let resolved = if absolute.exists() {
        fs::canonicalize(&absolute)
    } else {
        fs::canonicalize(parent).map(|parent| parent.join(&name))
    }
    .map_err(io_err(format!("resolving {}", absolute.display())))?;
    match resolved.to_str() {
        // pg_ctl pastes the data directory into a double-quoted shell command.
        Some(text) if !text.contains(['"', '\\', '$', '`', '\n']) => Ok(resolved),
        Some(_) => Err(invalid(
            "the path contains a character pg_ctl cannot pass through a shell (\" \\ $ ` newline)",
        )),
        None => Err(invalid("the path is not valid UTF-8")),
    }
}

fn lock_path_for(data_dir: &Path) -> Result<PathBuf, EmbeddedPgError> {
    match (data_dir.parent(), data_dir.file_name()) {
        (Some(parent), Some(name)) => {
            let mut lock_name = name.to_owned();
            lock_name.push(".lock");
            Ok(parent.join(lock_name))
        }
        _ => Err(EmbeddedPgError::InvalidDataDir {
            path: data_dir.to_path_buf(),
            reason: "the path has no parent directory".to_owned(),
        }),
    }
}

/// Blocks until this process holds the exclusive lock; released when the file is dropped.
fn acquire_lock(path: &Path) -> Result<File, EmbeddedPgError> {
    let context = || format!("locking {}", path.display());
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        // Created by another user (e.g. root): a read-only descriptor can hold the lock too.
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            File::open(path).map_err(io_err(context()))?
        }
        other => other.map_err(io_err(context()))?,
    };
    file.lock().map_err(io_err(context()))?;
    Ok(file)
}

fn is_initialized(data_dir: &Path) -> bool {
    data_dir.join("PG_VERSION").is_file()
}

/// Runs `pg_ctl` against one data directory, as the right user.
#[derive(Debug, Clone)]
struct Ctl {
    pg_ctl: PathBuf,
    run_as: RunAs,
    data_dir: PathBuf,
}

impl Ctl {
    fn data_dir_str(&self) -> Result<&str, EmbeddedPgError> {
        self.data_dir
            .to_str()
            .ok_or_else(|| EmbeddedPgError::InvalidDataDir {
                path: self.data_dir.clone(),
                reason: "the path is not valid UTF-8".to_owned(),
            })
    }

    fn pid_file(&self) -> PathBuf {
        self.data_dir.join("postmaster.pid")
    }

    fn log_file(&self) -> PathBuf {
        self.data_dir.join("server.log")
    }

    /// Runs `program args` (as the service user when root) and returns its output whatever
    /// the exit status.
    fn run(&self, what: &str, program: &Path, args: &[String]) -> Result<Output, EmbeddedPgError> {
        let mut command = match &self.run_as {
            RunAs::CurrentUser => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            RunAs::ServiceUser {
                switch: SwitchUser::Runuser(runuser),
                ..
            } => {
                let mut command = Command::new(runuser);
                command
                    .args(["-u", SERVICE_USER, "--"])
                    .arg(program)
                    .args(args);
                command
            }
            RunAs::ServiceUser {
                switch: SwitchUser::Su(su),
                ..
            } => {
                let program = program
                    .to_str()
                    .ok_or_else(|| EmbeddedPgError::InvalidDataDir {
                        path: self.data_dir.clone(),
                        reason: format!("{} is not valid UTF-8", program.display()),
                    })?;
                let script = std::iter::once(program)
                    .chain(args.iter().map(String::as_str))
                    .map(shell_quote)
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut command = Command::new(su);
                command.args(["-s", "/bin/sh", "-c", &script, SERVICE_USER]);
                command
            }
        };
        command
            // The service user may not be able to enter our working directory.
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err(format!("running {what} ({})", program.display())))
    }

    fn run_ok(
        &self,
        what: &str,
        program: &Path,
        args: &[String],
    ) -> Result<Output, EmbeddedPgError> {
        let out = self.run(what, program, args)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(EmbeddedPgError::Command {
                what: what.to_owned(),
                output: describe_output(&out),
            })
        }
    }

    /// Creates the data directory (mode 0700) and, when root, hands it to the service user.
    fn prepare_data_dir(&self) -> Result<(), EmbeddedPgError> {
        let dir = &self.data_dir;
        if let RunAs::ServiceUser { .. } = self.run_as {
            let parent = dir.parent().unwrap_or(Path::new("/"));
            let parent_str = parent.to_str().unwrap_or("/").to_owned();
            let test = find_program("test").unwrap_or_else(|| PathBuf::from("/usr/bin/test"));
            let out = self.run(
                "checking access to the data directory",
                &test,
                &["-x".into(), parent_str],
            )?;
            if !out.status.success() {
                return Err(EmbeddedPgError::DataDirNotTraversable {
                    data_dir: dir.clone(),
                    user: SERVICE_USER.to_owned(),
                });
            }
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Err(err) if err.kind() != io::ErrorKind::AlreadyExists => {
                return Err(EmbeddedPgError::Io(
                    format!("creating {}", dir.display()),
                    err,
                ));
            }
            _ => {}
        }
        if let RunAs::ServiceUser { uid, gid, .. } = self.run_as {
            let meta =
                fs::metadata(dir).map_err(io_err(format!("inspecting {}", dir.display())))?;
            if meta.uid() != uid {
                if is_initialized(dir) {
                    return Err(EmbeddedPgError::InvalidDataDir {
                        path: dir.clone(),
                        reason: format!(
                            "it holds a cluster owned by uid {}, not by the `{SERVICE_USER}` user \
                             (uid {uid}) the server must run as when started by root",
                            meta.uid()
                        ),
                    });
                }
                let out = Command::new("chown")
                    .arg(format!("{uid}:{gid}"))
                    .arg(dir)
                    .stdin(Stdio::null())
                    .output()
                    .map_err(io_err("running chown"))?;
                if !out.status.success() {
                    return Err(EmbeddedPgError::Command {
                        what: format!("chown {uid}:{gid} {}", dir.display()),
                        output: describe_output(&out),
                    });
                }
            }
        }
        Ok(())
    }

    fn initdb(&self, initdb: &Path) -> Result<(), EmbeddedPgError> {
        self.run_ok(
            &format!("initdb -D {}", self.data_dir.display()),
            initdb,
            &[
                "-D".into(),
                self.data_dir_str()?.to_owned(),
                "--auth=trust".into(),
                format!("--username={SUPERUSER}"),
                "--encoding=UTF8".into(),
                // The C locale exists everywhere, so the cluster does not depend on the host.
                "--locale=C".into(),
            ],
        )?;
        Ok(())
    }

    /// Whether a live server owns the data directory (`pg_ctl status`).
    fn is_running(&self) -> Result<bool, EmbeddedPgError> {
        if !self.pid_file().exists() {
            return Ok(false);
        }
        let out = self.run(
            "pg_ctl status",
            &self.pg_ctl,
            &[
                "status".into(),
                "-D".into(),
                self.data_dir_str()?.to_owned(),
            ],
        )?;
        // pg_ctl status: 0 = running, 3 = not running (a stale postmaster.pid).
        match out.status.code() {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => Err(EmbeddedPgError::Command {
                what: format!("pg_ctl status -D {}", self.data_dir.display()),
                output: describe_output(&out),
            }),
        }
    }

    /// Port of the server already running on the data directory, once it accepts TCP
    /// connections; `None` when no server is running (or it went away while we waited).
    fn serving_port(&self) -> Result<Option<u16>, EmbeddedPgError> {
        let pid_file = self.pid_file();
        let deadline = Instant::now() + Duration::from_secs(START_TIMEOUT_SECS);
        loop {
            // Asked again on every round: a killed postmaster whose parent has not reaped it
            // yet still counts as running for a moment.
            if !self.is_running()? {
                return Ok(None);
            }
            let info = match fs::read_to_string(&pid_file) {
                Ok(contents) => parse_pid_file(&contents),
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(err) => {
                    return Err(EmbeddedPgError::Io(
                        format!("reading {}", pid_file.display()),
                        err,
                    ));
                }
            };
            // Another process may have started it without waiting for readiness.
            if let Some(port) = info
                .port
                .filter(|&port| info.is_ready() && accepts_tcp(port))
            {
                return Ok(Some(port));
            }
            if Instant::now() >= deadline {
                return Err(EmbeddedPgError::Command {
                    what: format!(
                        "waiting for the server already running on {} to accept connections",
                        self.data_dir.display()
                    ),
                    output: format!(
                        "after {START_TIMEOUT_SECS}s postmaster.pid says port {:?}, status {:?}, \
                         but 127.0.0.1 does not accept connections there; see {}",
                        info.port,
                        info.status,
                        self.log_file().display()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the server on the `fixed` port, or on a free loopback port, and returns the port.
    fn start(&self, fixed: Option<u16>) -> Result<u16, EmbeddedPgError> {
        let data_dir = self.data_dir_str()?.to_owned();
        let log_file = self.log_file();
        let log_str = log_file.to_str().unwrap_or_default().to_owned();
        let mut attempt = 1;
        loop {
            let port = match fixed {
                Some(port) => port,
                None => free_port()?,
            };
            let log_offset = fs::metadata(&log_file).map(|meta| meta.len()).unwrap_or(0);
            let out = self.run(
                "pg_ctl start",
                &self.pg_ctl,
                &[
                    "start".into(),
                    "-w".into(),
                    "-t".into(),
                    START_TIMEOUT_SECS.to_string(),
                    "-D".into(),
                    data_dir.clone(),
                    "-l".into(),
                    log_str.clone(),
                    "-o".into(),
                    server_options(&data_dir, port),
                ],
            )?;
            if out.status.success() {
                // The pid file is the server's own word on its port.
                let actual = fs::read_to_string(self.pid_file())
                    .ok()
                    .and_then(|contents| parse_pid_file(&contents).port);
                return Ok(actual.unwrap_or(port));
            }
            let log = read_from(&log_file, log_offset);
            if fixed.is_none() && attempt < START_ATTEMPTS && is_port_conflict(&log) {
                attempt += 1;
                continue;
            }
            return Err(EmbeddedPgError::Command {
                what: format!("pg_ctl start -D {data_dir} (port {port})"),
                output: format!(
                    "{}\nserver.log ({}):\n{}",
                    describe_output(&out),
                    log_file.display(),
                    log.trim_end()
                ),
            });
        }
    }
}

fn accepts_tcp(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

fn free_port() -> Result<u16, EmbeddedPgError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(io_err("finding a free port on 127.0.0.1"))
}

/// The `-o` argument of `pg_ctl start`, which pg_ctl passes through `/bin/sh`.
fn server_options(data_dir: &str, port: u16) -> String {
    let socket_dirs = if data_dir.len() + SOCKET_FILE_SUFFIX.len() <= SUN_PATH_MAX {
        // Double quotes keep a path with commas or spaces one list element for the server.
        format!("\"{}\"", data_dir.replace('"', "\"\""))
    } else {
        // Too long for a unix socket path: TCP only (that is what url() uses anyway).
        String::new()
    };
    [
        "listen_addresses=127.0.0.1".to_owned(),
        format!("port={port}"),
        format!("unix_socket_directories={socket_dirs}"),
        format!("max_connections={MAX_CONNECTIONS}"),
    ]
    .iter()
    .map(|setting| format!("-c {}", shell_quote(setting)))
    .collect::<Vec<_>>()
    .join(" ")
}

fn is_port_conflict(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not bind")
}

/// The tail (at most [`LOG_TAIL_BYTES`]) of what was appended to `path` after `offset`.
fn read_from(path: &Path, offset: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let start = offset.max(len.saturating_sub(LOG_TAIL_BYTES));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What `postmaster.pid` says about the server.
#[derive(Debug, PartialEq, Eq)]
struct PidFileInfo {
    /// Line 4.
    port: Option<u16>,
    /// Line 8 (`starting`, `ready`, `stopping`, `standby`); absent while the server starts.
    status: Option<String>,
}

impl PidFileInfo {
    fn is_ready(&self) -> bool {
        matches!(self.status.as_deref(), Some("ready" | "standby"))
    }
}

fn parse_pid_file(contents: &str) -> PidFileInfo {
    let mut lines = contents.lines();
    let port = lines
        .nth(3)
        .and_then(|line| line.trim().parse().ok())
        .filter(|port| *port != 0);
    let status = lines
        .nth(3)
        .map(str::trim)
        .filter(|status| !status.is_empty())
        .map(str::to_owned);
    PidFileInfo { port, status }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

fn describe_output(out: &Output) -> String {
    let stream = |name: &str, bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end();
        if text.is_empty() {
            String::new()
        } else {
            format!("\n{name}:\n{text}")
        }
    };
    format!(
        "{}{}{}",
        out.status,
        stream("stdout", &out.stdout),
        stream("stderr", &out.stderr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID_FILE: &str = "4242\n/work/.data/postgres\n1732528800\n54321\n/work/.data/postgres\n127.0.0.1\n  5432001    262144\nready   \n";

    #[test]
    fn port_is_line_four_of_postmaster_pid() {
        let info = parse_pid_file(PID_FILE);
        assert_eq!(info.port, Some(54321));
        assert_eq!(info.status.as_deref(), Some("ready"));
        assert!(info.is_ready());
    }

    #[test]
    fn pid_file_of_a_starting_server_is_not_ready() {
        let starting = PID_FILE.replace("ready   ", "starting");
        assert!(!parse_pid_file(&starting).is_ready());
        let early = "4242\n/d\n1732528800\n5433\n";
        let info = parse_pid_file(early);
        assert_eq!(
            info,
            PidFileInfo {
                port: Some(5433),
                status: None
            }
        );
        assert!(!info.is_ready());
    }

    #[test]
    fn garbage_pid_file_has_no_port() {
        assert_eq!(parse_pid_file("").port, None);
        assert_eq!(parse_pid_file("1\n2\n3\nnot-a-port\n").port, None);
        assert_eq!(parse_pid_file("1\n2\n3\n0\n").port, None);
        assert_eq!(parse_pid_file("1\n2\n3\n70000\n").port, None);
    }

    #[test]
    fn highest_version_dir_comes_first() {
        let names = ["9.6", "15", "README", "10", "16beta1", "13"]
            .map(String::from)
            .to_vec();
        assert_eq!(versions_descending(names), ["15", "13", "10", "9.6"]);
        assert!(versions_descending(Vec::new()).is_empty());
    }

    #[test]
    fn effective_uid_is_second_field_of_uid_line() {
        let status = "Name:\tcat\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tcat\n"), None);
    }

    #[test]
    fn server_options_survive_the_shell() {
        let options = server_options("/work/.data/postgres", 5433);
        assert_eq!(
            options,
            "-c 'listen_addresses=127.0.0.1' -c 'port=5433' \
             -c 'unix_socket_directories=\"/work/.data/postgres\"' -c 'max_connections=200'"
        );
        let long = format!("/{}", "d".repeat(100));
        assert!(server_options(&long, 1).contains("-c 'unix_socket_directories=' "));
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn url_uses_superuser_and_loopback() {
        let running = RunningPostgres {
            port: 5433,
            started_here: true,
            ctl: Ctl {
                pg_ctl: PathBuf::from("/usr/bin/pg_ctl"),
                run_as: RunAs::CurrentUser,
                data_dir: PathBuf::from("/d/postgres"),
            },
            lock_path: PathBuf::from("/d/postgres.lock"),
        };
        assert_eq!(
            running.url("fluxorae"),
            "postgres://postgres@127.0.0.1:5433/fluxorae"
        );
        assert_eq!(
            running.url("a b/c"),
            "postgres://postgres@127.0.0.1:5433/a%20b%2Fc"
        );
    }

    #[test]
    fn lock_file_sits_next_to_the_data_dir() {
        assert_eq!(
            lock_path_for(Path::new("/w/.data/postgres")).ok(),
            Some(PathBuf::from("/w/.data/postgres.lock"))
        );
        assert!(lock_path_for(Path::new("/")).is_err());
    }

    #[test]
    fn missing_binaries_message_names_the_install_command() {
        let message = EmbeddedPgError::BinariesNotFound {
            hint: INSTALL_HINT.to_owned(),
        }
        .to_string();
        assert!(message.contains("sudo apt-get install -y postgresql"));
        assert!(message.contains("DATABASE_URL"));
    }
}
