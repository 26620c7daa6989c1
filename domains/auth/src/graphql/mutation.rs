//! Mutations of the auth domain.

use async_graphql::{Context, ID, InputObject, Object};
use kernel::ids::parse_id;
use kernel::{RequestMeta, RequirePermission, Role, SignedIn, caller};

use super::query::service;
use super::types::{
    AuthPayload, LoginPayload, MfaChallengeNode, OrganizationNode, OrganizationReferralNode,
    TotpEnrollmentNode, UserNode,
};
use crate::model::{OrganizationKind, OtpChannel};
use crate::service::{Invitation, LoginOutcome, Registration};

/// Auth mutations.
#[derive(Default)]
pub struct AuthMutation;

fn meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default()
}

/// Input of `register`.
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address; becomes the login.
    pub email: String,
    /// Password (at least 10 characters, not a common one).
    pub password: String,
    /// Your name.
    pub name: String,
    /// Your company; a new client organization of this name is created on
    /// confirmation (never an existing one).
    pub company_name: String,
}

/// Input of `confirmRegistration`.
#[derive(InputObject)]
pub struct ConfirmRegistrationInput {
    /// The token from the registration email.
    pub token: String,
    /// Another company name, when the registered one is taken.
    pub company_name: Option<String>,
}

/// Input of `login`.
#[derive(InputObject)]
pub struct LoginInput {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Input of `verifyMfa`.
#[derive(InputObject)]
pub struct VerifyMfaInput {
    /// The challenge `login` answered with.
    pub challenge_id: ID,
    /// The 6-digit code, or a recovery code.
    pub code: String,
}

/// Input of `refreshSession`.
#[derive(InputObject)]
pub struct RefreshSessionInput {
    /// The refresh token of the last `login` or `refreshSession`.
    pub refresh_token: String,
}

/// Input of `requestPasswordReset`.
#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    /// Email of the account.
    pub email: String,
}

/// Input of `resetPassword`.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset email.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

/// Input of `acceptInvitation`.
#[derive(InputObject)]
pub struct AcceptInvitationInput {
    /// The token from the invitation email.
    pub token: String,
    /// The password to set.
    pub password: String,
    /// Your name, if it should differ from the invitation.
    pub name: Option<String>,
}

/// Input of `inviteUser`.
#[derive(InputObject)]
pub struct InviteUserInput {
    /// Email to invite.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Role to give.
    pub role: Role,
    /// Organization to join (the agency for staff and freelancers).
    pub organization_id: ID,
}

/// Input of `changeUserRole`.
#[derive(InputObject)]
pub struct ChangeUserRoleInput {
    /// The user.
    pub user_id: ID,
    /// The new role.
    pub role: Role,
}

/// Input of `createOrganization`.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Name (unique).
    pub name: String,
    /// `CLIENT` or `PARTNER`.
    pub kind: OrganizationKind,
    /// The partner organization that referred this client.
    pub referred_by_partner_id: Option<ID>,
}

/// Input of `disableTotp`.
#[derive(InputObject)]
pub struct DisableTotpInput {
    /// Your password.
    pub password: String,
    /// A current code or a recovery code.
    pub code: String,
}

/// Input of `setOtpChannel`.
#[derive(InputObject)]
pub struct SetOtpChannelInput {
    /// Where to send login codes; null turns codes off.
    pub channel: Option<OtpChannel>,
    /// Mobile number in E.164 (needed for SMS).
    pub phone: Option<String>,
    /// Your password.
    pub password: String,
    /// When a second factor is on: a current code from your authenticator app
    /// or a recovery code. Not needed within 10 minutes of signing in with the
    /// second factor; otherwise changing it without one is `FORBIDDEN`.
    pub code: Option<String>,
}

/// Input of `referClientOrganization`.
#[derive(InputObject)]
pub struct ReferClientOrganizationInput {
    /// The client's company name (compared without case).
    pub name: String,
}

#[Object]
impl AuthMutation {
    /// Starts an open registration (when it is on). Always answers true for
    /// valid input, whether or not the email already has an account: a new
    /// address gets a link to `confirmRegistration`, a known one's owner is
    /// told that someone tried. Nothing is created before the link is used.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<bool> {
        let registration = Registration {
            email: input.email,
            password: input.password,
            name: input.name,
            company_name: input.company_name,
        };
        service(ctx).register(registration, &meta(ctx)).await?;
        Ok(true)
    }

    /// Finishes a registration with the token from its email: creates the
    /// client organization and the user, and signs in. A taken company name is
    /// `CONFLICT` on `companyName`; the link stays usable with another name.
    async fn confirm_registration(
        &self,
        ctx: &Context<'_>,
        input: ConfirmRegistrationInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx)
            .confirm_registration(&input.token, input.company_name.as_deref(), &meta(ctx))
            .await?
            .into())
    }

    /// Signs in with email and password. When the user has a second factor the
    /// answer carries `mfaRequired` and a challenge for `verifyMfa` instead of tokens.
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<LoginPayload> {
        let outcome = service(ctx)
            .login(&input.email, &input.password, &meta(ctx))
            .await?;
        Ok(match outcome {
            LoginOutcome::Signed(session) => {
                let payload = AuthPayload::from(*session);
                LoginPayload {
                    access_token: Some(payload.access_token),
                    refresh_token: Some(payload.refresh_token),
                    expires_in: Some(payload.expires_in),
                    mfa_required: false,
                    mfa_challenge: None,
                    user: Some(payload.user),
                }
            }
            LoginOutcome::MfaRequired(challenge) => LoginPayload {
                access_token: None,
                refresh_token: None,
                expires_in: None,
                mfa_required: true,
                mfa_challenge: Some(MfaChallengeNode::from(challenge)),
                user: None,
            },
        })
    }

    /// Finishes a login with the second factor's code (or a recovery code).
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        input: VerifyMfaInput,
    ) -> async_graphql::Result<AuthPayload> {
        let challenge = parse_id(&input.challenge_id, "input.challengeId")?;
        Ok(service(ctx)
            .verify_mfa(challenge, &input.code, &meta(ctx))
            .await?
            .into())
    }

    /// Exchanges a refresh token for new tokens. The old refresh token stops
    /// working; presenting it again signs the whole session out.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx)
            .refresh(&input.refresh_token, &meta(ctx))
            .await?
            .into())
    }

    /// Signs out the current session.
    #[graphql(guard = "SignedIn")]
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        service(ctx).logout(caller(ctx)?, &meta(ctx)).await?;
        Ok(true)
    }

    /// Signs out one of your sessions (see `me { sessions }`).
    #[graphql(guard = "SignedIn")]
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        session_id: ID,
    ) -> async_graphql::Result<bool> {
        let session_id = parse_id(&session_id, "sessionId")?;
        service(ctx)
            .revoke_session(caller(ctx)?, session_id, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Emails a reset link if the account exists. Always answers true, so it
    /// cannot be used to find out who has an account.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .request_password_reset(&input.email, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token from the reset email; signs out every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .reset_password(&input.token, &input.new_password, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Accepts an invitation: sets the password and signs in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx)
            .accept_invitation(
                &input.token,
                &input.password,
                input.name.as_deref(),
                &meta(ctx),
            )
            .await?
            .into())
    }

    /// Invites a user; the email carries a one-time link. Employees invite clients
    /// and freelancers, admins everyone but admins, super-admins everyone.
    #[graphql(guard = "RequirePermission(\"auth:user.invite\")")]
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        input: InviteUserInput,
    ) -> async_graphql::Result<UserNode> {
        let invitation = Invitation {
            email: input.email,
            name: input.name,
            role: input.role,
            organization_id: parse_id(&input.organization_id, "input.organizationId")?,
        };
        Ok(UserNode(
            service(ctx)
                .invite_user(caller(ctx)?, invitation, &meta(ctx))
                .await?,
        ))
    }

    /// Changes a user's role (admins; only super-admins create or change admins; never your own).
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn change_user_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeUserRoleInput,
    ) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&input.user_id, "input.userId")?;
        Ok(UserNode(
            service(ctx)
                .change_role(caller(ctx)?, user_id, input.role, &meta(ctx))
                .await?,
        ))
    }

    /// Disables a user and revokes every session at once (admins).
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn disable_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(UserNode(
            service(ctx)
                .set_disabled(caller(ctx)?, user_id, true, &meta(ctx))
                .await?,
        ))
    }

    /// Re-enables a disabled user (admins).
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn enable_user(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(UserNode(
            service(ctx)
                .set_disabled(caller(ctx)?, user_id, false, &meta(ctx))
                .await?,
        ))
    }

    /// Creates a client or partner organization (admins).
    #[graphql(guard = "RequirePermission(\"auth:organization.manage\")")]
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<OrganizationNode> {
        let referred_by = input
            .referred_by_partner_id
            .as_ref()
            .map(|id| parse_id(id, "input.referredByPartnerId"))
            .transpose()?;
        Ok(OrganizationNode(
            service(ctx)
                .create_organization(
                    caller(ctx)?,
                    &input.name,
                    input.kind,
                    referred_by,
                    &meta(ctx),
                )
                .await?,
        ))
    }

    /// Refers a client organization by name (partners). A new name is
    /// created at once as a client organization referred by yours (`APPROVED`);
    /// it appears in your `organizations` and, once it has projects, in your
    /// read-only views. An organization that already exists gets a `PENDING`
    /// referral that an admin approves or declines; until then you see nothing of it.
    #[graphql(guard = "RequirePermission(\"auth:organization.refer\")")]
    async fn refer_client_organization(
        &self,
        ctx: &Context<'_>,
        input: ReferClientOrganizationInput,
    ) -> async_graphql::Result<OrganizationReferralNode> {
        Ok(OrganizationReferralNode(
            service(ctx)
                .refer_client_organization(caller(ctx)?, &input.name, &meta(ctx))
                .await?,
        ))
    }

    /// Approves a pending referral (admins): the partner becomes the
    /// organization's referrer and sees its projects, tickets and files read-only.
    #[graphql(guard = "RequirePermission(\"auth:referral.review\")")]
    async fn approve_organization_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
    ) -> async_graphql::Result<OrganizationReferralNode> {
        let referral_id = parse_id(&referral_id, "referralId")?;
        Ok(OrganizationReferralNode(
            service(ctx)
                .approve_referral(caller(ctx)?, referral_id, &meta(ctx))
                .await?,
        ))
    }

    /// Declines a pending referral (admins); nothing else changes.
    #[graphql(guard = "RequirePermission(\"auth:referral.review\")")]
    async fn decline_organization_referral(
        &self,
        ctx: &Context<'_>,
        referral_id: ID,
        #[graphql(desc = "Why, for the record (at most 500 characters).")] note: Option<String>,
    ) -> async_graphql::Result<OrganizationReferralNode> {
        let referral_id = parse_id(&referral_id, "referralId")?;
        Ok(OrganizationReferralNode(
            service(ctx)
                .decline_referral(caller(ctx)?, referral_id, note.as_deref(), &meta(ctx))
                .await?,
        ))
    }

    /// Starts adding an authenticator app: a secret, its otpauth URI and QR code.
    /// Needs your password; with email or SMS codes on, also a sign-in with
    /// them in the last 10 minutes (`FORBIDDEN` otherwise).
    #[graphql(guard = "SignedIn")]
    async fn enroll_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your password.")] password: String,
    ) -> async_graphql::Result<TotpEnrollmentNode> {
        let enrollment = service(ctx).enroll_totp(caller(ctx)?, &password).await?;
        Ok(TotpEnrollmentNode {
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_svg: enrollment.qr_code_svg,
        })
    }

    /// Confirms the authenticator app with a first code; answers ten recovery codes, shown once.
    #[graphql(guard = "SignedIn")]
    async fn confirm_totp(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        Ok(service(ctx)
            .confirm_totp(caller(ctx)?, &code, &meta(ctx))
            .await?)
    }

    /// Turns the authenticator app off, after your password and a current code.
    #[graphql(guard = "SignedIn")]
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        input: DisableTotpInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .disable_totp(caller(ctx)?, &input.password, &input.code, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Requires a one-time code by email or SMS at login (or stops requiring it).
    /// Needs your password; when a second factor is on, also `code` or a recent
    /// sign-in with that factor. Password checks share the account's budget
    /// with login.
    #[graphql(guard = "SignedIn")]
    async fn set_otp_channel(
        &self,
        ctx: &Context<'_>,
        input: SetOtpChannelInput,
    ) -> async_graphql::Result<UserNode> {
        Ok(UserNode(
            service(ctx)
                .set_otp_channel(
                    caller(ctx)?,
                    input.channel,
                    input.phone.as_deref(),
                    &input.password,
                    input.code.as_deref(),
                    &meta(ctx),
                )
                .await?,
        ))
    }
}
