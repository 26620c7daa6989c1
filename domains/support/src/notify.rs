//! The support desk's email categories and who hears about what; emails go
//! through `kernel::notifications`, in the transaction of the change.

use diesel_async::AsyncPgConnection;
use kernel::AppError;
use kernel::notifications::{self, Category, Recipient};
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
    let recipients: Vec<Recipient> = auth::repo::active_user_emails(conn, &wanted)
        .await?
        .into_iter()
        .map(|(user_id, address)| Recipient { user_id, address })
        .collect();
    notifications::email(conn, &recipients, category, subject, text).await
}

/// Like [`email_users`], for staff-side content: only those of `users` whose
/// role holds `permission` at send time are emailed, so someone who is no
/// longer staff (an employee turned freelancer, still an assignee until the
/// role change is handled) never receives it.
pub async fn email_holders(
    conn: &mut AsyncPgConnection,
    users: &[Uuid],
    permission: &str,
    actor: Option<Uuid>,
    category: Category,
    subject: &str,
    text: &str,
) -> Result<usize, AppError> {
    let holders = auth::repo::permission_holders(conn, users, permission).await?;
    email_users(conn, &holders, actor, category, subject, text).await
}

/// Admins of the agency (they hear about new and unassigned tickets and SLA risks).
pub async fn admins(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>, AppError> {
    auth::repo::active_admin_ids(conn).await
}
