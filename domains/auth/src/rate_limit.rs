//! Fixed-window attempt counters in PostgreSQL, shared by every API instance,
//! and the progressive lockout of accounts after failed logins.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::AppError;
use kernel::schema::rate_limit_counters as counters;

use crate::config::RateLimits;

/// A budget of `limit` hits per `window` for one key.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Key such as `login:ip:10.0.0.1`.
    pub key: String,
    /// Hits allowed per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let seconds = window.as_secs().max(1) as i64;
    let start = now.timestamp().div_euclid(seconds) * seconds;
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

/// Whole seconds until `moment`, rounded up: a client that waits exactly this
/// long must not be refused again.
fn seconds_until(moment: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let millis = (moment - now).num_milliseconds().max(0);
    ((millis + 999) / 1000).max(1) as u64
}

/// Counts one hit; `RATE_LIMITED` with the seconds until the window ends when over budget.
pub async fn consume(conn: &mut AsyncPgConnection, budget: &Budget) -> Result<(), AppError> {
    let now = Utc::now();
    let start = window_start(now, budget.window);
    let hits: i32 = diesel::insert_into(counters::table)
        .values((
            counters::key.eq(&budget.key),
            counters::window_start.eq(start),
            counters::hits.eq(1),
            counters::last_hit_at.eq(now),
        ))
        .on_conflict((counters::key, counters::window_start))
        .do_update()
        .set((
            counters::hits.eq(counters::hits + 1),
            counters::last_hit_at.eq(excluded(counters::last_hit_at)),
        ))
        .returning(counters::hits)
        .get_result(conn)
        .await?;
    if hits as u32 > budget.limit {
        let ends = start + chrono::Duration::from_std(budget.window).unwrap_or_default();
        return Err(AppError::rate_limited(seconds_until(ends, now)));
    }
    Ok(())
}

fn failure_key(email: &str) -> String {
    format!("login-failure:{}", email.trim().to_lowercase())
}

/// Refuses a login attempt for an account that is locked out: at most
/// `login_failures_per_account_per_hour` failures an hour, and after
/// `lockout_after_failures` a wait that doubles with each further failure.
/// Keyed by email, so unknown and known accounts behave the same.
pub async fn check_lockout(
    conn: &mut AsyncPgConnection,
    email: &str,
    limits: &RateLimits,
) -> Result<(), AppError> {
    let now = Utc::now();
    let hour = Duration::from_secs(3600);
    let start = window_start(now, hour);
    let row: Option<(i32, DateTime<Utc>)> = counters::table
        .filter(counters::key.eq(failure_key(email)))
        .filter(counters::window_start.eq(start))
        .select((counters::hits, counters::last_hit_at))
        .first(conn)
        .await
        .optional()?;
    let Some((failures, last_failure)) = row else {
        return Ok(());
    };
    let failures = failures as u32;
    if failures >= limits.login_failures_per_account_per_hour {
        let ends = start + chrono::Duration::hours(1);
        return Err(AppError::rate_limited(seconds_until(ends, now)));
    }
    if let Some(lock) = lockout_for(failures, limits) {
        let until = last_failure + chrono::Duration::from_std(lock).unwrap_or_default();
        if until > now {
            return Err(AppError::rate_limited(seconds_until(until, now)));
        }
    }
    Ok(())
}

/// How long an account waits after `failures` consecutive failures.
pub fn lockout_for(failures: u32, limits: &RateLimits) -> Option<Duration> {
    let over = failures.checked_sub(limits.lockout_after_failures)?;
    let seconds = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(limits.max_lockout))
}

/// Counts a failed login for the account.
pub async fn record_login_failure(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<(), AppError> {
    let budget = Budget {
        key: failure_key(email),
        limit: u32::MAX,
        window: Duration::from_secs(3600),
    };
    consume(conn, &budget).await
}

/// Forgets failed logins after a successful one.
pub async fn clear_login_failures(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<(), AppError> {
    diesel::delete(counters::table.filter(counters::key.eq(failure_key(email))))
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes windows that ended more than a day ago.
pub async fn prune(conn: &mut AsyncPgConnection) -> Result<usize, AppError> {
    let cutoff = Utc::now() - chrono::Duration::days(1);
    Ok(
        diesel::delete(counters::table.filter(counters::window_start.lt(cutoff)))
            .execute(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_after_the_threshold_and_is_capped() {
        let limits = RateLimits::default();
        assert_eq!(lockout_for(4, &limits), None);
        assert_eq!(lockout_for(5, &limits), Some(Duration::from_secs(1)));
        assert_eq!(lockout_for(8, &limits), Some(Duration::from_secs(8)));
        assert_eq!(lockout_for(90, &limits), Some(limits.max_lockout));
    }

    #[test]
    fn windows_are_aligned_so_every_instance_counts_in_the_same_row() {
        let t = DateTime::from_timestamp(3_600 * 5 + 1_234, 0).expect("time");
        assert_eq!(
            window_start(t, Duration::from_secs(3600)).timestamp(),
            3_600 * 5
        );
        assert_eq!(
            window_start(t, Duration::from_secs(60)).timestamp(),
            3_600 * 5 + 1_200
        );
    }
}
