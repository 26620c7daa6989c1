//! Open registration (confirmed from the emailed link), invitations and their acceptance.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::outbox;
use kernel::schema::{one_time_tokens, organizations, pending_registrations, users};
use kernel::validate::required_text;
use kernel::{AppError, FieldError, Principal, RequestMeta, Role};
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthService, INPUT_FIELDS, IssuedSession, REGISTER_FIELDS, bad_password, insert_user,
    invalid_token, ip_key, map_unique, normalize_email, validate_email,
};
use crate::audit::AuditEvent;
use crate::jobs;
use crate::model::{
    NewUser, OrganizationKind, PendingRegistration, TokenPurpose, User, UserStatus,
};
use crate::password::check_strength;
use crate::policy::{may_grant, organization_kind_for};
use crate::rate_limit::{self, Budget};
use crate::repo::{find_organization, find_user_by_email};
use crate::tokens::{hash_token, new_opaque_token};

/// Input of `register`.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The person's name.
    pub name: String,
    /// Name of the client organization to create on confirmation.
    pub company_name: String,
}

/// Input of `inviteUser`.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// Email to send the invitation to.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Role to give.
    pub role: Role,
    /// Organization to join.
    pub organization_id: Uuid,
}

impl AuthService {
    /// Starts an open registration. The answer is the same for every valid
    /// input: the account-dependent half runs as a [`jobs::REGISTRATION`] job,
    /// which mails a confirmation link to a new address, or tells the owner of
    /// a known one that someone tried. Nothing is created until the link is
    /// confirmed ([`Self::confirm_registration`]).
    pub async fn register(&self, input: Registration, meta: &RequestMeta) -> Result<(), AppError> {
        if !self.config.open_registration {
            return Err(AppError::forbidden("Registration is by invitation only"));
        }
        let mut conn = self.conn().await?;
        let limits = self.config.rate_limits;
        self.consume(
            &mut conn,
            ip_key("register", meta),
            limits.register_per_ip_per_hour,
            Duration::from_secs(3600),
        )
        .await?;

        let email = validate_email(&input.email, "email")?;
        let mut problems = Vec::new();
        let name = required_text(&input.name, "name", 120)
            .map_err(|e| problems.push(e))
            .ok();
        let company = required_text(&input.company_name, "companyName", 160)
            .map_err(|e| problems.push(e))
            .ok();
        if let Err(message) = check_strength(&input.password, &[&email, &input.name]) {
            problems.push(FieldError {
                field: "password".into(),
                message,
            });
        }
        let (Some(name), Some(company)) = (name, company) else {
            return Err(AppError::invalid_fields(problems));
        };
        if !problems.is_empty() {
            return Err(AppError::invalid_fields(problems));
        }
        // Hashed for every address, known or not: the request's work must not
        // depend on the account.
        let password_hash = self.hasher.hash(&input.password).await?;
        // Over-budget requests for one address are dropped quietly: answering
        // RATE_LIMITED would tell that somebody keeps trying it.
        let address_budget = Budget {
            key: format!("register:email:{}", normalize_email(&email)),
            limit: limits.register_per_email_per_hour,
            window: Duration::from_secs(3600),
        };
        if rate_limit::consume(&mut conn, &address_budget)
            .await
            .is_err()
        {
            return Ok(());
        }
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.registration_ttl)
                .map_err(AppError::internal)?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let id = Uuid::now_v7();
            diesel::insert_into(pending_registrations::table)
                .values((
                    pending_registrations::id.eq(id),
                    pending_registrations::email.eq(&email),
                    pending_registrations::name.eq(&name),
                    pending_registrations::company_name.eq(&company),
                    pending_registrations::password_hash.eq(&password_hash),
                    pending_registrations::expires_at.eq(expires_at),
                ))
                .execute(conn)
                .await?;
            outbox::enqueue(
                conn,
                jobs::REGISTRATION,
                json!({ "registrationId": id, "meta": jobs::meta_payload(meta) }),
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// The [`jobs::REGISTRATION`] job: a known address's owner is told that
    /// someone tried to register it (and the pending registration dropped);
    /// a new address gets its confirmation link. Repeats do nothing.
    pub async fn mail_registration(&self, id: Uuid, meta: &RequestMeta) -> Result<(), AppError> {
        let token = new_opaque_token();
        let app_url = self.config.app_url.clone();
        let hours = (self.config.registration_ttl.as_secs() / 3600).max(1);
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let Some(pending) = lock_open_registration(conn, OpenRegistration::Unmailed(id)).await?
            else {
                return Ok(());
            };
            if let Some(owner) = find_user_by_email(conn, &pending.email).await? {
                diesel::delete(pending_registrations::table.find(pending.id))
                    .execute(conn)
                    .await?;
                kernel::mailer::enqueue_email(
                    conn,
                    &kernel::mailer::Email {
                        to: owner.email.clone(),
                        subject: "Your Fluxorae account already exists".into(),
                        text: format!(
                            "Hello {},\n\nSomeone tried to register a new Fluxorae account with this \
                             email address, which already has one. Nothing was changed.\n\n\
                             If it was you, sign in at {app_url}/login, or choose a new password \
                             at {app_url}/forgot-password if you forgot it.\n\n\
                             If it was not you, you can ignore this email.\n",
                            owner.name
                        ),
                        html: None,
                    },
                )
                .await?;
                return AuditEvent::new("auth.registration_of_existing_account", "user")
                    .of(owner.id)
                    .record(conn, meta)
                    .await;
            }
            diesel::update(pending_registrations::table.find(pending.id))
                .set(pending_registrations::token_hash.eq(hash_token(&token)))
                .execute(conn)
                .await?;
            kernel::mailer::enqueue_email(
                conn,
                &kernel::mailer::Email {
                    to: pending.email.clone(),
                    subject: "Confirm your Fluxorae registration".into(),
                    text: format!(
                        "Hello {},\n\nConfirm your email address to finish registering {} on \
                         Fluxorae. Open this link within {hours} hours:\n\n\
                         {app_url}/confirm-registration?token={token}\n\n\
                         If you did not register, ignore this email; nothing is created until \
                         the link is opened.\n",
                        pending.name, pending.company_name
                    ),
                    html: None,
                },
            )
            .await?;
            AuditEvent::new("auth.registration_requested", "registration")
                .of(pending.id)
                .diff(json!({ "email": pending.email, "companyName": pending.company_name }))
                .record(conn, meta)
                .await
        })
        .await
    }

    /// Finishes an open registration with the emailed link's token: creates
    /// the client organization (`company_name`, when given, replaces the name
    /// registered, e.g. after a `CONFLICT` on `companyName`) and the user,
    /// and signs in. Registration never joins an existing organization.
    pub async fn confirm_registration(
        &self,
        token: &str,
        company_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        let company_name = company_name
            .map(|name| required_text(name, "companyName", 160))
            .transpose()
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let token_hash = hash_token(token);
        let mut conn = self.conn().await?;
        let (user, session) = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let pending = lock_open_registration(conn, OpenRegistration::Token(&token_hash))
                    .await?
                    .ok_or_else(|| invalid_token("token"))?;
                let company = company_name.unwrap_or_else(|| pending.company_name.clone());
                let org_id = Uuid::now_v7();
                diesel::insert_into(organizations::table)
                    .values((
                        organizations::id.eq(org_id),
                        organizations::name.eq(&company),
                        organizations::kind.eq(OrganizationKind::Client),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| map_unique(error, REGISTER_FIELDS))?;
                let user = insert_user(
                    conn,
                    NewUser {
                        id: Uuid::now_v7(),
                        organization_id: org_id,
                        email: &pending.email,
                        name: &pending.name,
                        phone: None,
                        role: Role::Client,
                        status: UserStatus::Active,
                        password_hash: Some(&pending.password_hash),
                    },
                    REGISTER_FIELDS,
                )
                .await?;
                // Other pending registrations of the address could only fail now.
                diesel::delete(
                    pending_registrations::table.filter(
                        diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                            .bind::<diesel::sql_types::Text, _>(normalize_email(&pending.email)),
                    ),
                )
                .execute(conn)
                .await?;
                AuditEvent::new("user.registered", "user")
                    .of(user.id)
                    .by(user.id)
                    .diff(json!({ "after": {
                        "email": user.email,
                        "role": Role::Client.as_db(),
                        "organizationId": org_id,
                        "organizationName": company,
                    } }))
                    .record(conn, meta)
                    .await?;
                let session = self.open_session_in(conn, &user, meta).await?;
                AuditEvent::new("auth.login", "session")
                    .of(session.0)
                    .by(user.id)
                    .diff(json!({ "method": "registration" }))
                    .record(conn, meta)
                    .await?;
                Ok((user, session))
            })
            .await?;
        self.issue_session(user, session)
    }

    /// Deletes registrations whose link expired; call it periodically.
    pub async fn prune_registrations(&self) -> Result<usize, AppError> {
        let mut conn = self.conn().await?;
        Ok(diesel::delete(
            pending_registrations::table.filter(pending_registrations::expires_at.le(Utc::now())),
        )
        .execute(&mut conn)
        .await?)
    }

    // ---- invitations and user management -------------------------------

    /// Invites a user with a role into an organization; the email carries a one-time link.
    pub async fn invite_user(
        &self,
        principal: &Principal,
        input: Invitation,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        principal.require("auth:user.invite")?;
        if !may_grant(principal.role, input.role) {
            return Err(AppError::forbidden(
                "You may not invite users with this role",
            ));
        }
        let email = validate_email(&input.email, "input.email")?;
        let name = required_text(&input.name, "input.name", 120)
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let token = new_opaque_token();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.invitation_ttl).map_err(AppError::internal)?;
        let link = format!("{}/accept-invitation?token={token}", self.config.app_url);
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
                let organization = find_organization(conn, input.organization_id)
                    .await?
                    .ok_or_else(|| AppError::invalid_field("input.organizationId", "No such organization"))?;
                let expected = organization_kind_for(input.role);
                if organization.kind != expected {
                    return Err(AppError::invalid_field(
                        "input.organizationId",
                        format!("A {} belongs to an organization of kind {}", input.role.as_db(), expected.as_db()),
                    ));
                }
                let user = insert_user(conn, NewUser {
                    id: Uuid::now_v7(),
                    organization_id: organization.id,
                    email: &email,
                    name: &name,
                    phone: None,
                    role: input.role,
                    status: UserStatus::Invited,
                    password_hash: None,
                }, INPUT_FIELDS)
                .await?;
                diesel::insert_into(one_time_tokens::table)
                    .values((
                        one_time_tokens::id.eq(Uuid::now_v7()),
                        one_time_tokens::purpose.eq(TokenPurpose::Invitation),
                        one_time_tokens::user_id.eq(user.id),
                        one_time_tokens::token_hash.eq(hash_token(&token)),
                        one_time_tokens::created_by.eq(principal.user_id),
                        one_time_tokens::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .await?;
                kernel::mailer::enqueue_email(conn, &kernel::mailer::Email {
                    to: user.email.clone(),
                    subject: format!("You are invited to {} on Fluxorae", organization.name),
                    text: format!(
                        "Hello {},\n\nYou have been invited to join {} on Fluxorae. \
                         Choose your password here within 7 days:\n\n{link}\n",
                        user.name, organization.name
                    ),
                    html: None,
                })
                .await?;
                AuditEvent::new("user.invited", "user").of(user.id).by(principal.user_id).diff(json!({ "after": { "email": user.email, "role": user.role.as_db(), "organizationId": user.organization_id, "status": user.status } })).record(conn, meta)
                .await?;
                Ok(user)
        })
        .await
    }

    /// Accepts an invitation: sets the password, activates the user, signs in.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        let mut conn = self.conn().await?;
        let (token_id, user) = self
            .redeem_token(&mut conn, token, TokenPurpose::Invitation, "input.token")
            .await?;
        let name = match name {
            Some(name) => required_text(name, "input.name", 120)
                .map_err(|e| AppError::invalid_fields(vec![e]))?,
            None => user.name.clone(),
        };
        check_strength(password, &[&user.email, &name])
            .map_err(|m| bad_password("input.password", m))?;
        let hash = self.hasher.hash(password).await?;
        let (user, session) = conn
            .transaction::<_, AppError, _>(async move |conn| {
                    let used = diesel::update(one_time_tokens::table.find(token_id).filter(one_time_tokens::used_at.is_null()))
                        .set(one_time_tokens::used_at.eq(Utc::now()))
                        .execute(conn)
                        .await?;
                    if used == 0 {
                        return Err(invalid_token("input.token"));
                    }
                    let user: User = diesel::update(users::table.find(user.id))
                        .set((
                            users::password_hash.eq(&hash),
                            users::name.eq(&name),
                            users::status.eq(UserStatus::Active),
                            users::updated_at.eq(Utc::now()),
                        ))
                        .returning(User::as_returning())
                        .get_result(conn)
                        .await?;
                    AuditEvent::new("user.invitation_accepted", "user").of(user.id).by(user.id).diff(json!({ "before": { "status": UserStatus::Invited }, "after": { "status": user.status } })).record(conn, meta)
                    .await?;
                    let session = self.open_session_in(conn, &user, meta).await?;
                    Ok((user, session))
            })
            .await?;
        self.issue_session(user, session)
    }
}

/// Which open registration [`lock_open_registration`] reads.
enum OpenRegistration<'a> {
    /// By id, while its confirmation link has not been made.
    Unmailed(Uuid),
    /// By the hash of its confirmation link's token.
    Token(&'a [u8]),
}

/// The registration that has not expired, locked for the rest of the transaction.
async fn lock_open_registration(
    conn: &mut AsyncPgConnection,
    which: OpenRegistration<'_>,
) -> Result<Option<PendingRegistration>, AppError> {
    type Filter<'a> = Box<
        dyn BoxableExpression<
                pending_registrations::table,
                diesel::pg::Pg,
                SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
            > + 'a,
    >;
    let which: Filter<'_> = match which {
        OpenRegistration::Unmailed(id) => Box::new(
            pending_registrations::id
                .eq(id)
                .and(pending_registrations::token_hash.is_null())
                .nullable(),
        ),
        OpenRegistration::Token(hash) => Box::new(pending_registrations::token_hash.eq(hash)),
    };
    Ok(pending_registrations::table
        .filter(which)
        .filter(pending_registrations::expires_at.gt(Utc::now()))
        .for_update()
        .select(PendingRegistration::as_select())
        .first(conn)
        .await
        .optional()?)
}
