//! The event bus: live updates for subscriptions, published after commit.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

/// Who may receive an event, decided from the envelope alone (no query per
/// event and subscriber).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    /// The client organization whose row changed; `None` when the topic itself
    /// was authorized at subscribe time and carries no organization.
    pub organization_id: Option<Uuid>,
    /// Staff only (internal notes, cost data).
    pub staff_only: bool,
}

/// A domain's typed change: a serde-tagged enum that publisher and subscriber
/// share, e.g. `BoardChange` or `TicketChange`.
pub trait Change: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Who may see it.
    fn audience(&self) -> Audience;
}

/// A change that happened, as it travels on the bus. Events carry ids and small
/// values, not rows: subscribers reload what they may see, and payloads stay
/// far below PostgreSQL's NOTIFY limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique id of this event.
    pub id: Uuid,
    /// Topic such as `projects.board.<project id>`.
    pub topic: String,
    /// Who caused it, so a client can skip its own echo.
    pub actor_id: Option<Uuid>,
    /// Who may receive it.
    pub audience: Audience,
    /// The serialized [`Change`].
    pub data: serde_json::Value,
}

impl Event {
    /// The envelope of `change`, with a fresh id.
    pub fn of<C: Change>(topic: impl Into<String>, actor_id: Option<Uuid>, change: &C) -> Self {
        Self {
            id: Uuid::now_v7(),
            topic: topic.into(),
            actor_id,
            audience: change.audience(),
            // A derived `Serialize` of ids and plain values cannot fail.
            data: serde_json::to_value(change).unwrap_or_default(),
        }
    }

    /// The change, decoded by the type that published it; `None` when the
    /// payload is of another type or version.
    pub fn decode<C: Change>(&self) -> Option<C> {
        C::deserialize(&self.data).ok()
    }
}

/// Topic of [`SessionChange`]s: every websocket connection listens to it.
pub const SESSIONS_TOPIC: &str = "auth.sessions";

/// A change to someone's sign-in: open websockets of that user re-validate
/// their session at once and close when it ended or its rights changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum SessionChange {
    /// Sessions ended: one (`session_id`) or all of the user's.
    #[serde(rename = "session.revoked")]
    Revoked {
        /// The user.
        user_id: Uuid,
        /// The session, or `None` for every session of the user.
        session_id: Option<Uuid>,
    },
    /// The user's role, status or organization changed.
    #[serde(rename = "user.changed")]
    UserChanged {
        /// The user.
        user_id: Uuid,
    },
}

impl SessionChange {
    /// The user concerned.
    pub fn user_id(&self) -> Uuid {
        match self {
            Self::Revoked { user_id, .. } | Self::UserChanged { user_id } => *user_id,
        }
    }
}

impl Change for SessionChange {
    fn audience(&self) -> Audience {
        Audience {
            organization_id: None,
            staff_only: true,
        }
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// An event of the subscribed topic.
    Event(Event),
    /// Events may have been missed (the subscriber lagged or the bus
    /// reconnected): refetch instead of trusting local state.
    Gap,
}

/// A stream of deliveries for one subscription.
pub type DeliveryStream = Pin<Box<dyn Stream<Item = Delivery> + Send>>;

/// Publishes events to the subscribers of their topic, in this process or in all instances.
pub trait EventBus: Send + Sync + 'static {
    /// Publishes an event; call it after the transaction that caused it commits.
    fn publish(&self, event: Event);
    /// Subscribes to one topic.
    fn subscribe(&self, topic: &str) -> DeliveryStream;
}

/// Bus inside one process, on a bounded broadcast channel.
pub struct InProcessBus {
    sender: broadcast::Sender<Event>,
}

impl InProcessBus {
    /// A bus whose slowest subscriber may lag `capacity` events before it gets a [`Delivery::Gap`].
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        Self { sender }
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, event: Event) {
        // No subscribers is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self, topic: &str) -> DeliveryStream {
        let topic = topic.to_string();
        BroadcastStream::new(self.sender.subscribe())
            .filter_map(move |item| {
                let delivery = match item {
                    Ok(event) if event.topic == topic => Some(Delivery::Event(event)),
                    Ok(_) => None,
                    Err(BroadcastStreamRecvError::Lagged(_)) => Some(Delivery::Gap),
                };
                std::future::ready(delivery)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    enum Probe {
        Moved { n: u32 },
    }

    impl Change for Probe {
        fn audience(&self) -> Audience {
            Audience::default()
        }
    }

    #[tokio::test]
    async fn subscribers_receive_only_their_topic() {
        let bus = InProcessBus::new(16);
        let mut board = bus.subscribe("board.1");
        bus.publish(Event::of("board.2", None, &Probe::Moved { n: 0 }));
        let wanted = Event::of("board.1", None, &Probe::Moved { n: 1 });
        bus.publish(wanted.clone());
        let Some(Delivery::Event(received)) = board.next().await else {
            panic!("an event");
        };
        assert_eq!(received, wanted);
        assert_eq!(received.decode::<Probe>(), Some(Probe::Moved { n: 1 }));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_refetch() {
        let bus = InProcessBus::new(2);
        let mut slow = bus.subscribe("t");
        for n in 0..5 {
            bus.publish(Event::of("t", None, &Probe::Moved { n }));
        }
        assert_eq!(slow.next().await, Some(Delivery::Gap));
    }
}
