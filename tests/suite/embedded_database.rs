//! The private PostgreSQL that `serve` starts when no DATABASE_URL is given.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fluxorae_tests::fluxorae_binary;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

fn start_server(data_dir: &std::path::Path, port: u16) -> Child {
    let binary = fluxorae_binary();
    assert!(
        binary.exists(),
        "{} is missing: build it first (make test does)",
        binary.display()
    );
    Command::new(binary)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", data_dir)
        .env("APP_ENV", "test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fluxorae serve")
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = fluxorae_tests::http_client();
    while Instant::now() < deadline {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server on port {port} did not become ready");
}

fn postgres_port(data_dir: &std::path::Path) -> Option<u16> {
    let pid_file = std::fs::read_to_string(data_dir.join("postgres/postmaster.pid")).ok()?;
    pid_file.lines().nth(3)?.trim().parse().ok()
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server did not stop on SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_private_postgres_and_a_restart_keeps_the_data() {
    let data_dir = std::env::temp_dir().join(format!("fluxorae-embedded-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data_dir).expect("data dir");

    let port = free_port();
    let mut server = start_server(&data_dir, port);
    wait_ready(port).await;
    let pg_port = postgres_port(&data_dir).expect("the private PostgreSQL is running");
    let url = format!("postgres://postgres@127.0.0.1:{pg_port}/fluxorae");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    diesel::sql_query("CREATE TABLE kept (note text)")
        .execute(&mut conn)
        .await
        .expect("create");
    diesel::sql_query("INSERT INTO kept VALUES ('still here')")
        .execute(&mut conn)
        .await
        .expect("write");
    drop(conn);

    terminate(&mut server);
    assert!(
        !data_dir.join("postgres/postmaster.pid").exists(),
        "PostgreSQL must stop with the server"
    );

    let port = free_port();
    let mut server = start_server(&data_dir, port);
    wait_ready(port).await;
    let pg_port = postgres_port(&data_dir).expect("running again");
    let url = format!("postgres://postgres@127.0.0.1:{pg_port}/fluxorae");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    #[derive(diesel::QueryableByName)]
    struct Note {
        #[diesel(sql_type = diesel::sql_types::Text)]
        note: String,
    }
    let notes: Vec<Note> = diesel::sql_query("SELECT note FROM kept")
        .load(&mut conn)
        .await
        .expect("read");
    let notes: Vec<&str> = notes.iter().map(|n| n.note.as_str()).collect();
    assert_eq!(notes, ["still here"]);
    drop(conn);
    terminate(&mut server);
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A fresh directory holding a `.env` with `contents`.
fn dir_with_dot_env(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fluxorae-dotenv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    std::fs::write(dir.join(".env"), contents).expect("write .env");
    dir
}

/// Runs `fluxorae migrate` in `dir` with `env` on top of an environment
/// without the variables the `.env` there may set; returns its stderr.
fn migrate_in(dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(fluxorae_binary());
    command
        .arg("migrate")
        .current_dir(dir)
        .env_remove("APP_ENV")
        .env_remove("DATABASE_URL")
        .env_remove("STORAGE_SIGNING_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run fluxorae migrate");
    assert!(
        !output.status.success(),
        "migrate was expected to stop early"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_dot_env_file_fills_in_variables_the_environment_does_not_set() {
    let dir = dir_with_dot_env("reads", "APP_ENV=production\n");
    let from_file = migrate_in(&dir, &[]);
    assert!(
        from_file.contains("is required in production"),
        "{from_file}"
    );
    // A variable set in the environment wins over the file.
    let from_environment = migrate_in(
        &dir,
        &[
            ("APP_ENV", "development"),
            ("DATABASE_URL", "postgres://127.0.0.1:1/none"),
        ],
    );
    assert!(
        from_environment.contains("connecting to the database"),
        "{from_environment}"
    );
}

#[test]
fn a_malformed_dot_env_file_stops_the_command() {
    let dir = dir_with_dot_env("malformed", "BROKEN LINE \"\n");
    let stderr = migrate_in(&dir, &[]);
    assert!(stderr.contains("cannot read .env"), "{stderr}");
}
