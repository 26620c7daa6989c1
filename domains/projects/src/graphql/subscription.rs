//! Live board updates.

use async_graphql::{Context, Enum, ID, Object, Subscription};
use futures_util::{Stream, StreamExt};
use kernel::events::{Delivery, Event};
use kernel::ids::parse_id;
use kernel::{Principal, SignedIn, caller};
use uuid::Uuid;

use super::query::service;
use super::types::{TaskNode, TaskStatus};
use crate::service::board_topic;

/// Projects subscriptions.
#[derive(Default)]
pub struct ProjectsSubscription;

/// What happened on a board.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardEventKind {
    /// A task was added.
    TaskCreated,
    /// A task's fields changed.
    TaskUpdated,
    /// A task changed column or position.
    TaskMoved,
    /// A task was deleted.
    TaskDeleted,
    /// Updates may have been missed (slow connection or a bus reconnect): reload the board.
    Refetch,
}

/// A change on a project's board.
pub struct BoardEvent {
    kind: BoardEventKind,
    project_id: Uuid,
    event: Option<Event>,
    principal: Principal,
}

impl BoardEvent {
    fn data_uuid(&self, key: &str) -> Option<Uuid> {
        self.event
            .as_ref()
            .and_then(|event| event.data.get(key))
            .and_then(|value| value.as_str())
            .and_then(|value| Uuid::parse_str(value).ok())
    }

    fn data_str(&self, key: &str) -> Option<&str> {
        self.event
            .as_ref()
            .and_then(|event| event.data.get(key))
            .and_then(|value| value.as_str())
    }
}

#[Object]
impl BoardEvent {
    /// What happened.
    async fn kind(&self) -> BoardEventKind {
        self.kind
    }

    /// Id of the event (absent for REFETCH).
    async fn event_id(&self) -> Option<ID> {
        self.event.as_ref().map(|event| ID(event.id.to_string()))
    }

    /// The project.
    async fn project_id(&self) -> ID {
        ID(self.project_id.to_string())
    }

    /// Who made the change, so a client can skip its own echo.
    async fn actor_id(&self) -> Option<ID> {
        self.event
            .as_ref()
            .and_then(|event| event.actor_id)
            .map(|id| ID(id.to_string()))
    }

    /// The task concerned.
    async fn task_id(&self) -> Option<ID> {
        self.data_uuid("taskId").map(|id| ID(id.to_string()))
    }

    /// The task's column after the change.
    async fn status(&self) -> Option<TaskStatus> {
        self.data_str("status").and_then(TaskStatus::from_db)
    }

    /// The task's order key after the change.
    async fn order_key(&self) -> Option<&str> {
        self.data_str("orderKey")
    }

    /// The task's version after the change.
    async fn version(&self) -> Option<i64> {
        self.event
            .as_ref()
            .and_then(|event| event.data.get("version"))
            .and_then(|value| value.as_i64())
    }

    /// The task as it is now (null when deleted).
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TaskNode>> {
        if self.kind == BoardEventKind::TaskDeleted {
            return Ok(None);
        }
        let Some(task_id) = self.data_uuid("taskId") else {
            return Ok(None);
        };
        match service(ctx).task(&self.principal, task_id).await {
            Ok(task) => Ok(Some(TaskNode(task, None))),
            Err(error) if error.code() == kernel::ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

fn kind_of(event: &Event) -> Option<BoardEventKind> {
    match event.kind.as_str() {
        "task.created" => Some(BoardEventKind::TaskCreated),
        "task.updated" => Some(BoardEventKind::TaskUpdated),
        "task.moved" => Some(BoardEventKind::TaskMoved),
        "task.deleted" => Some(BoardEventKind::TaskDeleted),
        _ => None,
    }
}

#[Subscription]
impl ProjectsSubscription {
    /// Changes on a project's board, for everyone allowed to see the project.
    /// Ends when the access token expires.
    #[graphql(guard = "SignedIn")]
    async fn board_events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = BoardEvent> + use<>> {
        let principal = caller(ctx)?.clone();
        let project_id = parse_id(&project_id, "projectId")?;
        let service = service(ctx).clone();
        service.project(&principal, project_id).await?;
        let expires_in = (principal.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let deliveries = service.bus().subscribe(&board_topic(project_id));
        let stream = deliveries
            .filter_map(move |delivery| {
                let service = service.clone();
                let principal = principal.clone();
                async move {
                    // Visibility can change while subscribed (a member removed).
                    if !service
                        .can_see(&principal, project_id)
                        .await
                        .unwrap_or(false)
                    {
                        return None;
                    }
                    match delivery {
                        Delivery::Gap => Some(BoardEvent {
                            kind: BoardEventKind::Refetch,
                            project_id,
                            event: None,
                            principal,
                        }),
                        Delivery::Event(event) => kind_of(&event).map(|kind| BoardEvent {
                            kind,
                            project_id,
                            event: Some(event),
                            principal,
                        }),
                    }
                }
            })
            .take_until(tokio::time::sleep(expires_in));
        Ok(stream)
    }
}
