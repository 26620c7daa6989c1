//! Open registration, invitations and their acceptance.

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::{one_time_tokens, organizations, users};
use kernel::validate::required_text;
use kernel::{AppError, FieldError, Principal, RequestMeta, Role};
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthService, INPUT_FIELDS, IssuedSession, REGISTER_FIELDS, bad_password, insert_user,
    invalid_token, ip_key, map_unique, validate_email,
};
use crate::audit::AuditEvent;
use crate::model::{NewUser, OrganizationKind, TokenPurpose, User, UserStatus};
use crate::password::check_strength;
use crate::policy::{may_grant, organization_kind_for};
use crate::repo::find_organization;
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
    /// Name of the client organization to create.
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
    /// Creates a client user in a new client organization (open registration).
    pub async fn register(
        &self,
        input: Registration,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        if !self.config.open_registration {
            return Err(AppError::forbidden("Registration is by invitation only"));
        }
        let mut conn = self.conn().await?;
        let limit = self.config.rate_limits.register_per_ip_per_hour;
        self.consume(
            &mut conn,
            ip_key("register", meta),
            limit,
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
        let password_hash = self.hasher.hash(&input.password).await?;
        let user = conn
            .transaction::<_, AppError, _>(async move |conn| {
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
                            email: &email,
                            name: &name,
                            phone: None,
                            role: Role::Client,
                            status: UserStatus::Active,
                            password_hash: Some(&password_hash),
                        },
                        REGISTER_FIELDS,
                    )
                    .await?;
                    AuditEvent::new("user.registered", "user").of(user.id).by(user.id).diff(json!({ "after": { "email": email, "role": Role::Client.as_db(), "organizationId": org_id, "organizationName": company } })).record(conn, meta)
                    .await?;
                    Ok(user)
            })
            .await?;
        let session = conn
            .transaction::<_, AppError, _>(async move |conn| {
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
        self.issue_session(session.0, session.1)
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
