//! The event bus: live updates for subscriptions, published after commit.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use uuid::Uuid;

/// A change that happened. Events carry ids, not rows: subscribers reload what
/// they may see, and payloads stay far below PostgreSQL's NOTIFY limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id of this event.
    pub id: Uuid,
    /// Topic such as `projects.board.<project id>`.
    pub topic: String,
    /// Kind such as `task.moved`.
    pub kind: String,
    /// Who caused it, so a client can skip its own echo.
    pub actor_id: Option<Uuid>,
    /// Ids and small values describing the change.
    pub data: serde_json::Value,
}

impl Event {
    /// A new event with a fresh id.
    pub fn new(
        topic: impl Into<String>,
        kind: impl Into<String>,
        actor_id: Option<Uuid>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            topic: topic.into(),
            kind: kind.into(),
            actor_id,
            data,
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

    #[tokio::test]
    async fn subscribers_receive_only_their_topic() {
        let bus = InProcessBus::new(16);
        let mut board = bus.subscribe("board.1");
        bus.publish(Event::new(
            "board.2",
            "task.moved",
            None,
            serde_json::json!({}),
        ));
        let wanted = Event::new(
            "board.1",
            "task.moved",
            None,
            serde_json::json!({"taskId": 1}),
        );
        bus.publish(wanted.clone());
        assert_eq!(board.next().await, Some(Delivery::Event(wanted)));
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_refetch() {
        let bus = InProcessBus::new(2);
        let mut slow = bus.subscribe("t");
        for _ in 0..5 {
            bus.publish(Event::new("t", "k", None, serde_json::Value::Null));
        }
        assert_eq!(slow.next().await, Some(Delivery::Gap));
    }
}
