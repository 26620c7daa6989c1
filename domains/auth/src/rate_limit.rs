//! Fixed-window attempt counters in PostgreSQL, shared by every API instance,
//! and the progressive lockout of accounts after failed password checks.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
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

/// The part of a client address a budget belongs to: an IPv4 address whole
/// (also when written as IPv4-mapped IPv6), an IPv6 address by its /64, which
/// is what one customer network or host gets, so that the 2^64 addresses of
/// one attacker share one budget.
pub fn address_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        // Addresses come parsed from the transport; anything else is kept short.
        Err(_) => ip.chars().take(64).collect(),
    }
}

fn failure_key(email: &str) -> String {
    format!("login-failure:{}", email.trim().to_lowercase())
}

/// Why a password check is refused, in seconds to wait, given the account's
/// `failures` in the hour that started at `start` and the last one at
/// `last_failure`: at most `login_failures_per_account_per_hour` an hour, and
/// after `lockout_after_failures` a wait that doubles with each further failure.
pub fn refusal(
    failures: u32,
    last_failure: DateTime<Utc>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: &RateLimits,
) -> Option<u64> {
    if failures >= limits.login_failures_per_account_per_hour {
        return Some(seconds_until(start + chrono::Duration::hours(1), now));
    }
    let lock = lockout_for(failures, limits)?;
    let until = last_failure + chrono::Duration::from_std(lock).unwrap_or_default();
    (until > now).then(|| seconds_until(until, now))
}

/// How long an account waits after `failures` consecutive failures.
pub fn lockout_for(failures: u32, limits: &RateLimits) -> Option<Duration> {
    let over = failures.checked_sub(limits.lockout_after_failures)?;
    let seconds = 1u64.checked_shl(over).unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(limits.max_lockout))
}

/// A password check counted against an account before it runs.
#[derive(Debug)]
pub struct PasswordCheck {
    key: String,
    window_start: DateTime<Utc>,
}

/// Counts a password check for the account behind `email` as a failure
/// before the password is hashed, or refuses it with `RATE_LIMITED` (see
/// [`refusal`]). Checking and counting is one locked step, so checks running
/// at once cannot all pass on the same count: however many arrive together,
/// at most the budget is checked. Keyed by email, so unknown and known
/// accounts behave the same. A check that succeeds clears the failures
/// ([`clear_login_failures`]); one that never ran is handed back ([`release`]).
pub async fn reserve_password_check(
    conn: &mut AsyncPgConnection,
    email: &str,
    limits: &RateLimits,
) -> Result<PasswordCheck, AppError> {
    let now = Utc::now();
    let start = window_start(now, Duration::from_secs(3600));
    let key = failure_key(email);
    conn.transaction::<_, AppError, _>(async |conn| {
        diesel::insert_into(counters::table)
            .values((
                counters::key.eq(&key),
                counters::window_start.eq(start),
                counters::hits.eq(0),
                counters::last_hit_at.eq(start),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        let (failures, last_failure): (i32, DateTime<Utc>) = counters::table
            .filter(counters::key.eq(&key))
            .filter(counters::window_start.eq(start))
            .select((counters::hits, counters::last_hit_at))
            .for_update()
            .first(conn)
            .await?;
        if let Some(wait) = refusal(failures.max(0) as u32, last_failure, start, now, limits) {
            return Err(AppError::rate_limited(wait));
        }
        diesel::update(
            counters::table
                .filter(counters::key.eq(&key))
                .filter(counters::window_start.eq(start)),
        )
        .set((
            counters::hits.eq(counters::hits + 1),
            counters::last_hit_at.eq(now),
        ))
        .execute(conn)
        .await?;
        Ok(())
    })
    .await?;
    Ok(PasswordCheck {
        key,
        window_start: start,
    })
}

/// Hands back a reserved check whose password was never hashed (the hashing
/// queue was full), so it does not count as a failure.
pub async fn release(conn: &mut AsyncPgConnection, check: &PasswordCheck) -> Result<(), AppError> {
    diesel::update(
        counters::table
            .filter(counters::key.eq(&check.key))
            .filter(counters::window_start.eq(check.window_start))
            .filter(counters::hits.gt(0)),
    )
    .set(counters::hits.eq(counters::hits - 1))
    .execute(conn)
    .await?;
    Ok(())
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
    fn ipv6_clients_are_counted_by_their_64_and_ipv4_ones_whole() {
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("2001:db8:5:6::1"), "2001:db8:5:6::/64");
        assert_eq!(
            address_key("2001:0db8:0005:0006:ffff:1:2:3"),
            address_key("2001:db8:5:6::")
        );
        assert_ne!(
            address_key("2001:db8:5:7::1"),
            address_key("2001:db8:5:6::1")
        );
        assert_eq!(address_key("::1"), "0:0:0:0::/64");
        assert_eq!(address_key(&"x".repeat(500)).len(), 64);
    }

    #[test]
    fn checks_are_refused_over_the_hourly_cap_and_during_a_lockout() {
        let limits = RateLimits::default();
        let start = DateTime::from_timestamp(3_600 * 7, 0).expect("time");
        let now = start + chrono::Duration::seconds(600);
        assert_eq!(refusal(0, start, start, now, &limits), None);
        assert_eq!(refusal(4, now, start, now, &limits), None);
        // The fifth failure a moment ago locks for a second.
        assert_eq!(refusal(5, now, start, now, &limits), Some(1));
        let later = now + chrono::Duration::seconds(2);
        assert_eq!(refusal(5, now, start, later, &limits), None);
        // At the cap, the rest of the hour.
        assert_eq!(refusal(100, start, start, now, &limits), Some(3_000));
    }

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
