//! The event bus across API instances: PostgreSQL LISTEN/NOTIFY.
//!
//! Every instance LISTENs on one channel with a dedicated connection and fans
//! notifications out to its local subscribers. When that connection drops, the
//! instance reconnects and tells every subscriber to refetch, since
//! notifications sent meanwhile are gone.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::db::Db;
use crate::events::{Delivery, DeliveryStream, Event, EventBus};

/// The NOTIFY channel.
pub const CHANNEL: &str = "fluxorae_events";

#[derive(Debug, Clone)]
enum Item {
    Event(Event),
    Gap,
}

/// LISTEN/NOTIFY bus.
pub struct PgBus {
    local: broadcast::Sender<Item>,
    outgoing: mpsc::Sender<Event>,
}

impl PgBus {
    /// Starts the listener (on its own connection to `database_url`) and the
    /// publisher (on the pool); `capacity` bounds how far a subscriber may lag.
    pub fn start(database_url: String, db: Db, capacity: usize) -> Self {
        let (local, _) = broadcast::channel(capacity);
        let (outgoing, queue) = mpsc::channel(capacity.max(1024));
        tokio::spawn(listen(database_url, local.clone()));
        tokio::spawn(publish_in_order(db, queue));
        Self { local, outgoing }
    }
}

async fn listen(database_url: String, local: broadcast::Sender<Item>) {
    let mut connected_before = false;
    loop {
        match AsyncPgConnection::establish(&database_url).await {
            Ok(mut conn) => {
                let listening = diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut conn)
                    .await;
                if listening.is_ok() {
                    if connected_before {
                        let _ = local.send(Item::Gap);
                    }
                    connected_before = true;
                    let mut notifications = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(notification)) = notifications.next().await {
                        match serde_json::from_str::<Event>(&notification.payload) {
                            Ok(event) => {
                                let _ = local.send(Item::Event(event));
                            }
                            Err(error) => {
                                tracing::warn!(%error, "ignoring a malformed bus notification")
                            }
                        }
                    }
                    tracing::warn!("event bus connection lost; reconnecting");
                    let _ = local.send(Item::Gap);
                }
            }
            Err(error) => tracing::warn!(%error, "event bus cannot connect; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

// One task sends every NOTIFY, so events of one instance keep their order.
async fn publish_in_order(db: Db, mut queue: mpsc::Receiver<Event>) {
    while let Some(event) = queue.recv().await {
        let Ok(payload) = serde_json::to_string(&event) else {
            continue;
        };
        let sent = async {
            let mut conn = db.get().await.map_err(|error| error.to_string())?;
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<diesel::sql_types::Text, _>(CHANNEL)
                .bind::<diesel::sql_types::Text, _>(&payload)
                .execute(&mut conn)
                .await
                .map_err(|error| error.to_string())
        };
        if let Err(error) = sent.await {
            tracing::error!(%error, topic = %event.topic, "event not published");
        }
    }
}

impl EventBus for PgBus {
    fn publish(&self, event: Event) {
        if let Err(error) = self.outgoing.try_send(event) {
            tracing::error!(%error, "event bus queue full; event dropped");
            // Subscribers in this instance at least learn that they missed something.
            let _ = self.local.send(Item::Gap);
        }
    }

    fn subscribe(&self, topic: &str) -> DeliveryStream {
        let topic = topic.to_string();
        BroadcastStream::new(self.local.subscribe())
            .filter_map(move |item| {
                let delivery = match item {
                    Ok(Item::Event(event)) if event.topic == topic => Some(Delivery::Event(event)),
                    Ok(Item::Event(_)) => None,
                    Ok(Item::Gap) | Err(BroadcastStreamRecvError::Lagged(_)) => Some(Delivery::Gap),
                };
                std::future::ready(delivery)
            })
            .boxed()
    }
}
