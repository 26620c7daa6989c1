//! The support desk's email categories and who hears about what; emails go
//! through `kernel::notifications`, in the transaction of the change.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::notifications::{self, Category, Recipient};
use kernel::schema::users;
use kernel::{AppError, Role};
use uuid::Uuid;

/// New tickets (to admins) and the receipt of one's own.
pub const TICKET_CREATED: Category = Category {
    name: "ticket_created",
    description: "New tickets, and the receipt of a ticket you opened",
};
/// Replies and, for the assignee, internal notes.
pub const TICKET_REPLY: Category = Category {
    name: "ticket_reply",
    description: "Replies on tickets you opened or are assigned",
};
/// Status changes of one's tickets.
pub const TICKET_STATUS: Category = Category {
    name: "ticket_status",
    description: "Status changes of tickets you opened",
};
/// A ticket assigned to oneself.
pub const TICKET_ASSIGNED: Category = Category {
    name: "ticket_assigned",
    description: "Tickets assigned to you",
};
/// SLA warnings and breaches.
pub const SLA_WARNING: Category = Category {
    name: "sla_warning",
    description: "Tickets at risk of, or in, an SLA breach",
};

/// Every category the support desk sends.
pub const CATEGORIES: &[Category] = &[
    TICKET_CREATED,
    TICKET_REPLY,
    TICKET_STATUS,
    TICKET_ASSIGNED,
    SLA_WARNING,
];

/// Queues `subject`/`text` for each of `users` that is active, not the actor,
/// and has not turned `category` off. Answers how many were queued.
pub async fn email_users(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
    actor: Option<Uuid>,
    category: Category,
    subject: &str,
    text: &str,
) -> Result<usize, AppError> {
    let wanted: Vec<Uuid> = users
        .iter()
        .copied()
        .filter(|id| Some(*id) != actor)
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let recipients: Vec<Recipient> = users::table
        .filter(users::id.eq_any(&wanted))
        .filter(users::status.eq("active"))
        .select((users::id, users::email))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .map(|(user_id, address)| Recipient { user_id, address })
        .collect();
    notifications::email(conn, &recipients, category, subject, text).await
}

/// Admins of the agency (they hear about new and unassigned tickets and SLA risks).
pub async fn admins(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>, AppError> {
    Ok(users::table
        .filter(users::role.eq_any([Role::Admin.as_db(), Role::SuperAdmin.as_db()]))
        .filter(users::status.eq("active"))
        .select(users::id)
        .load(conn)
        .await?)
}
