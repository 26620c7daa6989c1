//! Server-level fields that belong to no business domain.

use std::time::Duration;

use async_graphql::{Context, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;

/// Facts about the running server.
#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// Version of the API server, e.g. `0.1.0`.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The server's current time (UTC, RFC 3339); clients use it to correct
    /// clock skew. Anyone may ask, signed in or not.
    async fn server_time(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Server-level live streams.
#[derive(Default)]
pub struct SystemSubscription;

#[Subscription]
impl SystemSubscription {
    /// Emits the server time every `intervalSeconds` (1 to 300), so a client can
    /// tell a live connection from a stale one.
    async fn heartbeat(
        &self,
        _ctx: &Context<'_>,
        #[graphql(
            default = 30,
            validator(minimum = 1, maximum = 300),
            desc = "Seconds between two beats, 1 to 300 (30 when omitted); the first comes at once."
        )]
        interval_seconds: u64,
    ) -> impl Stream<Item = DateTime<Utc>> + use<> {
        let interval = tokio::time::interval(Duration::from_secs(interval_seconds));
        futures_util::stream::unfold(interval, |mut interval| async move {
            interval.tick().await;
            Some((Utc::now(), interval))
        })
    }
}
