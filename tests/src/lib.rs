//! Test harness: a real server on 127.0.0.1:0 per test, each with a fresh
//! database cloned from a migrated template, plus HTTP, in-process and
//! websocket helpers.

pub mod mail;
pub mod private_cluster;
pub mod s3;
pub mod server_process;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fluxorae::config::Config;
use fluxorae::embedded_pg::EmbeddedPostgres;
use fluxorae::http::AppState;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

static SERVER: OnceCell<DatabaseServer> = OnceCell::const_new();

/// The PostgreSQL server the tests use, and the template every test clones.
struct DatabaseServer {
    /// URL of the server's `postgres` database, for CREATE/DROP DATABASE.
    admin_url: String,
    template: String,
}

impl DatabaseServer {
    fn url_of(&self, database: &str) -> String {
        replace_database(&self.admin_url, database)
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Where the harness keeps its private cluster when no database URL is given.
fn private_cluster_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-postgres")
}

async fn database_server() -> &'static DatabaseServer {
    SERVER
        .get_or_init(|| async {
            let admin_url = match std::env::var("TEST_DATABASE_URL")
                .or_else(|_| std::env::var("DATABASE_URL"))
            {
                Ok(url) if !url.is_empty() => replace_database(&url, "postgres"),
                _ => {
                    let cluster = EmbeddedPostgres::new(private_cluster_dir());
                    let running = tokio::task::spawn_blocking(move || cluster.ensure_running())
                        .await
                        .expect("join")
                        .unwrap_or_else(|error| panic!("{error}"));
                    running.url("postgres")
                }
            };
            let template = prepare_template(&admin_url).await;
            DatabaseServer {
                admin_url,
                template,
            }
        })
        .await
}

/// Builds the migrated template once per migration set; concurrent test
/// processes serialise on an advisory lock.
async fn prepare_template(admin_url: &str) -> String {
    let template = format!("fluxorae_tmpl_{:016x}", migrations_fingerprint());
    let mut admin = AsyncPgConnection::establish(admin_url)
        .await
        .expect("connect to the test PostgreSQL server");
    diesel::sql_query("SELECT pg_advisory_lock(7226071)")
        .execute(&mut admin)
        .await
        .expect("template lock");
    #[derive(diesel::QueryableByName)]
    struct Template {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        datistemplate: bool,
    }
    let existing: Vec<Template> =
        diesel::sql_query("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(&template)
            .load(&mut admin)
            .await
            .expect("look up template");
    // A template is marked only once fully migrated; anything else is a
    // leftover of a crashed run.
    if !existing.iter().any(|row| row.datistemplate) {
        if !existing.is_empty() {
            drop_database(&mut admin, &template).await;
        }
        diesel::sql_query(format!("CREATE DATABASE \"{template}\""))
            .execute(&mut admin)
            .await
            .expect("create template");
        let url = replace_database(admin_url, &template);
        fluxorae::server::migrate(&url)
            .await
            .expect("migrate template");
        diesel::sql_query(format!("ALTER DATABASE \"{template}\" IS_TEMPLATE true"))
            .execute(&mut admin)
            .await
            .expect("mark template");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(7226071)")
        .execute(&mut admin)
        .await
        .expect("template unlock");
    template
}

/// Changes whenever any migration file changes, so an edited migration never
/// reuses a stale template.
fn migrations_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    fn visit(dir: &std::path::Path, files: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read migrations").flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, files);
            } else {
                let content = std::fs::read(&path).expect("read migration");
                files.push((path.display().to_string(), content));
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files = Vec::new();
    visit(&root, &mut files);
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    files.hash(&mut hasher);
    // And what this binary embeds, in case it was built before a change on disk.
    kernel::db::embedded_versions()
        .expect("embedded migrations")
        .hash(&mut hasher);
    hasher.finish()
}

async fn drop_database(admin: &mut AsyncPgConnection, name: &str) {
    let _ = diesel::sql_query(format!("ALTER DATABASE \"{name}\" IS_TEMPLATE false"))
        .execute(admin)
        .await;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(admin)
        .await
        .expect("drop database");
}

/// A fresh database cloned from the migrated template, dropped with the value.
pub struct TestDatabase {
    /// Database name.
    pub name: String,
    /// Connection URL.
    pub url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a database for one test.
    pub async fn create() -> Self {
        let server = database_server().await;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server.admin_url)
            .await
            .expect("connect admin");
        let create = format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
            server.template
        );
        let mut attempt = 0;
        loop {
            match diesel::sql_query(&create).execute(&mut admin).await {
                Ok(_) => break,
                // Cloning waits for no one; retry the rare "template in use" race.
                Err(error) if attempt < 20 => {
                    attempt += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("create test database: {error}"),
            }
        }
        Self {
            url: server.url_of(&name),
            name,
            admin_url: server.admin_url.clone(),
        }
    }

    /// A direct connection to this database.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connect")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    drop_database(&mut admin, &name).await;
                }
            });
        })
        .join();
    }
}

/// An HTTP client; installs the TLS provider the project uses first, as the
/// server does, because reqwest is built without a default one.
pub fn http_client() -> reqwest::Client {
    fluxorae::server::install_tls_provider();
    reqwest::Client::new()
}

/// The configuration tests start from: test environment, small pool, short timeouts.
pub fn test_config() -> Config {
    let mut config = Config::from_lookup(|name| (name == "APP_ENV").then(|| "test".to_string()))
        .expect("default config");
    config.db_pool_size = 4;
    config.ws_init_timeout = Duration::from_secs(2);
    config.shutdown_grace = Duration::from_secs(2);
    config.outbox_poll = Duration::from_millis(50);
    // Tests run the SLA scan themselves, at the moment they choose.
    config.domains.support.sla_scan_interval = None;
    config.mail_url = "log".into();
    // Cheap hashes keep the suite fast; production cost is set by ARGON2_*.
    config.domains.auth.password_hashing = auth::config::PasswordHashing {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    // Personas sign in from one address; tests of the limits set their own.
    config.domains.auth.rate_limits.login_per_ip_per_minute = 10_000;
    config.domains.auth.rate_limits.register_per_ip_per_hour = 10_000;
    config
}

/// A signed-in user of one role, created for a test.
#[derive(Debug, Clone)]
pub struct Persona {
    /// Role.
    pub role: kernel::Role,
    /// User id.
    pub user_id: uuid::Uuid,
    /// Organization id.
    pub organization_id: uuid::Uuid,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Access token of a fresh session.
    pub token: String,
    /// Refresh token of that session.
    pub refresh_token: String,
}

/// Password every persona gets.
pub const PERSONA_PASSWORD: &str = "Harbour Lights 5521";

/// A running server with its own database.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The server's state: schema, pool, configuration.
    pub state: AppState,
    /// An HTTP client.
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The test's database, dropped after the server; `None` for a second
    /// instance sharing another app's database.
    pub database: Option<TestDatabase>,
    database_url: String,
}

impl TestApp {
    /// A server with the test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create().await;
        let url = database.url.clone();
        Self::start(Some(database), url, adjust).await
    }

    /// A server on the database at `database_url`, which the test owns (a
    /// [`private_cluster::PrivateCluster`] it stops and restarts).
    pub async fn spawn_on(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start(None, database_url.to_string(), adjust).await
    }

    /// A second server instance on this app's database, as when several API
    /// instances run behind a load balancer. Its configuration shares the
    /// first one's signing keys.
    pub async fn spawn_alongside(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let auth = self.state.config.domains.auth.clone();
        Self::start(None, self.database_url.clone(), move |config| {
            config.domains.auth = auth;
            adjust(config);
        })
        .await
    }

    async fn start(
        database: Option<TestDatabase>,
        database_url: String,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = test_config();
        config.database_url = Some(database_url.clone());
        config.run_migrations = false;
        // Mail goes to files the test reads back (`last_email_to`).
        config.mail_url = format!(
            "file:{}",
            std::env::temp_dir()
                .join(format!("fluxorae-mail-{}", uuid::Uuid::new_v4().simple()))
                .display()
        );
        config.domains.files.storage = files::StorageSettings::Local {
            dir: std::env::temp_dir()
                .join(format!("fluxorae-files-{}", uuid::Uuid::new_v4().simple())),
            base_url: format!("http://{addr}"),
        };
        adjust(&mut config);
        let state = fluxorae::server::build_state(config, &database_url)
            .await
            .expect("build state");
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            if let Err(error) = fluxorae::server::serve(listener, server_state, stop).await {
                eprintln!("test server failed: {error:#}");
            }
        });
        Self {
            addr,
            state,
            http: http_client(),
            shutdown: Some(shutdown),
            server: Some(server),
            database,
            database_url,
        }
    }

    /// A direct connection to the app's database.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connect")
    }

    /// Creates a user of `role` in `organization` (created when missing, joined
    /// by its id when it exists, as an operator does with `--org-id`; staff go
    /// to the agency) and signs in.
    pub async fn persona_in(&self, role: kernel::Role, organization: Option<&str>) -> Persona {
        let email = format!(
            "{}-{}@example.test",
            role.as_db(),
            uuid::Uuid::new_v4().simple()
        );
        let meta = kernel::RequestMeta::default();
        let choice = match organization {
            None => auth::service::OrganizationChoice::Agency,
            Some(name) => match self.organization_named(name).await {
                Some(id) => auth::service::OrganizationChoice::Id(id),
                None => auth::service::OrganizationChoice::Name(name),
            },
        };
        let (user, org) = self
            .state
            .auth()
            .create_user(&email, PERSONA_PASSWORD, role, choice, &meta)
            .await
            .unwrap_or_else(|error| panic!("create persona: {:?}", error.message()));
        let session = match self
            .state
            .auth()
            .login(&email, PERSONA_PASSWORD, &meta)
            .await
            .unwrap_or_else(|error| panic!("persona login: {:?}", error.message()))
        {
            auth::service::LoginOutcome::Signed(session) => session,
            auth::service::LoginOutcome::MfaRequired(_) => panic!("persona has MFA"),
        };
        Persona {
            role,
            user_id: user.id,
            organization_id: org.id,
            email,
            password: PERSONA_PASSWORD.to_string(),
            token: session.access_token,
            refresh_token: session.refresh_token,
        }
    }

    /// The id of the organization named `name` (compared without case), if any.
    pub async fn organization_named(&self, name: &str) -> Option<uuid::Uuid> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        let rows: Vec<Row> =
            diesel::sql_query("SELECT id FROM organizations WHERE lower(name) = lower($1)")
                .bind::<diesel::sql_types::Text, _>(name)
                .load(&mut self.db().await)
                .await
                .expect("look up an organization by name");
        rows.into_iter().next().map(|row| row.id)
    }

    /// A persona of `role` in the default organization for it: the agency for
    /// staff and freelancers, "Acme Pvt Ltd" for clients, "Northwind Partners"
    /// for partners.
    pub async fn persona(&self, role: kernel::Role) -> Persona {
        let organization = match role {
            kernel::Role::Client => Some("Acme Pvt Ltd"),
            kernel::Role::Partner => Some("Northwind Partners"),
            _ => None,
        };
        self.persona_in(role, organization).await
    }

    /// Makes `partner`'s organization the referrer of `client`'s the way it
    /// happens in production: the partner refers the existing organization by
    /// name (a pending referral) and an admin approves it over GraphQL.
    pub async fn refer(&self, partner: &Persona, client: &Persona) {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let organization: Name = diesel::sql_query("SELECT name FROM organizations WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(client.organization_id)
            .get_result(&mut self.db().await)
            .await
            .expect("the client's organization");
        let referral = self
            .data(
                partner,
                "mutation($name: String!) { referClientOrganization(input: { name: $name }) { id status } }",
                json!({ "name": organization.name }),
            )
            .await;
        let referral = &referral["referClientOrganization"];
        assert_eq!(referral["status"], "PENDING", "{referral}");
        let reviewer = self.persona(kernel::Role::Admin).await;
        let approved = self
            .data(
                &reviewer,
                "mutation($id: ID!) { approveOrganizationReferral(referralId: $id) { status } }",
                json!({ "id": referral["id"] }),
            )
            .await;
        assert_eq!(
            approved["approveOrganizationReferral"]["status"], "APPROVED",
            "{approved}"
        );
    }

    /// Runs the outbox until no job is due and none is running (emails are
    /// sent by then, including those that other jobs enqueued). A job the
    /// server's own worker claimed is waited for, up to ten seconds.
    pub async fn drain_outbox(&self) {
        #[derive(diesel::QueryableByName)]
        struct Busy {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for _ in 0..500 {
            match self.state.outbox.run_once().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => panic!("outbox: {error}"),
            }
            let busy: Busy = diesel::sql_query(
                "SELECT count(*) AS n FROM jobs WHERE status = 'running' \
                 OR (status = 'pending' AND run_at <= now())",
            )
            .get_result(&mut self.db().await)
            .await
            .expect("count busy jobs");
            if busy.n == 0 || std::time::Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last email sent to `to` (after draining the outbox), as the
    /// test's file mailer delivered it (a sent email keeps no body in the
    /// outbox). `None` when the app mails elsewhere or nothing reached `to`.
    pub async fn last_email_to(&self, to: &str) -> Option<mail::ReceivedMail> {
        self.drain_outbox().await;
        let dir = self
            .state
            .config
            .mail_url
            .strip_prefix("file:")?
            .trim_start_matches("//");
        mail::messages_in(&[PathBuf::from(dir)])
            .into_iter()
            .rev()
            .find(|message| message.to.contains(to))
    }

    /// Registers over REST and confirms from the emailed link, as a newcomer
    /// does; answers the session body of the confirmation.
    pub async fn register_confirmed(&self, registration: Value) -> Value {
        let email = registration["email"].as_str().expect("email").to_string();
        let response = self
            .http
            .post(self.url("/auth/register"))
            .json(&registration)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status().as_u16(), 202, "register {email}");
        let mail = self
            .last_email_to(&email)
            .await
            .unwrap_or_else(|| panic!("no email to {email}"));
        let (_, rest) = mail
            .text
            .split_once("/confirm-registration?token=")
            .unwrap_or_else(|| panic!("no confirmation link in {mail:?}"));
        let token = rest.split_whitespace().next().expect("a token");
        let response = self
            .http
            .post(self.url("/auth/register/confirm"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("confirm");
        assert_eq!(response.status().as_u16(), 201, "confirm {email}");
        response.json().await.expect("session body")
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs an operation to `/graphql` and returns the status and JSON body.
    pub async fn post_graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let body = response.json().await.expect("json body");
        (status, body)
    }

    /// Runs an operation over HTTP and returns the JSON body.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.post_graphql(token, query, variables).await.1
    }

    /// The `data` of an operation that must succeed; panics with the body otherwise.
    pub async fn data(&self, token: impl Token, query: &str, variables: Value) -> Value {
        let body = self.graphql(token.token(), query, variables).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// The first error of an operation that must fail; panics with the body otherwise.
    pub async fn failure(&self, token: impl Token, query: &str, variables: Value) -> Value {
        let body = self.graphql(token.token(), query, variables).await;
        assert!(
            body.get("errors").is_some(),
            "{query}: expected an error, got {body}"
        );
        body["errors"][0].clone()
    }

    /// `extensions.code` of an operation's first error, or `"none"` when it succeeded.
    pub async fn error_code(&self, token: impl Token, query: &str, variables: Value) -> String {
        let body = self.graphql(token.token(), query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("none")
            .to_string()
    }

    /// Executes an operation in process, as the given viewer.
    pub async fn execute(
        &self,
        viewer: kernel::Viewer,
        query: &str,
        variables: Value,
    ) -> async_graphql::Response {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(viewer);
        async_graphql::Schema::execute(&self.state.schema, request).await
    }

    /// Opens a websocket to `/graphql/ws` offering the given subprotocol
    /// (none when empty).
    pub async fn ws(&self, subprotocol: &str) -> WsClient {
        WsClient::connect(&format!("ws://{}/graphql/ws", self.addr), subprotocol).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.shutdown_server().await;
    }

    async fn shutdown_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A websocket client speaking JSON messages.
pub struct WsClient {
    stream: WsStream,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
}

/// What the server sent next.
#[derive(Debug, PartialEq)]
pub enum WsEvent {
    /// A JSON text message.
    Json(Value),
    /// A close frame with its code and reason.
    Closed(u16, String),
}

impl WsClient {
    /// Opens a websocket to `url` offering the given subprotocol (none when
    /// empty).
    pub async fn connect(url: &str, subprotocol: &str) -> WsClient {
        let mut request = url.into_client_request().expect("ws request");
        if !subprotocol.is_empty() {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                subprotocol.parse().expect("header"),
            );
        }
        let (stream, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connect");
        WsClient {
            stream,
            protocol: response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("ws send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON message or close frame, waiting at most five seconds.
    pub async fn next_event(&mut self) -> WsEvent {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), self.stream.next())
                .await
                .expect("a websocket message within 5 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return WsEvent::Json(serde_json::from_str(&text).expect("json message"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map_or(WsEvent::Closed(1005, String::new()), |frame| {
                        WsEvent::Closed(frame.code.into(), frame.reason.to_string())
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("websocket error: {error}"),
                None => return WsEvent::Closed(1006, String::new()),
            }
        }
    }

    /// The next message, which must be JSON.
    pub async fn next_json(&mut self) -> Value {
        match self.next_event().await {
            WsEvent::Json(value) => value,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The next event, which must be a close frame; returns its code.
    pub async fn expect_close(&mut self) -> u16 {
        match self.next_event().await {
            WsEvent::Closed(code, _) => code,
            other => panic!("expected close, got {other:?}"),
        }
    }

    /// Sends `connection_init` (with a bearer token when given) and expects the ack.
    pub async fn init(&mut self, token: Option<&str>) {
        let payload = match token {
            Some(token) => json!({ "authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(self.next_json().await, json!({ "type": "connection_ack" }));
    }
}

/// Whoever an operation runs as: a token, a persona, or nobody (`None`).
pub trait Token {
    /// The bearer token, if any.
    fn token(&self) -> Option<&str>;
}

impl Token for &str {
    fn token(&self) -> Option<&str> {
        Some(self)
    }
}

impl Token for &String {
    fn token(&self) -> Option<&str> {
        Some(self.as_str())
    }
}

impl Token for Option<&str> {
    fn token(&self) -> Option<&str> {
        *self
    }
}

impl Token for &Persona {
    fn token(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// The input paths in an error's `extensions.fields`, in order.
pub fn error_fields(error: &Value) -> Vec<String> {
    error["extensions"]["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|field| field["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Path of the `fluxorae` binary built next to the test binary.
pub fn fluxorae_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("current exe");
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile dir");
    profile_dir.join("fluxorae")
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_urls_swap_only_the_database_name() {
        assert_eq!(
            replace_database("postgres://u@127.0.0.1:5432/app?sslmode=disable", "t_1"),
            "postgres://u@127.0.0.1:5432/t_1?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@localhost", "t_1"),
            "postgres://u@localhost/t_1"
        );
    }
}
