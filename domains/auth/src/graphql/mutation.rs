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

/// A self-service sign-up for a new client organization (`register`).
#[derive(InputObject)]
pub struct RegisterInput {
    /// Email address; becomes the login and receives the confirmation link.
    pub email: String,
    /// Password: 10 to 128 characters, hard to guess, not built from the
    /// email or name.
    pub password: String,
    /// Your name as shown to the agency (at most 120 characters).
    pub name: String,
    /// Your company (at most 160 characters); a new client organization of
    /// this name is created on confirmation (never an existing one).
    pub company_name: String,
}

/// The link from a registration email, redeemed by `confirmRegistration`.
#[derive(InputObject)]
pub struct ConfirmRegistrationInput {
    /// The token from the registration email (valid 24 hours).
    pub token: String,
    /// Another company name (at most 160 characters), when the registered one
    /// is taken; omitted to keep the registered one.
    pub company_name: Option<String>,
}

/// Email and password credentials for `login`.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account's email address, compared without case.
    pub email: String,
    /// The account's current password; wrong ones count towards the lockout.
    pub password: String,
}

/// The answer to a login's second-factor challenge (`verifyMfa`).
#[derive(InputObject)]
pub struct VerifyMfaInput {
    /// The challenge `login` answered with.
    pub challenge_id: ID,
    /// The 6-digit code from the app, email or SMS, or one of the recovery
    /// codes (each works once).
    pub code: String,
}

/// The refresh token to exchange (`refreshSession`).
#[derive(InputObject)]
pub struct RefreshSessionInput {
    /// The refresh token of the last `login` or `refreshSession`.
    pub refresh_token: String,
}

/// Whose password to reset (`requestPasswordReset`).
#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    /// Email address of the account; the link goes there if it has an active account.
    pub email: String,
}

/// The link from a reset email and the password to set (`resetPassword`).
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset email (valid one hour, once).
    pub token: String,
    /// Password to set: 10 to 128 characters, hard to guess, not built from
    /// the email or name.
    pub new_password: String,
}

/// The link from an invitation email and the new account's password
/// (`acceptInvitation`).
#[derive(InputObject)]
pub struct AcceptInvitationInput {
    /// The token from the invitation email (valid 7 days, once).
    pub token: String,
    /// Password to set: 10 to 128 characters, hard to guess, not built from
    /// the email or name.
    pub password: String,
    /// Your name (at most 120 characters), if it should differ from the
    /// invitation; omitted to keep the invited name.
    pub name: Option<String>,
}

/// Who to invite, with which role and into which organization (`inviteUser`).
#[derive(InputObject)]
pub struct InviteUserInput {
    /// Address the invitation link is emailed to; becomes the login (must not
    /// have an account yet).
    pub email: String,
    /// The person's name (at most 120 characters); they may change it on accepting.
    pub name: String,
    /// Role to give; it must fit the organization (staff and freelancers in
    /// the agency, clients in a client, partners in a partner organization).
    pub role: Role,
    /// Organization to join (the agency for staff and freelancers).
    pub organization_id: ID,
}

/// Whose role to change, and to what (`changeUserRole`).
#[derive(InputObject)]
pub struct ChangeUserRoleInput {
    /// `User.id` of the account to change (never your own).
    pub user_id: ID,
    /// The role to give; it must fit the user's organization.
    pub role: Role,
}

/// A new client or partner organization (`createOrganization`).
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// Company name, at most 160 characters; unique among organizations
    /// without case (`CONFLICT` otherwise).
    pub name: String,
    /// `CLIENT` or `PARTNER`.
    pub kind: OrganizationKind,
    /// The partner organization that referred this client (only for `CLIENT`;
    /// the partner then sees it read-only); omitted when nobody referred it.
    pub referred_by_partner_id: Option<ID>,
}

/// Proof that the account's owner turns the authenticator app off (`disableTotp`).
#[derive(InputObject)]
pub struct DisableTotpInput {
    /// Your current password; wrong ones count towards the login lockout.
    pub password: String,
    /// A current 6-digit code from the app, or a recovery code.
    pub code: String,
}

/// Where login codes go, with proof that the account's owner asks (`setOtpChannel`).
#[derive(InputObject)]
pub struct SetOtpChannelInput {
    /// Where to send login codes; null turns codes off.
    pub channel: Option<OtpChannel>,
    /// Mobile number in E.164, e.g. `+919812345678` (needed for `SMS`;
    /// stored as `User.phone`).
    pub phone: Option<String>,
    /// Your current password; wrong ones count towards the login lockout.
    pub password: String,
    /// When a second factor is on: a current code from your authenticator app
    /// or a recovery code. Not needed within 10 minutes of signing in with the
    /// second factor; otherwise changing it without one is `FORBIDDEN`.
    pub code: Option<String>,
}

/// The client organization a partner refers (`referClientOrganization`).
#[derive(InputObject)]
pub struct ReferClientOrganizationInput {
    /// The client's company name, at most 160 characters (compared without case).
    pub name: String,
}

#[Object]
impl AuthMutation {
    /// Starts an open registration (when it is on). Always answers true for
    /// valid input, whether or not the email already has an account: a new
    /// address gets a link to `confirmRegistration`, a known one's owner is
    /// told that someone tried. Nothing is created before the link is used.
    /// Anyone may call it; limited per client address and per email an hour
    /// (`RATE_LIMITED`). Writes an audit entry.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account and company to register.")] input: RegisterInput,
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
    /// Writes `user.registered` and `auth.login` audit entries.
    async fn confirm_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the registration email.")] input: ConfirmRegistrationInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx)
            .confirm_registration(&input.token, input.company_name.as_deref(), &meta(ctx))
            .await?
            .into())
    }

    /// Signs in with email and password. When the user has a second factor the
    /// answer carries `mfaRequired` and a challenge for `verifyMfa` instead of
    /// tokens (and an email or SMS code is sent). Wrong passwords lock the
    /// account out progressively and are limited per client address
    /// (`RATE_LIMITED` with `retryAfterSeconds`); every attempt is audited
    /// (`auth.login`, `auth.login_failed`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Email and password.")] input: LoginInput,
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

    /// Finishes a login with the second factor's code (or a recovery code)
    /// and answers the session's tokens. Wrong codes are audited
    /// (`auth.mfa_failed`); the fifth wrong code ends the challenge.
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The challenge from `login` and its code.")] input: VerifyMfaInput,
    ) -> async_graphql::Result<AuthPayload> {
        let challenge = parse_id(&input.challenge_id, "input.challengeId")?;
        Ok(service(ctx)
            .verify_mfa(challenge, &input.code, &meta(ctx))
            .await?
            .into())
    }

    /// Exchanges a refresh token for new tokens. The old refresh token stops
    /// working; presenting it again signs the whole session out (audited as
    /// `auth.refresh_reuse`). No `Authorization` header needed.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The latest refresh token of the session.")] input: RefreshSessionInput,
    ) -> async_graphql::Result<AuthPayload> {
        Ok(service(ctx)
            .refresh(&input.refresh_token, &meta(ctx))
            .await?
            .into())
    }

    /// Signs out the session whose access token made the request: its tokens
    /// stop working at once, and open subscriptions on it close. Audited as
    /// `auth.logout`.
    #[graphql(guard = "SignedIn")]
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        service(ctx).logout(caller(ctx)?, &meta(ctx)).await?;
        Ok(true)
    }

    /// Signs out one of your sessions (see `me { sessions }`), e.g. a lost
    /// device; another user's session is `NOT_FOUND`. Audited as `auth.logout`.
    #[graphql(guard = "SignedIn")]
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`Session.id` of the session to end.")] session_id: ID,
    ) -> async_graphql::Result<bool> {
        let session_id = parse_id(&session_id, "sessionId")?;
        service(ctx)
            .revoke_session(caller(ctx)?, session_id, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Emails a reset link if the account exists. Always answers true, so it
    /// cannot be used to find out who has an account. The link is valid one
    /// hour and voids earlier ones; requests are limited per client address
    /// and per account an hour.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email address.")] input: RequestPasswordResetInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .request_password_reset(&input.email, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token from the reset email; signs out
    /// every session of the account. Audited as `auth.password_reset`.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The reset token and the new password.")] input: ResetPasswordInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .reset_password(&input.token, &input.new_password, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Accepts an invitation: sets the password, makes the account `ACTIVE`
    /// and signs in. Audited as `user.invitation_accepted`.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invitation token and the password to set.")]
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
    /// The user is `INVITED` until the link (valid 7 days) is used. Audited as
    /// `user.invited`.
    #[graphql(guard = "RequirePermission(\"auth:user.invite\")")]
    async fn invite_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who to invite, as what, into which organization.")]
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

    /// Changes a user's role (admins; only super-admins create or change
    /// admins; never your own). Takes effect on the user's next request;
    /// audited as `user.role_changed`, and other domains react (support
    /// releases tickets assigned to someone who is no longer staff).
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn change_user_role(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the new role.")] input: ChangeUserRoleInput,
    ) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&input.user_id, "input.userId")?;
        Ok(UserNode(
            service(ctx)
                .change_role(caller(ctx)?, user_id, input.role, &meta(ctx))
                .await?,
        ))
    }

    /// Disables a user and revokes every session at once, closing their
    /// subscriptions (admins and super-admins). Audited as `user.disabled`.
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn disable_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`User.id` of the account to disable (never your own).")] user_id: ID,
    ) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(UserNode(
            service(ctx)
                .set_disabled(caller(ctx)?, user_id, true, &meta(ctx))
                .await?,
        ))
    }

    /// Re-enables a disabled user so they can sign in again (admins and
    /// super-admins). Audited as `user.enabled`.
    #[graphql(guard = "RequirePermission(\"auth:user.manage\")")]
    async fn enable_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`User.id` of the disabled account.")] user_id: ID,
    ) -> async_graphql::Result<UserNode> {
        let user_id = parse_id(&user_id, "userId")?;
        Ok(UserNode(
            service(ctx)
                .set_disabled(caller(ctx)?, user_id, false, &meta(ctx))
                .await?,
        ))
    }

    /// Creates a client or partner organization (admins and super-admins).
    /// Audited as `organization.created`.
    #[graphql(guard = "RequirePermission(\"auth:organization.manage\")")]
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Name, kind and referring partner.")] input: CreateOrganizationInput,
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
    /// referral that an admin approves or declines; until then you see nothing
    /// of it. Audited.
    #[graphql(guard = "RequirePermission(\"auth:organization.refer\")")]
    async fn refer_client_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client's company name.")] input: ReferClientOrganizationInput,
    ) -> async_graphql::Result<OrganizationReferralNode> {
        Ok(OrganizationReferralNode(
            service(ctx)
                .refer_client_organization(caller(ctx)?, &input.name, &meta(ctx))
                .await?,
        ))
    }

    /// Approves a pending referral (admins): the partner becomes the
    /// organization's referrer and sees its projects, tickets and files
    /// read-only. Audited as `organization.referral_approved`.
    #[graphql(guard = "RequirePermission(\"auth:referral.review\")")]
    async fn approve_organization_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`OrganizationReferral.id` of a `PENDING` referral.")] referral_id: ID,
    ) -> async_graphql::Result<OrganizationReferralNode> {
        let referral_id = parse_id(&referral_id, "referralId")?;
        Ok(OrganizationReferralNode(
            service(ctx)
                .approve_referral(caller(ctx)?, referral_id, &meta(ctx))
                .await?,
        ))
    }

    /// Declines a pending referral (admins); nothing else changes. Audited as
    /// `organization.referral_declined`.
    #[graphql(guard = "RequirePermission(\"auth:referral.review\")")]
    async fn decline_organization_referral(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`OrganizationReferral.id` of a `PENDING` referral.")] referral_id: ID,
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
    /// them in the last 10 minutes (`FORBIDDEN` otherwise). Nothing changes at
    /// login until `confirmTotp`.
    #[graphql(guard = "SignedIn")]
    async fn enroll_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your current password; wrong ones count towards the login lockout.")]
        password: String,
    ) -> async_graphql::Result<TotpEnrollmentNode> {
        let enrollment = service(ctx).enroll_totp(caller(ctx)?, &password).await?;
        Ok(TotpEnrollmentNode {
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_svg: enrollment.qr_code_svg,
        })
    }

    /// Confirms the authenticator app with a first code and requires it at
    /// every login from then on; answers ten recovery codes, shown once.
    /// Audited as `auth.mfa_enabled`.
    #[graphql(guard = "SignedIn")]
    async fn confirm_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A current 6-digit code from the app set up with `enrollTotp`.")]
        code: String,
    ) -> async_graphql::Result<Vec<String>> {
        Ok(service(ctx)
            .confirm_totp(caller(ctx)?, &code, &meta(ctx))
            .await?)
    }

    /// Turns the authenticator app off, after your password and a current
    /// code; the recovery codes stop working. Audited as `auth.mfa_disabled`.
    #[graphql(guard = "SignedIn")]
    async fn disable_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your password and a current or recovery code.")] input: DisableTotpInput,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .disable_totp(caller(ctx)?, &input.password, &input.code, &meta(ctx))
            .await?;
        Ok(true)
    }

    /// Requires a one-time code by email or SMS at login (or stops requiring it).
    /// Needs your password; when a second factor is on, also `code` or a recent
    /// sign-in with that factor. Password checks share the account's budget
    /// with login. Audited as `auth.mfa_channel_changed`.
    #[graphql(guard = "SignedIn")]
    async fn set_otp_channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel, phone and proof of ownership.")] input: SetOtpChannelInput,
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
