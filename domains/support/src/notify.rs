//! Email notifications, written to the outbox in the transaction of the change.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::AppError;
use kernel::mailer::{Email, enqueue_email};
use kernel::schema::{notification_preferences, users};
use uuid::Uuid;

/// Kinds of email a user can turn off.
pub const CATEGORIES: [&str; 5] = [
    "ticket_created",
    "ticket_reply",
    "ticket_status",
    "ticket_assigned",
    "sla_warning",
];

/// Queues `subject`/`text` for each recipient that is active, not the actor,
/// and has not turned `category` off. Answers how many were queued.
pub async fn email_users(
    conn: &mut AsyncPgConnection,
    recipients: &[Uuid],
    actor: Option<Uuid>,
    category: &str,
    subject: &str,
    text: &str,
) -> Result<usize, AppError> {
    let mut unique: Vec<Uuid> = recipients
        .iter()
        .copied()
        .filter(|id| Some(*id) != actor)
        .collect();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Ok(0);
    }
    let opted_out: Vec<Uuid> = notification_preferences::table
        .filter(notification_preferences::user_id.eq_any(&unique))
        .filter(notification_preferences::category.eq(category))
        .filter(notification_preferences::email.eq(false))
        .select(notification_preferences::user_id)
        .load(conn)
        .await?;
    let addresses: Vec<String> = users::table
        .filter(users::id.eq_any(&unique))
        .filter(users::id.ne_all(&opted_out))
        .filter(users::status.eq("active"))
        .select(users::email)
        .load(conn)
        .await?;
    for address in &addresses {
        enqueue_email(
            conn,
            &Email {
                to: address.clone(),
                subject: subject.to_string(),
                text: text.to_string(),
                html: None,
            },
        )
        .await?;
    }
    Ok(addresses.len())
}

/// Admins of the agency (they hear about new and unassigned tickets and SLA risks).
pub async fn admins(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>, AppError> {
    Ok(users::table
        .filter(users::role.eq_any(["admin", "super_admin"]))
        .filter(users::status.eq("active"))
        .select(users::id)
        .load(conn)
        .await?)
}

/// Sets whether `user` gets emails of `category`.
pub async fn set_preference(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    category: &str,
    email: bool,
) -> Result<(), AppError> {
    if !CATEGORIES.contains(&category) {
        return Err(AppError::invalid_field(
            "category",
            format!("Unknown category; one of {}", CATEGORIES.join(", ")),
        ));
    }
    diesel::insert_into(notification_preferences::table)
        .values((
            notification_preferences::user_id.eq(user),
            notification_preferences::category.eq(category),
            notification_preferences::email.eq(email),
        ))
        .on_conflict((
            notification_preferences::user_id,
            notification_preferences::category,
        ))
        .do_update()
        .set(notification_preferences::email.eq(email))
        .execute(conn)
        .await?;
    Ok(())
}

/// The categories `user` turned off.
pub async fn muted(conn: &mut AsyncPgConnection, user: Uuid) -> Result<Vec<String>, AppError> {
    Ok(notification_preferences::table
        .filter(notification_preferences::user_id.eq(user))
        .filter(notification_preferences::email.eq(false))
        .select(notification_preferences::category)
        .load(conn)
        .await?)
}
