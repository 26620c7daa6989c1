//! The outbox: durable jobs in the `jobs` table.
//!
//! A use case calls [`enqueue`] inside its own transaction, so the job commits
//! with the change that causes it (or not at all). [`OutboxWorker`]s claim due
//! jobs with `FOR UPDATE SKIP LOCKED`, so several instances can run workers at
//! once, and lock each claimed job for a lease: a job whose worker died between
//! the claim and the end of its handler is claimed again once the lease has
//! expired. Delivery is therefore at least once; handlers should tolerate a
//! rare repeat.
//!
//! Failures: a retryable error puts the job back to `pending` with an
//! exponential backoff; a permanent error, an unknown kind or the last allowed
//! attempt ends in `failed` with `last_error`, which admins can list with
//! [`failed_jobs`]. Payloads may carry secrets (reset links, tokens): they are
//! never logged, and handlers must not put them in their error messages. Each
//! kind declares its secret parts ([`JobHandler::secrets`]); the worker clears
//! them when the job is done or failed for good, keeping the rest for admins
//! (a job that will be retried keeps everything it needs).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::{FutureExt, StreamExt};
use uuid::Uuid;

use crate::db::{Db, PoolError};
use crate::domain::PeriodicTask;
use crate::schema::jobs;

/// Re-exported so implementors of [`JobHandler`] need no direct dependency.
pub use async_trait::async_trait;

/// Longest `last_error` stored, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// Inserts a pending job, due now. Call it inside the use case's transaction.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    kind: &str,
    payload: serde_json::Value,
) -> Result<Uuid, diesel::result::Error> {
    let id = Uuid::now_v7();
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(id),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Why a handler could not finish a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (network down, timeout, 4xx from SMTP).
    #[error("{0}")]
    Retryable(String),
    /// Trying again cannot help (bad payload, permanent rejection).
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// A failure worth retrying later.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable(message.into())
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(message.into())
    }

    /// Whether the job should be tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// The parts of a job's payload that must not outlive the job: cleared once
/// it is done or failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSecrets {
    /// Nothing is secret; the payload stays as it is (ids, keys of rows).
    None,
    /// These top-level fields are secret (set to `null`); the others stay.
    Fields(&'static [&'static str]),
    /// The whole payload is secret (it becomes `{}`).
    All,
}

impl PayloadSecrets {
    /// The payload as kept after the job: its secret parts cleared.
    pub fn clear(self, payload: &serde_json::Value) -> serde_json::Value {
        match (self, payload) {
            (Self::None, _) => payload.clone(),
            (Self::Fields(fields), serde_json::Value::Object(object)) => {
                let mut kept = object.clone();
                for field in fields {
                    if let Some(value) = kept.get_mut(*field) {
                        *value = serde_json::Value::Null;
                    }
                }
                serde_json::Value::Object(kept)
            }
            // A payload that is not an object has no fields to keep.
            (Self::Fields(_) | Self::All, _) => serde_json::Value::Object(Default::default()),
        }
    }
}

/// Runs the jobs of one kind. The message of a [`JobError`] is stored in
/// `last_error` and logged: it must not contain secrets from the payload.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The `jobs.kind` this handler runs, e.g. `"mail.send"`.
    fn kind(&self) -> &'static str;

    /// Which parts of this kind's payload are secret (links, codes, message
    /// bodies), cleared when the job is done or failed for good. Unless a kind
    /// says otherwise, its whole payload is: declare what admins may keep.
    fn secrets(&self) -> PayloadSecrets {
        PayloadSecrets::All
    }

    /// Does the work. Called at least once per job; possibly again after a crash.
    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobError>;
}

/// How a worker polls, claims and retries.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Pause between polls when no job is due.
    pub poll_interval: Duration,
    /// Most jobs claimed (and run concurrently) per poll.
    pub batch_size: usize,
    /// How long a claimed job stays locked; a handler running longer is
    /// cancelled and retried. After it expires another worker may claim the job.
    pub lease: Duration,
    /// Delay before the first retry; doubles with every attempt.
    pub base_backoff: Duration,
    /// Longest delay between two attempts.
    pub max_backoff: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            batch_size: 16,
            lease: Duration::from_secs(5 * 60),
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60 * 60),
        }
    }
}

impl OutboxConfig {
    /// Delay before the attempt after `attempts` failed ones: `base * 2^(attempts-1)`,
    /// capped at `max_backoff`, minus up to 10 % jitter so workers spread out.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max_backoff);
        let jitter = rand::random::<f64>() * 0.1;
        full.mul_f64(1.0 - jitter)
    }
}

/// Failure of the worker itself (not of a job).
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// No database connection could be checked out.
    #[error("outbox: no database connection: {0}")]
    Pool(#[from] PoolError),
    /// A query failed.
    #[error("outbox: query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// A job as claimed: `attempts` already counts this attempt.
#[derive(QueryableByName)]
struct ClaimedJob {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Integer)]
    max_attempts: i32,
}

const CLAIM_SQL: &str = "\
UPDATE jobs
   SET status = 'running',
       locked_until = now() + make_interval(secs => $2),
       attempts = attempts + 1
 WHERE id IN (
       SELECT id FROM jobs
        WHERE (status = 'pending' AND run_at <= now())
           OR (status = 'running' AND locked_until < now())
        ORDER BY run_at
        LIMIT $1
          FOR UPDATE SKIP LOCKED)
RETURNING id, kind, payload, attempts, max_attempts";

// Every outcome is written only if this worker still holds the job: the
// attempt number is the fencing token, so a worker whose lease expired and
// whose job was claimed again cannot overwrite the newer attempt.
const DONE_SQL: &str = "\
UPDATE jobs SET status = 'done', finished_at = now(), locked_until = NULL, payload = $3
 WHERE id = $1 AND status = 'running' AND attempts = $2";

const RETRY_SQL: &str = "\
UPDATE jobs SET status = 'pending', run_at = now() + make_interval(secs => $3),
       locked_until = NULL, last_error = $4
 WHERE id = $1 AND status = 'running' AND attempts = $2";

const FAILED_SQL: &str = "\
UPDATE jobs SET status = 'failed', finished_at = now(), locked_until = NULL, last_error = $3,
       payload = $4
 WHERE id = $1 AND status = 'running' AND attempts = $2";

enum Outcome {
    Done,
    Retry { delay: Duration, error: String },
    Failed { error: String },
}

/// Claims due jobs and runs their handlers. Cheap to clone; run one per
/// instance (or several: they never run the same job at once).
#[derive(Clone)]
pub struct OutboxWorker {
    db: Db,
    handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>>,
    config: OutboxConfig,
}

impl OutboxWorker {
    /// A worker over `db` running `handlers`.
    ///
    /// # Panics
    /// When two handlers claim the same kind (a wiring mistake).
    pub fn new(db: Db, handlers: Vec<Arc<dyn JobHandler>>, config: OutboxConfig) -> Self {
        let mut by_kind = HashMap::new();
        for handler in handlers {
            let kind = handler.kind();
            assert!(
                by_kind.insert(kind, handler).is_none(),
                "two outbox handlers for job kind {kind:?}"
            );
        }
        Self {
            db,
            handlers: Arc::new(by_kind),
            config,
        }
    }

    /// The configuration this worker runs with.
    pub fn config(&self) -> &OutboxConfig {
        &self.config
    }

    /// Claims up to `batch_size` due jobs (including running jobs whose lease
    /// expired), runs them concurrently and records each outcome. Returns how
    /// many jobs were processed.
    pub async fn run_once(&self) -> Result<usize, OutboxError> {
        let claimed: Vec<ClaimedJob> = {
            let mut conn = self.db.get().await?;
            diesel::sql_query(CLAIM_SQL)
                .bind::<BigInt, _>(i64::try_from(self.config.batch_size).unwrap_or(i64::MAX))
                .bind::<Double, _>(self.config.lease.as_secs_f64())
                .load(&mut conn)
                .await?
        };
        let count = claimed.len();
        let results: Vec<Result<(), OutboxError>> = futures_util::stream::iter(claimed)
            .map(|job| self.process(job))
            .buffer_unordered(self.config.batch_size.max(1))
            .collect()
            .await;
        // Report the first bookkeeping failure; the jobs concerned stay
        // `running` and are retried once their lease expires.
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(count)
    }

    async fn process(&self, job: ClaimedJob) -> Result<(), OutboxError> {
        let outcome = self.execute(&job).await;
        // A kind nobody here handles may hold anything: clear it all.
        let kept = self
            .handlers
            .get(job.kind.as_str())
            .map_or(PayloadSecrets::All, |handler| handler.secrets())
            .clear(&job.payload);
        let mut conn = self.db.get().await?;
        let updated = match &outcome {
            Outcome::Done => {
                diesel::sql_query(DONE_SQL)
                    .bind::<SqlUuid, _>(job.id)
                    .bind::<Integer, _>(job.attempts)
                    .bind::<Jsonb, _>(&kept)
                    .execute(&mut conn)
                    .await?
            }
            Outcome::Retry { delay, error } => {
                tracing::warn!(
                    job.id = %job.id, job.kind = %job.kind, job.attempts = job.attempts,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %error, "outbox job failed; will retry"
                );
                diesel::sql_query(RETRY_SQL)
                    .bind::<SqlUuid, _>(job.id)
                    .bind::<Integer, _>(job.attempts)
                    .bind::<Double, _>(delay.as_secs_f64())
                    .bind::<Text, _>(error)
                    .execute(&mut conn)
                    .await?
            }
            Outcome::Failed { error } => {
                tracing::error!(
                    job.id = %job.id, job.kind = %job.kind, job.attempts = job.attempts,
                    error = %error, "outbox job failed for good"
                );
                diesel::sql_query(FAILED_SQL)
                    .bind::<SqlUuid, _>(job.id)
                    .bind::<Integer, _>(job.attempts)
                    .bind::<Text, _>(error)
                    .bind::<Jsonb, _>(&kept)
                    .execute(&mut conn)
                    .await?
            }
        };
        if updated == 0 {
            tracing::warn!(
                job.id = %job.id, job.kind = %job.kind, job.attempts = job.attempts,
                "outbox job lease lost before its outcome was recorded; another worker owns it"
            );
        }
        Ok(())
    }

    async fn execute(&self, job: &ClaimedJob) -> Outcome {
        if job.attempts > job.max_attempts {
            // The last allowed attempt crashed (its lease expired): stop here.
            return Outcome::Failed {
                error: format!(
                    "gave up after {} attempts: the last attempt did not finish (worker stopped or lease expired)",
                    job.max_attempts
                ),
            };
        }
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            return Outcome::Failed {
                error: truncate(format!(
                    "no handler is registered for job kind {:?}",
                    job.kind
                )),
            };
        };
        let run = AssertUnwindSafe(handler.handle(&job.payload)).catch_unwind();
        let result = match tokio::time::timeout(self.config.lease, run).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => Err(JobError::retryable("the job handler panicked")),
            Err(_elapsed) => Err(JobError::retryable(format!(
                "the job handler did not finish within the lease of {} s",
                self.config.lease.as_secs_f64()
            ))),
        };
        match result {
            Ok(()) => Outcome::Done,
            Err(JobError::Retryable(error)) if job.attempts < job.max_attempts => Outcome::Retry {
                delay: self.config.backoff(job.attempts),
                error: truncate(error),
            },
            Err(JobError::Retryable(error)) => Outcome::Failed {
                error: truncate(format!("gave up after {} attempts: {error}", job.attempts)),
            },
            Err(JobError::Permanent(error)) => Outcome::Failed {
                error: truncate(error),
            },
        }
    }

    /// Runs until `shutdown` turns true (or its sender is dropped): processes
    /// due jobs, sleeps `poll_interval` when there are none, logs its own
    /// failures and carries on. A batch in progress finishes before it returns.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(
            handlers = ?self.handlers.keys().collect::<Vec<_>>(),
            "outbox worker started"
        );
        loop {
            if *shutdown.borrow_and_update() {
                break;
            }
            let busy = match self.run_once().await {
                // A full batch means more jobs are probably due: go on at once.
                Ok(count) => count >= self.config.batch_size.max(1),
                Err(error) => {
                    tracing::error!(error = %error, "outbox worker poll failed");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll_interval) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!("outbox worker stopped");
    }
}

fn truncate(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// A job that failed for good, for admins (the payload is left out: it may
/// hold secrets).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct FailedJob {
    /// Job id.
    pub id: Uuid,
    /// Job kind.
    pub kind: String,
    /// Attempts made.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it was given up.
    pub finished_at: Option<DateTime<Utc>>,
}

// The statuses are literal so that the partial index `jobs_ended_idx` serves it.
const PRUNE_SQL: &str = "DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < $1";

/// Deletes jobs that ended (done or failed) more than `retention` ago;
/// answers how many. Pending and running jobs are never touched.
pub async fn prune_ended(
    conn: &mut AsyncPgConnection,
    retention: Duration,
) -> Result<usize, diesel::result::Error> {
    let Some(cutoff) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|retention| Utc::now().checked_sub_signed(retention))
    else {
        // A retention longer than time itself keeps everything.
        return Ok(0);
    };
    diesel::sql_query(PRUNE_SQL)
        .bind::<diesel::sql_types::Timestamptz, _>(cutoff)
        .execute(conn)
        .await
}

/// Name of the periodic task that prunes ended jobs.
pub const PRUNE_TASK: &str = "outbox.prune_ended_jobs";

/// The hourly task that deletes jobs ended more than `retention` ago
/// (`JOB_RETENTION_DAYS`); safe to run in several instances at once.
pub fn pruning_task(db: Db, retention: Duration) -> PeriodicTask {
    PeriodicTask {
        name: PRUNE_TASK,
        every: Duration::from_secs(3600),
        run: Arc::new(move || {
            let db = db.clone();
            Box::pin(async move {
                let mut conn = db.get().await?;
                let pruned = prune_ended(&mut conn, retention).await?;
                if pruned > 0 {
                    tracing::info!(pruned, "pruned ended outbox jobs");
                }
                Ok(())
            })
        }),
    }
}

/// The most recently failed jobs, newest first.
pub async fn failed_jobs(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> Result<Vec<FailedJob>, diesel::result::Error> {
    jobs::table
        .filter(jobs::status.eq("failed"))
        .order(jobs::finished_at.desc().nulls_last())
        .limit(limit)
        .select(FailedJob::as_select())
        .load(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let config = OutboxConfig {
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            ..OutboxConfig::default()
        };
        let within = |attempts: i32, full: u64| {
            let delay = config.backoff(attempts);
            let full = Duration::from_secs(full);
            assert!(
                delay <= full && delay >= full.mul_f64(0.9),
                "{attempts}: {delay:?}"
            );
        };
        within(1, 10);
        within(2, 20);
        within(3, 40);
        within(4, 60);
        within(1000, 60);
        within(0, 10);
    }

    #[test]
    fn secret_parts_are_cleared_and_the_rest_is_kept() {
        let payload =
            serde_json::json!({ "to": "a@example.com", "text": "code 123", "html": null });
        assert_eq!(
            PayloadSecrets::Fields(&["text", "html", "absent"]).clear(&payload),
            serde_json::json!({ "to": "a@example.com", "text": null, "html": null })
        );
        assert_eq!(PayloadSecrets::None.clear(&payload), payload);
        assert_eq!(PayloadSecrets::All.clear(&payload), serde_json::json!({}));
        assert_eq!(
            PayloadSecrets::Fields(&["text"]).clear(&serde_json::json!("code 123")),
            serde_json::json!({})
        );
    }

    #[test]
    fn long_errors_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_CHARS + 10);
        let cut = truncate(long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
        assert_eq!(truncate("short".into()), "short");
    }
}
