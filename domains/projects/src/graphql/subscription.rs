//! Live board updates.

use async_graphql::{Context, Enum, ID, Object, Subscription};
use futures_util::{Stream, StreamExt};
use kernel::ids::parse_id;
use kernel::live::{Live, LiveAccess, OrganizationSet, live_changes};
use kernel::{AccessScope, Principal, SignedIn, caller};
use uuid::Uuid;

use super::query::service;
use super::types::TaskNode;
use crate::events::{BoardChange, TaskFacts, board_topic};
use crate::model::TaskStatus;

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

/// A change on a project's board, as `boardEvents` delivers it.
pub struct BoardEvent {
    kind: BoardEventKind,
    project_id: Uuid,
    event_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    task: Option<TaskFacts>,
    principal: Principal,
}

impl BoardEvent {
    /// The GraphQL form of a live item; `None` for changes boards do not show.
    fn from_live(item: Live<BoardChange>, project_id: Uuid, principal: Principal) -> Option<Self> {
        let (kind, event_id, actor_id, task) = match item {
            Live::Refetch => (BoardEventKind::Refetch, None, None, None),
            Live::Change {
                event_id,
                actor_id,
                change,
            } => {
                let (kind, facts) = match change {
                    BoardChange::TaskCreated(facts) => (BoardEventKind::TaskCreated, facts),
                    BoardChange::TaskUpdated(facts) => (BoardEventKind::TaskUpdated, facts),
                    BoardChange::TaskMoved(facts) => (BoardEventKind::TaskMoved, facts),
                    BoardChange::TaskDeleted(facts) => (BoardEventKind::TaskDeleted, facts),
                    BoardChange::MemberRemoved { .. } => return None,
                };
                (kind, Some(event_id), actor_id, Some(facts))
            }
        };
        Some(Self {
            kind,
            project_id,
            event_id,
            actor_id,
            task,
            principal,
        })
    }
}

/// A change on a project's board: which task changed and how, or
/// `REFETCH` when changes may have been missed. Carries ids and the task's
/// position; `task` reads the task as it is now.
#[Object]
impl BoardEvent {
    /// Which change this is; on `REFETCH`, reload the board and ignore the
    /// other fields.
    async fn kind(&self) -> BoardEventKind {
        self.kind
    }

    /// Unique identifier of the event, to drop duplicates (null for `REFETCH`).
    async fn event_id(&self) -> Option<ID> {
        self.event_id.map(|id| ID(id.to_string()))
    }

    /// `Project.id` of the board that changed (the one subscribed to).
    async fn project_id(&self) -> ID {
        ID(self.project_id.to_string())
    }

    /// `User.id` of who made the change, so a client can skip its own echo;
    /// null for `REFETCH` and changes made by the system.
    async fn actor_id(&self) -> Option<ID> {
        self.actor_id.map(|id| ID(id.to_string()))
    }

    /// `Task.id` of the task that changed; null for `REFETCH`.
    async fn task_id(&self) -> Option<ID> {
        self.task.as_ref().map(|task| ID(task.task_id.to_string()))
    }

    /// The task's column after the change; null for `REFETCH`.
    async fn status(&self) -> Option<TaskStatus> {
        self.task.as_ref().map(|task| task.status)
    }

    /// The task's `orderKey` after the change; null for `REFETCH`.
    async fn order_key(&self) -> Option<&str> {
        self.task.as_ref().map(|task| task.order_key.as_str())
    }

    /// The task's `version` after the change; null for `REFETCH`.
    async fn version(&self) -> Option<i64> {
        self.task.as_ref().map(|task| task.version)
    }

    /// The task as it is now, read when this field is resolved (null when
    /// deleted, for `REFETCH`, or when you may no longer see it).
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TaskNode>> {
        if self.kind == BoardEventKind::TaskDeleted {
            return Ok(None);
        }
        let Some(task_id) = self.task.as_ref().map(|task| task.task_id) else {
            return Ok(None);
        };
        match service(ctx).task(&self.principal, task_id).await {
            Ok(task) => Ok(Some(TaskNode(task, None))),
            Err(error) if error.code() == kernel::ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

#[Subscription]
impl ProjectsSubscription {
    /// Changes on a project's board, for everyone allowed to see the project.
    /// A freelancer's stream ends when they are removed from the project; every
    /// stream ends when the access token expires.
    #[graphql(guard = "SignedIn")]
    async fn board_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`Project.id` of a project you may see (`NOT_FOUND` otherwise).")]
        project_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = BoardEvent> + use<>> {
        let principal = caller(ctx)?.clone();
        let project_id = parse_id(&project_id, "projectId")?;
        let service = service(ctx).clone();
        service.project(&principal, project_id).await?;
        // The project was checked just now; board events name no organization.
        let access = LiveAccess {
            organizations: OrganizationSet::Every,
            staff: principal.scope() == AccessScope::Staff,
        };
        let member = match principal.scope() {
            AccessScope::Assigned(user) => Some(user),
            _ => None,
        };
        let changes = live_changes::<BoardChange>(
            service.bus().as_ref(),
            &board_topic(project_id),
            &principal,
            access,
        );
        Ok(changes
            .take_while(move |item| {
                let removed = matches!(
                    item,
                    Live::Change { change: BoardChange::MemberRemoved { user_id }, .. }
                        if Some(*user_id) == member
                );
                std::future::ready(!removed)
            })
            .filter_map(move |item| {
                std::future::ready(BoardEvent::from_live(item, project_id, principal.clone()))
            }))
    }
}
