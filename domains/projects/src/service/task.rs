//! Tasks: the board, moves, my tasks and workload.

use chrono::{NaiveDate, Utc};
use diesel::dsl::{exists, sql};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Date, SmallInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::schema::{milestones, project_members, projects, tasks};
use kernel::validate::required;
use kernel::{AppError, Principal};
use uuid::Uuid;

use crate::events::BoardChange;
use crate::model::{MyTasksKey, Project, Task, TaskPriority, TaskStatus};
use crate::ordering::key_between;
use crate::policy::may_write_tasks;
use crate::repo::{find_visible, visible_projects};

use super::{Page, ProjectsService};

/// Fields of a new task.
#[derive(Debug, Clone)]
pub struct NewTaskInput {
    /// Project.
    pub project_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Column (default todo).
    pub status: Option<TaskStatus>,
    /// Priority (default medium).
    pub priority: Option<TaskPriority>,
    /// Assignee.
    pub assignee_id: Option<Uuid>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// Milestone.
    pub milestone_id: Option<Uuid>,
}

/// Changes to a task; `None` keeps the value.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskChanges {
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Priority.
    pub priority: Option<TaskPriority>,
    /// Assignee (`Some(None)` unassigns).
    pub assignee_id: Option<Option<Uuid>>,
    /// Due date (`Some(None)` clears it).
    pub due_date: Option<Option<NaiveDate>>,
    /// Milestone (`Some(None)` clears it).
    pub milestone_id: Option<Option<Uuid>>,
}

/// A move on the board.
#[derive(Debug, Clone)]
pub struct MoveTaskInput {
    /// The task.
    pub task_id: Uuid,
    /// Target column.
    pub to_status: TaskStatus,
    /// The task it goes after (above it), if any.
    pub after_task_id: Option<Uuid>,
    /// The task it goes before (below it), if any.
    pub before_task_id: Option<Uuid>,
    /// The version the client saw; a stale one is `CONFLICT`; `None` moves
    /// the current version.
    pub expected_version: Option<i32>,
}

/// Open work of one assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRow {
    /// The assignee.
    pub user_id: Uuid,
    /// Tasks not done.
    pub open_tasks: i64,
    /// Open tasks due within the range.
    pub due_soon: i64,
    /// Open tasks past their due date.
    pub overdue: i64,
}

impl ProjectsService {
    async fn require_task_writer(
        &self,
        conn: &mut AsyncPgConnection,
        principal: &Principal,
        project_id: Uuid,
    ) -> Result<Project, AppError> {
        let project = find_visible(conn, principal.scope(), project_id).await?;
        let member: bool = diesel::select(exists(
            project_members::table
                .filter(project_members::project_id.eq(project_id))
                .filter(project_members::user_id.eq(principal.user_id)),
        ))
        .get_result(conn)
        .await?;
        if !may_write_tasks(principal, member) {
            return Err(AppError::forbidden(
                "You may not change tasks of this project",
            ));
        }
        if project.archived_at.is_some() {
            return Err(AppError::conflict("The project is archived"));
        }
        Ok(project)
    }

    async fn check_task_refs(
        conn: &mut AsyncPgConnection,
        project_id: Uuid,
        assignee: Option<Uuid>,
        milestone: Option<Uuid>,
    ) -> Result<(), AppError> {
        if let Some(assignee) = assignee {
            let member: bool = diesel::select(exists(
                project_members::table
                    .filter(project_members::project_id.eq(project_id))
                    .filter(project_members::user_id.eq(assignee)),
            ))
            .get_result(conn)
            .await?;
            if !member {
                return Err(AppError::invalid_field(
                    "input.assigneeId",
                    "Tasks are assigned to members of the project",
                ));
            }
        }
        if let Some(milestone) = milestone {
            let found: bool = diesel::select(exists(
                milestones::table
                    .filter(milestones::id.eq(milestone))
                    .filter(milestones::project_id.eq(project_id)),
            ))
            .get_result(conn)
            .await?;
            if !found {
                return Err(AppError::invalid_field(
                    "input.milestoneId",
                    "No such milestone in this project",
                ));
            }
        }
        Ok(())
    }

    /// Creates a task at the end of its column.
    pub async fn create_task(
        &self,
        principal: &Principal,
        input: NewTaskInput,
    ) -> Result<Task, AppError> {
        let title = required(&input.title, "input.title", 300)?;
        let status = input.status.unwrap_or(TaskStatus::Todo);
        let priority = input.priority.unwrap_or(TaskPriority::Medium);
        let mut conn = self.conn().await?;
        self.require_task_writer(&mut conn, principal, input.project_id)
            .await?;
        Self::check_task_refs(
            &mut conn,
            input.project_id,
            input.assignee_id,
            input.milestone_id,
        )
        .await?;
        let task = conn
            .transaction::<_, AppError, _>(async |conn| {
                lock_column(conn, input.project_id, status).await?;
                let last: Option<String> = tasks::table
                    .filter(tasks::project_id.eq(input.project_id))
                    .filter(tasks::status.eq(status))
                    .select(diesel::dsl::max(tasks::order_key))
                    .first(conn)
                    .await?;
                let key = key_between(last.as_deref(), None).map_err(AppError::internal)?;
                Ok(diesel::insert_into(tasks::table)
                    .values((
                        tasks::id.eq(Uuid::now_v7()),
                        tasks::project_id.eq(input.project_id),
                        tasks::milestone_id.eq(input.milestone_id),
                        tasks::title.eq(&title),
                        tasks::description.eq(input.description.clone().unwrap_or_default()),
                        tasks::status.eq(status),
                        tasks::priority.eq(priority),
                        tasks::assignee_id.eq(input.assignee_id),
                        tasks::due_date.eq(input.due_date),
                        tasks::order_key.eq(&key),
                        tasks::created_by.eq(principal.user_id),
                    ))
                    .returning(Task::as_returning())
                    .get_result(conn)
                    .await?)
            })
            .await?;
        self.publish(
            task.project_id,
            principal.user_id,
            &BoardChange::TaskCreated((&task).into()),
        );
        Ok(task)
    }

    async fn task_for_write(
        &self,
        conn: &mut AsyncPgConnection,
        principal: &Principal,
        task_id: Uuid,
    ) -> Result<Task, AppError> {
        let task: Task = tasks::table
            .find(task_id)
            .select(Task::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("task"))?;
        // A task of an invisible project is not found, not forbidden.
        self.require_task_writer(conn, principal, task.project_id)
            .await?;
        Ok(task)
    }

    /// Changes a task's fields; `expected_version`, when given, guards against lost updates.
    pub async fn update_task(
        &self,
        principal: &Principal,
        task_id: Uuid,
        changes: TaskChanges,
        expected_version: Option<i32>,
    ) -> Result<Task, AppError> {
        let mut changes = changes;
        if let Some(title) = &changes.title {
            changes.title = Some(required(title, "input.title", 300)?);
        }
        let mut conn = self.conn().await?;
        let task = self.task_for_write(&mut conn, principal, task_id).await?;
        Self::check_task_refs(
            &mut conn,
            task.project_id,
            changes.assignee_id.flatten(),
            changes.milestone_id.flatten(),
        )
        .await?;
        let version = expected_version.unwrap_or(task.version);
        let updated: Option<Task> = diesel::update(
            tasks::table
                .find(task_id)
                .filter(tasks::version.eq(version)),
        )
        .set((
            &changes,
            tasks::version.eq(tasks::version + 1),
            tasks::updated_at.eq(Utc::now()),
        ))
        .returning(Task::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?;
        let updated = updated
            .ok_or_else(|| AppError::conflict("The task was changed by someone else; reload it"))?;
        self.publish(
            updated.project_id,
            principal.user_id,
            &BoardChange::TaskUpdated((&updated).into()),
        );
        Ok(updated)
    }

    /// Deletes a task.
    pub async fn delete_task(
        &self,
        principal: &Principal,
        task_id: Uuid,
    ) -> Result<Task, AppError> {
        let mut conn = self.conn().await?;
        let task = self.task_for_write(&mut conn, principal, task_id).await?;
        diesel::delete(tasks::table.find(task_id))
            .execute(&mut conn)
            .await?;
        self.publish(
            task.project_id,
            principal.user_id,
            &BoardChange::TaskDeleted((&task).into()),
        );
        Ok(task)
    }

    /// Moves a task between the named neighbours in a column: one row written,
    /// `CONFLICT` when `expected_version` is given and stale.
    pub async fn move_task(
        &self,
        principal: &Principal,
        input: MoveTaskInput,
    ) -> Result<Task, AppError> {
        let mut conn = self.conn().await?;
        let task = self
            .task_for_write(&mut conn, principal, input.task_id)
            .await?;
        if input
            .expected_version
            .is_some_and(|expected| expected != task.version)
        {
            return Err(AppError::conflict(
                "The task was moved or changed by someone else; reload the board",
            ));
        }
        let moved = conn
            .transaction::<_, AppError, _>(async |conn| {
                lock_column(conn, task.project_id, input.to_status).await?;
                let key = self.key_for_move(conn, &task, &input).await?;
                let mut update = diesel::update(tasks::table.find(task.id)).into_boxed();
                if let Some(expected) = input.expected_version {
                    update = update.filter(tasks::version.eq(expected));
                }
                update
                    .set((
                        tasks::status.eq(input.to_status),
                        tasks::order_key.eq(&key),
                        tasks::version.eq(tasks::version + 1),
                        tasks::updated_at.eq(Utc::now()),
                    ))
                    .returning(Task::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| {
                        AppError::conflict(
                            "The task was moved or changed by someone else; reload the board",
                        )
                    })
            })
            .await?;
        self.publish(
            moved.project_id,
            principal.user_id,
            &BoardChange::TaskMoved((&moved).into()),
        );
        Ok(moved)
    }

    async fn key_for_move(
        &self,
        conn: &mut AsyncPgConnection,
        task: &Task,
        input: &MoveTaskInput,
    ) -> Result<String, AppError> {
        let neighbour = async |conn: &mut AsyncPgConnection,
                               id: Uuid,
                               field: &str|
               -> Result<String, AppError> {
            if id == task.id {
                return Err(AppError::invalid_field(
                    field,
                    "A task cannot be its own neighbour",
                ));
            }
            tasks::table
                .find(id)
                .filter(tasks::project_id.eq(task.project_id))
                .filter(tasks::status.eq(input.to_status))
                .select(tasks::order_key)
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| AppError::invalid_field(field, "Not a task of the target column"))
        };
        let column = || {
            tasks::table
                .filter(tasks::project_id.eq(task.project_id))
                .filter(tasks::status.eq(input.to_status))
                .filter(tasks::id.ne(task.id))
        };
        let mut below = match input.after_task_id {
            Some(id) => Some(neighbour(conn, id, "input.afterTaskId").await?),
            None => None,
        };
        let mut above = match input.before_task_id {
            Some(id) => Some(neighbour(conn, id, "input.beforeTaskId").await?),
            None => None,
        };
        match (&below, &above) {
            (Some(low), None) => {
                above = column()
                    .filter(tasks::order_key.gt(low))
                    .select(diesel::dsl::min(tasks::order_key))
                    .first(conn)
                    .await?;
            }
            (None, Some(high)) => {
                below = column()
                    .filter(tasks::order_key.lt(high))
                    .select(diesel::dsl::max(tasks::order_key))
                    .first(conn)
                    .await?;
            }
            (None, None) => {
                below = column()
                    .select(diesel::dsl::max(tasks::order_key))
                    .first(conn)
                    .await?;
            }
            (Some(low), Some(high)) => {
                if low >= high {
                    return Err(AppError::invalid_field(
                        "input.beforeTaskId",
                        "The neighbours are not next to each other in this order",
                    ));
                }
                // Another move may have landed between them since the client
                // looked: go right after `low`, before whatever follows it now.
                above = column()
                    .filter(tasks::order_key.gt(low))
                    .select(diesel::dsl::min(tasks::order_key))
                    .first(conn)
                    .await?;
            }
        }
        key_between(below.as_deref(), above.as_deref()).map_err(AppError::internal)
    }

    /// Every task of a project in board order (column, then key): one query.
    pub async fn board(&self, project_id: Uuid) -> Result<Vec<Task>, AppError> {
        let mut conn = self.conn().await?;
        Ok(tasks::table
            .filter(tasks::project_id.eq(project_id))
            .order((tasks::status.asc(), tasks::order_key.asc()))
            .select(Task::as_select())
            .load(&mut conn)
            .await?)
    }

    /// A task the caller may see.
    pub async fn task(&self, principal: &Principal, id: Uuid) -> Result<Task, AppError> {
        let mut conn = self.conn().await?;
        let task: Task = tasks::table
            .find(id)
            .select(Task::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("task"))?;
        find_visible(&mut conn, principal.scope(), task.project_id)
            .await
            .map_err(|error| error.unless_server_failure(|| AppError::not_found("task")))?;
        Ok(task)
    }

    /// Tasks assigned to the caller in projects they may see and that are
    /// not archived, soonest due first (undated last), then most urgent,
    /// open ones only unless asked.
    pub async fn my_tasks(
        &self,
        principal: &Principal,
        include_done: bool,
        after: Option<MyTasksKey>,
        limit: usize,
    ) -> Result<Page<Task>, AppError> {
        let mut conn = self.conn().await?;
        let scope = principal.scope();
        let build = || {
            let mut query = tasks::table
                .filter(tasks::assignee_id.eq(principal.user_id))
                .filter(
                    tasks::project_id.eq_any(
                        visible_projects(scope)
                            .filter(projects::archived_at.is_null())
                            .select(projects::id),
                    ),
                )
                .into_boxed();
            if !include_done {
                query = query.filter(tasks::status.ne(TaskStatus::Done));
            }
            query
        };
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        // The sort key as SQL: due date (undated last), urgency descending, id.
        let due = || sql::<Date>("COALESCE(tasks.due_date, DATE '9999-12-31')");
        let less_urgent = || sql::<SmallInt>(MyTasksKey::LESS_URGENT_SQL);
        if let Some(after) = after {
            page = page.filter(
                sql::<Bool>("(COALESCE(tasks.due_date, DATE '9999-12-31'), ")
                    .sql(MyTasksKey::LESS_URGENT_SQL)
                    .sql(", tasks.id) > (")
                    .bind::<Date, _>(after.due)
                    .sql(", ")
                    .bind::<SmallInt, _>(-after.urgency)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(after.id)
                    .sql(")"),
            );
        }
        let rows: Vec<Task> = page
            .order((due().asc(), less_urgent().asc(), tasks::id.asc()))
            .limit(limit as i64 + 1)
            .select(Task::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Open tasks, due soon (within `from..=to`) and overdue, per assignee (staff).
    pub async fn workload(
        &self,
        principal: &Principal,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<WorkloadRow>, AppError> {
        principal.require("projects:workload.read")?;
        if to < from {
            return Err(AppError::invalid_field(
                "to",
                "The range ends before it starts",
            ));
        }
        let today = Utc::now().date_naive();
        let mut conn = self.conn().await?;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            user_id: Uuid,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            open_tasks: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            due_soon: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            overdue: i64,
        }
        // `'done'` is `TaskStatus::Done` written out, as in the partial index
        // `tasks_assignee_idx`, so that the planner can use that index.
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT t.assignee_id AS user_id,
                    count(*) AS open_tasks,
                    count(*) FILTER (WHERE t.due_date BETWEEN $1 AND $2) AS due_soon,
                    count(*) FILTER (WHERE t.due_date < $3) AS overdue
             FROM tasks t JOIN projects p ON p.id = t.project_id
             WHERE t.assignee_id IS NOT NULL AND t.status <> 'done' AND p.archived_at IS NULL
             GROUP BY t.assignee_id
             ORDER BY open_tasks DESC, t.assignee_id",
        )
        .bind::<diesel::sql_types::Date, _>(from)
        .bind::<diesel::sql_types::Date, _>(to)
        .bind::<diesel::sql_types::Date, _>(today)
        .load(&mut conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| WorkloadRow {
                user_id: row.user_id,
                open_tasks: row.open_tasks,
                due_soon: row.due_soon,
                overdue: row.overdue,
            })
            .collect())
    }
}

/// Serialises writes to one board column for the rest of the transaction, so
/// that concurrent moves compute keys against the column as it really is.
async fn lock_column(
    conn: &mut AsyncPgConnection,
    project_id: Uuid,
    status: TaskStatus,
) -> Result<(), AppError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!(
            "board:{project_id}:{status}",
            status = status.as_db()
        ))
        .execute(conn)
        .await?;
    Ok(())
}
