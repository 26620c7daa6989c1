//! Rows of the auth tables and the typed vocabularies they hold.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::schema::{
    organization_referrals, organizations, pending_registrations, sessions, users,
};
use kernel::{Role, db_enum};
use uuid::Uuid;

db_enum! {
    /// Whether an organization is the agency, a client or a partner; it
    /// decides which roles its users may hold.
    #[graphql(name = "OrganizationKindValue")]
    OrganizationKind {
        /// The agency itself: the one organization of staff and freelancers.
        Agency = "agency",
        /// A client of the agency, whose users hold the `CLIENT` role.
        Client = "client",
        /// A partner that refers clients; its users hold the `PARTNER` role.
        Partner = "partner",
    }
}

db_enum! {
    /// Whether an account can sign in.
    UserStatus {
        /// Can sign in with its password.
        Active = "active",
        /// Invited; has not chosen a password yet.
        Invited = "invited",
        /// Cannot sign in; every session was revoked.
        Disabled = "disabled",
    }
}

db_enum! {
    /// Where one-time login codes are sent.
    #[graphql(name = "OtpChannelKind")]
    OtpChannel {
        /// A 6-digit code emailed to the account's address at each login.
        Email = "email",
        /// A 6-digit code sent by SMS to `User.phone` at each login.
        Sms = "sms",
    }
}

db_enum! {
    /// How a login's second factor is proven.
    MfaMethod {
        /// A 6-digit code from an authenticator app (TOTP, 30-second steps).
        Totp = "totp",
        /// A 6-digit code just sent by email.
        Email = "email",
        /// A 6-digit code just sent by SMS.
        Sms = "sms",
    }
}

impl From<OtpChannel> for MfaMethod {
    fn from(channel: OtpChannel) -> Self {
        match channel {
            OtpChannel::Email => Self::Email,
            OtpChannel::Sms => Self::Sms,
        }
    }
}

db_enum! {
    /// What a one-time link is for (`one_time_tokens.purpose`).
    TokenPurpose {
        /// Choosing a new password; the user must be active.
        PasswordReset = "password_reset",
        /// Accepting an invitation; the user must still be invited.
        Invitation = "invitation",
    }
}

impl TokenPurpose {
    /// The status a user must have for a link of this purpose to be redeemed.
    pub fn required_status(self) -> UserStatus {
        match self {
            Self::PasswordReset => UserStatus::Active,
            Self::Invitation => UserStatus::Invited,
        }
    }
}

db_enum! {
    /// Why a session ended early (`sessions.revoked_reason`).
    RevokeReason {
        /// The user signed out of this session.
        Logout = "logout",
        /// The user ended this session from another one.
        RevokedByUser = "revoked_by_user",
        /// A used refresh token came back, so it may have been stolen.
        RefreshTokenReuse = "refresh_token_reuse",
        /// The password was reset; every session ends.
        PasswordReset = "password_reset",
        /// The user was disabled; every session ends.
        UserDisabled = "user_disabled",
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
    /// Role.
    pub role: Role,
    /// Active, invited or disabled.
    pub status: UserStatus,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Base32 TOTP secret, when enrolled.
    pub totp_secret: Option<String>,
    /// Whether TOTP is confirmed and required.
    pub totp_enabled: bool,
    /// Where a one-time code goes, when one is required at login.
    pub otp_channel: Option<OtpChannel>,
    /// Last accepted TOTP step.
    pub totp_last_step: Option<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

impl User {
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
    pub role: Role,
    /// Status.
    pub status: UserStatus,
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

db_enum! {
    /// Where a partner's referral of a client organization stands.
    ReferralStatus {
        /// The organization already existed: waiting for an admin.
        Pending = "pending",
        /// The partner is the organization's referrer.
        Approved = "approved",
        /// An admin refused it; nothing changed.
        Declined = "declined",
    }
}

/// A partner's referral of a client organization.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organization_referrals, check_for_backend(diesel::pg::Pg))]
pub struct OrganizationReferral {
    /// Id.
    pub id: Uuid,
    /// The referring partner organization.
    pub partner_id: Uuid,
    /// The client organization referred.
    pub organization_id: Uuid,
    /// The name as the partner typed it.
    pub name: String,
    /// Pending, approved or declined.
    pub status: ReferralStatus,
    /// The partner's user who referred it.
    pub requested_by: Uuid,
    /// The admin who decided; `None` for a new organization, approved at once.
    pub decided_by: Option<Uuid>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The admin's note on the decision.
    pub note: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An open registration waiting for its emailed link.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = pending_registrations, check_for_backend(diesel::pg::Pg))]
pub struct PendingRegistration {
    /// Id.
    pub id: Uuid,
    /// Email as entered.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Name of the client organization to create.
    pub company_name: String,
    /// Argon2id PHC string of the chosen password.
    pub password_hash: String,
    /// SHA-256 of the link's token, once mailed.
    pub token_hash: Option<Vec<u8>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The link stops working then.
    pub expires_at: DateTime<Utc>,
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
    pub revoked_reason: Option<RevokeReason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_redeemed_only_by_a_user_in_the_state_its_purpose_needs() {
        assert_eq!(
            TokenPurpose::Invitation.required_status(),
            UserStatus::Invited
        );
        assert_eq!(
            TokenPurpose::PasswordReset.required_status(),
            UserStatus::Active
        );
    }

    #[test]
    fn an_otp_channel_asks_for_the_matching_method() {
        assert_eq!(MfaMethod::from(OtpChannel::Email), MfaMethod::Email);
        assert_eq!(MfaMethod::from(OtpChannel::Sms), MfaMethod::Sms);
    }
}
