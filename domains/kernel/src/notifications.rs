//! Per-user notification categories, shared by every domain.
//!
//! A domain declares the kinds of email it sends as [`Category`] constants and
//! lists them in `Domain::notification_categories`; the api collects every
//! domain's list into one [`Catalog`] in the schema data. Users turn categories
//! off (table `notification_preferences`, owned by the kernel), and a use case
//! queues an email through [`email`], inside its own transaction, only to the
//! recipients who kept the category on.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::mailer::{Email, enqueue_email};
use crate::schema::notification_preferences;

/// A kind of email a user can turn off, e.g. `ticket_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Category {
    /// Stored name, unique across domains (`notification_preferences.category`).
    pub name: &'static str,
    /// What the user gets, for documentation and settings screens.
    pub description: &'static str,
}

/// Every category the server's domains declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog(Vec<Category>);

impl Catalog {
    /// The catalog of `categories`, in the order given.
    pub fn new(categories: impl IntoIterator<Item = Category>) -> Self {
        Self(categories.into_iter().collect())
    }

    /// Every category.
    pub fn categories(&self) -> &[Category] {
        &self.0
    }

    /// The category named `name`; `BAD_USER_INPUT` on the field `category` otherwise.
    pub fn find(&self, name: &str) -> AppResult<Category> {
        self.0
            .iter()
            .copied()
            .find(|category| category.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.0.iter().map(|category| category.name).collect();
                AppError::invalid_field(
                    "category",
                    format!("Unknown category; one of {}", names.join(", ")),
                )
            })
    }
}

/// Someone to notify: a user and the address to write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The user, whose preferences apply.
    pub user_id: Uuid,
    /// Their email address.
    pub address: String,
}

/// Queues `subject`/`text` for each recipient (once per user) who has not
/// turned `category` off. Call it inside the use case's transaction. Answers
/// how many emails were queued.
pub async fn email(
    conn: &mut AsyncPgConnection,
    recipients: &[Recipient],
    category: Category,
    subject: &str,
    text: &str,
) -> AppResult<usize> {
    let mut users: Vec<Uuid> = recipients.iter().map(|r| r.user_id).collect();
    users.sort();
    users.dedup();
    if users.is_empty() {
        return Ok(0);
    }
    let opted_out: Vec<Uuid> = notification_preferences::table
        .filter(notification_preferences::user_id.eq_any(&users))
        .filter(notification_preferences::category.eq(category.name))
        .filter(notification_preferences::email.eq(false))
        .select(notification_preferences::user_id)
        .load(conn)
        .await?;
    let mut queued = Vec::new();
    for recipient in recipients {
        if opted_out.contains(&recipient.user_id) || queued.contains(&recipient.user_id) {
            continue;
        }
        enqueue_email(
            conn,
            &Email {
                to: recipient.address.clone(),
                subject: subject.to_string(),
                text: text.to_string(),
                html: None,
            },
        )
        .await?;
        queued.push(recipient.user_id);
    }
    Ok(queued.len())
}

/// Sets whether `user` gets emails of `category`.
pub async fn set(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    category: Category,
    email: bool,
) -> AppResult<()> {
    diesel::insert_into(notification_preferences::table)
        .values((
            notification_preferences::user_id.eq(user),
            notification_preferences::category.eq(category.name),
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

/// The names of the categories `user` turned off.
pub async fn muted(conn: &mut AsyncPgConnection, user: Uuid) -> AppResult<Vec<String>> {
    Ok(notification_preferences::table
        .filter(notification_preferences::user_id.eq(user))
        .filter(notification_preferences::email.eq(false))
        .select(notification_preferences::category)
        .load(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const REPLY: Category = Category {
        name: "ticket_reply",
        description: "Replies on your tickets",
    };
    const INVOICE: Category = Category {
        name: "invoice_issued",
        description: "New invoices",
    };

    #[test]
    fn the_catalog_finds_declared_categories_and_names_them_when_asked_for_another() {
        let catalog = Catalog::new([REPLY, INVOICE]);
        assert_eq!(catalog.find("invoice_issued").ok(), Some(INVOICE));
        assert_eq!(catalog.categories(), &[REPLY, INVOICE]);
        let error = catalog.find("spam").expect_err("unknown");
        assert_eq!(error.code(), ErrorCode::BadUserInput);
        assert!(
            Catalog::default().find("ticket_reply").is_err(),
            "an empty catalog knows nothing"
        );
    }
}
