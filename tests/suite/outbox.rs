//! The outbox and the mailer against a real PostgreSQL and a real SMTP server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::sql_types::{Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fluxorae_tests::TestDatabase;
use fluxorae_tests::mail::SmtpServer;
use kernel::mailer::{self, Email, LogMailer, Mailer, SendEmailHandler, SmtpMailer};
use kernel::outbox::{self, JobError, JobHandler, OutboxConfig, OutboxWorker, async_trait};
use serde_json::{Value, json};
use uuid::Uuid;

const FROM: &str = "Fluxorae <noreply@fluxorae.test>";

/// Small timings so retries happen within a test; a retry is still a second
/// away, so "run_at is in the future" is observable.
fn fast() -> OutboxConfig {
    OutboxConfig {
        poll_interval: Duration::from_millis(20),
        batch_size: 8,
        lease: Duration::from_secs(30),
        base_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(5),
    }
}

fn worker(
    db: &TestDatabase,
    handlers: Vec<Arc<dyn JobHandler>>,
    config: OutboxConfig,
) -> OutboxWorker {
    let pool = kernel::db::connect_pool(&db.url, 4).expect("pool");
    OutboxWorker::new(pool, handlers, config)
}

fn smtp_handler(server: &SmtpServer) -> Arc<dyn JobHandler> {
    let mailer: Arc<dyn Mailer> =
        Arc::new(SmtpMailer::new(&server.url(), FROM).expect("smtp mailer"));
    Arc::new(SendEmailHandler(mailer))
}

fn email(n: usize) -> Email {
    Email {
        to: format!("user{n}@example.com"),
        subject: format!("Message {n}"),
        text: format!("Hello number {n}"),
        html: (n % 2 == 1).then(|| format!("<p>Hello number {n}</p>")),
    }
}

#[derive(Debug, diesel::QueryableByName)]
struct JobRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    /// `run_at <= now()`.
    #[diesel(sql_type = Bool)]
    due: bool,
    #[diesel(sql_type = Bool)]
    finished: bool,
}

async fn jobs(conn: &mut AsyncPgConnection) -> Vec<JobRow> {
    diesel::sql_query(
        "SELECT id, kind, status, attempts, last_error, run_at <= now() AS due, \
                finished_at IS NOT NULL AS finished \
           FROM jobs ORDER BY created_at, id",
    )
    .load(conn)
    .await
    .expect("list jobs")
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> usize {
    diesel::sql_query(sql).execute(conn).await.expect(sql)
}

/// Records every payload it runs, optionally after a short pause.
struct Recorder {
    kind: &'static str,
    pause: Duration,
    seen: Mutex<Vec<Value>>,
}

impl Recorder {
    fn new(kind: &'static str, pause: Duration) -> Arc<Self> {
        Arc::new(Self {
            kind,
            pause,
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<Value> {
        self.seen.lock().expect("lock").clone()
    }
}

#[async_trait]
impl JobHandler for Recorder {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn handle(&self, payload: &Value) -> Result<(), JobError> {
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        self.seen.lock().expect("lock").push(payload.clone());
        Ok(())
    }
}

/// Fails every time, the way it was built to.
struct Failing {
    kind: &'static str,
    error: JobError,
    calls: Mutex<usize>,
}

#[async_trait]
impl JobHandler for Failing {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn handle(&self, _payload: &Value) -> Result<(), JobError> {
        *self.calls.lock().expect("lock") += 1;
        Err(self.error.clone())
    }
}

/// Claims its job and never finishes: a worker that dies mid-send.
struct Hangs;

#[async_trait]
impl JobHandler for Hangs {
    fn kind(&self) -> &'static str {
        mailer::SEND_EMAIL
    }

    async fn handle(&self, _payload: &Value) -> Result<(), JobError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_jobs_commit_with_their_transaction_and_run_once() {
    let db = TestDatabase::create().await;
    let mut conn = db.connect().await;

    let rolled_back = conn
        .transaction::<Uuid, diesel::result::Error, _>(async |conn| {
            outbox::enqueue(conn, "test.record", json!({"which": "rolled back"})).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    let committed = conn
        .transaction::<Uuid, diesel::result::Error, _>(async |conn| {
            outbox::enqueue(conn, "test.record", json!({"which": "committed"})).await
        })
        .await
        .expect("commit");

    let recorder = Recorder::new("test.record", Duration::ZERO);
    let worker = worker(&db, vec![recorder.clone()], fast());
    assert_eq!(worker.run_once().await.expect("run"), 1);
    assert_eq!(worker.run_once().await.expect("run again"), 0);

    assert_eq!(recorder.seen(), vec![json!({"which": "committed"})]);
    let rows = jobs(&mut conn).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].id, committed);
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("done", 1));
    assert!(rows[0].finished);
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_mail_is_delivered_through_smtp_exactly_once() {
    let db = TestDatabase::create().await;
    let smtp = SmtpServer::start().await;
    let mut conn = db.connect().await;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        mailer::enqueue_email(conn, &email(0)).await?;
        mailer::enqueue_email(conn, &email(1)).await?;
        Ok(())
    })
    .await
    .expect("enqueue");
    assert!(smtp.messages().is_empty());

    let worker = worker(&db, vec![smtp_handler(&smtp)], fast());
    assert_eq!(worker.run_once().await.expect("run"), 2);
    assert_eq!(worker.run_once().await.expect("run again"), 0);
    let rows = jobs(&mut conn).await;
    assert!(
        rows.iter()
            .all(|row| row.kind == mailer::SEND_EMAIL && row.status == "done" && row.attempts == 1),
        "{rows:?}"
    );

    let mut received = smtp.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.messages().len(), 2, "delivered more than once");
    received.sort_by(|a, b| a.subject.cmp(&b.subject));
    for (n, mail) in received.iter().enumerate() {
        assert_eq!(mail.subject, format!("Message {n}"));
        assert_eq!(mail.to, format!("user{n}@example.com"));
        assert_eq!(mail.rcpt_to, vec![format!("user{n}@example.com")]);
        assert_eq!(mail.text.trim(), format!("Hello number {n}"));
        assert!(mail.raw.contains("noreply@fluxorae.test"), "{}", mail.raw);
    }
    assert!(received[1].raw.contains("<p>Hello number 1</p>"));
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_mail_waits_while_smtp_is_down_and_is_delivered_once_it_is_back() {
    let db = TestDatabase::create().await;
    let mut smtp = SmtpServer::start().await;
    let mut conn = db.connect().await;
    let worker = worker(&db, vec![smtp_handler(&smtp)], fast());

    smtp.stop();
    mailer::enqueue_email(&mut conn, &email(0))
        .await
        .expect("enqueue");
    mailer::enqueue_email(&mut conn, &email(1))
        .await
        .expect("enqueue");
    assert_eq!(worker.run_once().await.expect("run while down"), 2);

    let rows = jobs(&mut conn).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.status, "pending", "{row:?}");
        assert_eq!(row.attempts, 1, "{row:?}");
        assert!(!row.due, "a retry must wait for its backoff: {row:?}");
        assert!(!row.finished, "{row:?}");
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("SMTP"), "{row:?}");
    }
    // Not due yet: nothing is claimed.
    assert_eq!(worker.run_once().await.expect("run before due"), 0);

    smtp.restart().await;
    exec(&mut conn, "UPDATE jobs SET run_at = now()").await;
    assert_eq!(worker.run_once().await.expect("run after restart"), 2);
    assert_eq!(worker.run_once().await.expect("run again"), 0);

    smtp.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut subjects: Vec<String> = smtp
        .messages()
        .into_iter()
        .map(|mail| mail.subject)
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        vec!["Message 0", "Message 1"],
        "each delivered exactly once"
    );
    let rows = jobs(&mut conn).await;
    assert!(
        rows.iter()
            .all(|row| row.status == "done" && row.attempts == 2),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_job_of_a_crashed_worker_is_taken_over_after_its_lease() {
    let db = TestDatabase::create().await;
    let smtp = SmtpServer::start().await;
    let mut conn = db.connect().await;
    let job = mailer::enqueue_email(&mut conn, &email(0))
        .await
        .expect("enqueue");

    // Worker A claims the job and dies before the message leaves.
    let crashing = worker(&db, vec![Arc::new(Hangs)], fast());
    let task = tokio::spawn(async move { crashing.run_once().await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = jobs(&mut conn).await;
        if rows[0].status == "running" {
            assert_eq!(rows[0].attempts, 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never claimed: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;

    // While the lease holds, nobody else takes the job.
    let survivor = worker(&db, vec![smtp_handler(&smtp)], fast());
    assert_eq!(survivor.run_once().await.expect("run under lease"), 0);
    assert!(smtp.messages().is_empty());

    // The lease runs out: the job is claimed again and delivered once.
    exec(
        &mut conn,
        "UPDATE jobs SET locked_until = now() - interval '1 second'",
    )
    .await;
    assert_eq!(survivor.run_once().await.expect("take over"), 1);
    assert_eq!(survivor.run_once().await.expect("run again"), 0);
    smtp.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(smtp.messages().len(), 1);
    let rows = jobs(&mut conn).await;
    assert_eq!(rows[0].id, job);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempts),
        ("done", 2),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_two_concurrent_workers_run_every_job_exactly_once() {
    const JOBS: u64 = 60;
    let db = TestDatabase::create().await;
    let mut conn = db.connect().await;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        for n in 0..JOBS {
            outbox::enqueue(conn, "test.record", json!(n)).await?;
        }
        Ok(())
    })
    .await
    .expect("enqueue");

    let config = OutboxConfig {
        batch_size: 5,
        ..fast()
    };
    let first = Recorder::new("test.record", Duration::from_millis(3));
    let second = Recorder::new("test.record", Duration::from_millis(3));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let runs = [
        tokio::spawn(worker(&db, vec![first.clone()], config.clone()).run(shutdown.clone())),
        tokio::spawn(worker(&db, vec![second.clone()], config).run(shutdown)),
    ];

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = jobs(&mut conn).await;
        if rows.iter().all(|row| row.status == "done") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all done: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).expect("signal shutdown");
    for run in runs {
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("worker stops on shutdown")
            .expect("worker task");
    }

    let mut handled: Vec<u64> = first
        .seen()
        .into_iter()
        .chain(second.seen())
        .map(|value| value.as_u64().expect("number"))
        .collect();
    assert!(
        !first.seen().is_empty() && !second.seen().is_empty(),
        "both workers should have taken a share ({} / {})",
        first.seen().len(),
        second.seen().len()
    );
    handled.sort_unstable();
    assert_eq!(
        handled,
        (0..JOBS).collect::<Vec<_>>(),
        "every job exactly once"
    );
    let rows = jobs(&mut conn).await;
    assert!(rows.iter().all(|row| row.attempts == 1), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_permanent_errors_and_exhausted_retries_end_failed() {
    let db = TestDatabase::create().await;
    let mut conn = db.connect().await;
    let permanent = Arc::new(Failing {
        kind: "test.permanent",
        error: JobError::permanent("550 mailbox unavailable"),
        calls: Mutex::new(0),
    });
    let flaky = Arc::new(Failing {
        kind: "test.flaky",
        error: JobError::retryable("connection refused"),
        calls: Mutex::new(0),
    });
    let log_mail: Arc<dyn Mailer> = Arc::new(LogMailer);
    let handlers: Vec<Arc<dyn JobHandler>> = vec![
        permanent.clone(),
        flaky.clone(),
        Arc::new(SendEmailHandler(log_mail)),
    ];
    let worker = worker(&db, handlers, fast());

    let permanent_id = outbox::enqueue(&mut conn, "test.permanent", json!({}))
        .await
        .expect("enqueue");
    let flaky_id = outbox::enqueue(&mut conn, "test.flaky", json!({}))
        .await
        .expect("enqueue");
    let unknown_id = outbox::enqueue(&mut conn, "test.unknown", json!({}))
        .await
        .expect("enqueue");
    let bad_mail = Email {
        to: "not an address".into(),
        ..email(0)
    };
    let mail_id = mailer::enqueue_email(&mut conn, &bad_mail)
        .await
        .expect("enqueue");
    exec(
        &mut conn,
        "UPDATE jobs SET max_attempts = 3 WHERE kind = 'test.flaky'",
    )
    .await;

    for _ in 0..10 {
        worker.run_once().await.expect("run");
        if exec(
            &mut conn,
            "UPDATE jobs SET run_at = now() WHERE status = 'pending'",
        )
        .await
            == 0
        {
            break;
        }
    }

    let rows = jobs(&mut conn).await;
    let row = |id: Uuid| rows.iter().find(|row| row.id == id).expect("job row");
    let error = |id: Uuid| row(id).last_error.clone().unwrap_or_default();
    for id in [permanent_id, flaky_id, unknown_id, mail_id] {
        assert_eq!(row(id).status, "failed", "{rows:?}");
        assert!(row(id).finished, "{rows:?}");
    }
    assert_eq!(row(permanent_id).attempts, 1);
    assert!(error(permanent_id).contains("550 mailbox unavailable"));
    assert_eq!(*permanent.calls.lock().expect("lock"), 1);

    assert_eq!(row(flaky_id).attempts, 3);
    assert_eq!(*flaky.calls.lock().expect("lock"), 3);
    assert!(
        error(flaky_id).contains("connection refused"),
        "{}",
        error(flaky_id)
    );
    assert!(
        error(flaky_id).contains("3 attempts"),
        "{}",
        error(flaky_id)
    );

    assert_eq!(row(unknown_id).attempts, 1);
    assert!(error(unknown_id).contains("no handler") && error(unknown_id).contains("test.unknown"));

    assert_eq!(row(mail_id).attempts, 1);
    assert!(
        error(mail_id).contains("invalid recipient"),
        "{}",
        error(mail_id)
    );

    let failed = outbox::failed_jobs(&mut conn, 10)
        .await
        .expect("failed jobs");
    let mut failed_ids: Vec<Uuid> = failed.iter().map(|job| job.id).collect();
    failed_ids.sort();
    let mut expected = vec![permanent_id, flaky_id, unknown_id, mail_id];
    expected.sort();
    assert_eq!(failed_ids, expected);
}

#[derive(Debug, diesel::QueryableByName)]
struct PayloadRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    payload: Value,
}

async fn payloads(conn: &mut AsyncPgConnection) -> Vec<PayloadRow> {
    diesel::sql_query("SELECT kind, status, payload FROM jobs ORDER BY created_at, id")
        .load(conn)
        .await
        .expect("list payloads")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sent_password_reset_email_leaves_no_reset_link_in_the_outbox() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = fluxorae_tests::TestApp::spawn_with(move |config| {
        config.mail_url = url;
        config.outbox_enabled = false;
    })
    .await;
    let user = app.persona(kernel::Role::Client).await;
    app.data(
        None,
        "mutation($email: String!) { requestPasswordReset(input: { email: $email }) }",
        json!({ "email": user.email }),
    )
    .await;
    app.drain_outbox().await;
    let mail = smtp.wait_for(1, Duration::from_secs(5)).await.remove(0);
    let marker = "/reset-password?token=";
    let start = mail.text.find(marker).expect("a reset link") + marker.len();
    let token: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() > 20, "{token}");

    let mut conn = app.db().await;
    let rows = payloads(&mut conn).await;
    let reset = rows
        .iter()
        .find(|row| row.kind == mailer::SEND_EMAIL && row.payload["to"] == user.email.as_str())
        .expect("the reset email's job");
    assert_eq!(reset.status, "done");
    for row in &rows {
        assert!(
            !row.payload.to_string().contains(&token),
            "a {} job ({}) still holds the reset token: {}",
            row.kind,
            row.status,
            row.payload
        );
    }
    // What admins need to tell which email it was stays.
    assert_eq!(reset.payload["subject"], mail.subject.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_and_failed_jobs_keep_no_secret_payload_parts_and_retried_jobs_keep_theirs() {
    let db = TestDatabase::create().await;
    let mut conn = db.connect().await;
    let log_mail: Arc<dyn Mailer> = Arc::new(LogMailer);
    let smtp_down: Arc<dyn Mailer> =
        Arc::new(SmtpMailer::new("smtp://127.0.0.1:9", FROM).expect("smtp mailer"));
    let code = "Your sign-in code is 482913";
    let secret = |to: &str| Email {
        to: to.into(),
        subject: "Your sign-in code".into(),
        text: code.into(),
        html: Some(format!("<p>{code}</p>")),
    };
    mailer::enqueue_email(&mut conn, &secret("sent@example.com"))
        .await
        .expect("enqueue");
    mailer::enqueue_email(&mut conn, &secret("not an address"))
        .await
        .expect("enqueue");
    outbox::enqueue(&mut conn, "test.unknown", json!({ "code": "482913" }))
        .await
        .expect("enqueue");
    worker(&db, vec![Arc::new(SendEmailHandler(log_mail))], fast())
        .run_once()
        .await
        .expect("run");
    mailer::enqueue_email(&mut conn, &secret("later@example.com"))
        .await
        .expect("enqueue");
    worker(&db, vec![Arc::new(SendEmailHandler(smtp_down))], fast())
        .run_once()
        .await
        .expect("run while the server is down");

    let rows = payloads(&mut conn).await;
    let statuses: Vec<(&str, &str)> = rows
        .iter()
        .map(|row| (row.kind.as_str(), row.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            (mailer::SEND_EMAIL, "done"),
            (mailer::SEND_EMAIL, "failed"),
            ("test.unknown", "failed"),
            (mailer::SEND_EMAIL, "pending"),
        ]
    );
    for row in &rows[..3] {
        assert!(
            !row.payload.to_string().contains("482913"),
            "a {} job still holds the code: {}",
            row.status,
            row.payload
        );
    }
    // Recipient and subject stay for diagnosis; a kind nobody handles keeps nothing.
    assert_eq!(rows[0].payload["to"], "sent@example.com");
    assert_eq!(rows[1].payload["to"], "not an address");
    assert_eq!(rows[1].payload["subject"], "Your sign-in code");
    assert_eq!(rows[2].payload, json!({}));
    // A job that will be tried again still has what it needs.
    assert_eq!(rows[3].payload["text"], code);
}

#[derive(Debug, diesel::QueryableByName)]
struct Remaining {
    #[diesel(sql_type = Text)]
    what: String,
}

async fn remaining(conn: &mut AsyncPgConnection) -> Vec<String> {
    let mut rows: Vec<String> = diesel::sql_query(
        "SELECT payload->>'what' AS what FROM jobs \
         UNION ALL SELECT key AS what FROM rate_limit_counters",
    )
    .load::<Remaining>(conn)
    .await
    .expect("remaining rows")
    .into_iter()
    .map(|row| row.what)
    .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn ended_jobs_and_old_rate_limit_windows_are_pruned_after_their_retention() {
    let app = fluxorae_tests::TestApp::spawn().await;
    let mut conn = app.db().await;
    exec(
        &mut conn,
        "INSERT INTO jobs (id, kind, payload, status, finished_at, run_at, created_at) VALUES
           (gen_random_uuid(), 'test.old', '{\"what\": \"done long ago\"}', 'done', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'),
           (gen_random_uuid(), 'test.old', '{\"what\": \"failed long ago\"}', 'failed', now() - interval '40 days', now() - interval '40 days', now() - interval '40 days'),
           (gen_random_uuid(), 'test.new', '{\"what\": \"done yesterday\"}', 'done', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'),
           (gen_random_uuid(), 'test.new', '{\"what\": \"pending since long ago\"}', 'pending', NULL, now() + interval '1 day', now() - interval '40 days')",
    )
    .await;
    // Clear whatever the app counted so far (the personas' sign-ins), then an
    // hourly window of two days ago and the current one.
    exec(&mut conn, "DELETE FROM rate_limit_counters").await;
    exec(
        &mut conn,
        "INSERT INTO rate_limit_counters (key, window_start, hits, last_hit_at) VALUES
           ('window two days ago', date_trunc('hour', now()) - interval '2 days', 3, now() - interval '2 days'),
           ('window now', date_trunc('hour', now()), 1, now())",
    )
    .await;

    // Another instance starts; its housekeeping runs at start, then hourly.
    let second = app
        .spawn_alongside(|config| config.outbox_enabled = false)
        .await;
    let expected = ["done yesterday", "pending since long ago", "window now"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = remaining(&mut conn).await;
        if rows == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after the default retention (30 days for jobs, a day for windows): {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.stop().await;
}
