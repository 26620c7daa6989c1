//! Rows of the auth tables and the typed vocabularies they hold.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::db_enum;
use kernel::schema::{organizations, sessions, users};
use uuid::Uuid;

db_enum! {
    /// Kinds of organization.
    OrganizationKind {
        /// The agency itself.
        Agency = "agency",
        /// A client of the agency.
        Client = "client",
        /// A partner that refers clients.
        Partner = "partner",
    }
}

/// A user row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: Uuid,
    /// Email as entered.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// Role, database form.
    pub role: String,
    /// active, invited or disabled.
    pub status: String,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Base32 TOTP secret, when enrolled.
    pub totp_secret: Option<String>,
    /// Whether TOTP is confirmed and required.
    pub totp_enabled: bool,
    /// email or sms, when a one-time code is required at login.
    pub otp_channel: Option<String>,
    /// Last accepted TOTP step.
    pub totp_last_step: Option<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The parsed role.
    pub fn role(&self) -> kernel::Role {
        kernel::Role::from_db(&self.role).unwrap_or(kernel::Role::Client)
    }

    /// Whether a second factor is required at login.
    pub fn mfa_required(&self) -> bool {
        self.totp_enabled || self.otp_channel.is_some()
    }
}

/// A new user.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    /// Id.
    pub id: Uuid,
    /// Organization.
    pub organization_id: Uuid,
    /// Email.
    pub email: &'a str,
    /// Name.
    pub name: &'a str,
    /// Phone.
    pub phone: Option<&'a str>,
    /// Role.
    pub role: &'a str,
    /// Status.
    pub status: &'a str,
    /// Password hash.
    pub password_hash: Option<&'a str>,
}

/// An organization row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg))]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Agency, client or partner.
    pub kind: OrganizationKind,
    /// The partner organization that referred this client.
    pub referred_by_partner_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A session row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// IP at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// Signed in at.
    pub created_at: DateTime<Utc>,
    /// Last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// Ends at.
    pub expires_at: DateTime<Utc>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}
