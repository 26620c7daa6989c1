//! Demo accounts for `seed-demo`: one user per role and two client organizations.

use kernel::domain::{DemoLogin, DemoSeed};
use kernel::{AppError, AppResult, ErrorCode, RequestMeta, Role};

use crate::model::OrganizationKind;
use crate::policy::organization_kind_for;
use crate::service::{AuthService, LoginOutcome, OrganizationChoice};

const DEMO_USERS: [(Role, &str, &str, &str); 7] = [
    (
        Role::SuperAdmin,
        "superadmin@fluxorae.local",
        "Saffron Kite 4417",
        "Fluxorae Agency",
    ),
    (
        Role::Admin,
        "admin@fluxorae.local",
        "Monsoon Lantern 2281",
        "Fluxorae Agency",
    ),
    (
        Role::Employee,
        "employee@fluxorae.local",
        "Cobalt Harbour 7734",
        "Fluxorae Agency",
    ),
    (
        Role::Client,
        "client@acme.example",
        "Mango Orchard 5102",
        "Acme Pvt Ltd",
    ),
    (
        Role::Client,
        "client@globex.example",
        "Teak Window 8120",
        "Globex Retail LLP",
    ),
    (
        Role::Freelancer,
        "freelancer@fluxorae.local",
        "Velvet Compass 6650",
        "Fluxorae Agency",
    ),
    (
        Role::Partner,
        "partner@northwind.example",
        "Granite Ferry 3398",
        "Northwind Partners",
    ),
];

/// Creates the demo organizations and users (existing ones are left as they
/// are), signs each in and records its principal and login in `seed`.
pub async fn seed(auth: &AuthService, seed: &DemoSeed) -> AppResult<()> {
    let meta = RequestMeta {
        request_id: "seed-demo".into(),
        ip: None,
        user_agent: Some("fluxorae seed-demo".into()),
    };
    for (role, email, password, organization) in DEMO_USERS {
        let choice = match organization_kind_for(role) {
            OrganizationKind::Agency => OrganizationChoice::Agency,
            _ => OrganizationChoice::Name(organization),
        };
        let created = match auth.create_user(email, password, role, choice, &meta).await {
            Ok(_) => true,
            Err(error) if error.code() == ErrorCode::Conflict => false,
            Err(error) => return Err(error),
        };
        let session = match auth.login(email, password, &meta).await? {
            LoginOutcome::Signed(session) => session,
            LoginOutcome::MfaRequired(_) => {
                return Err(AppError::conflict(format!(
                    "the demo user {email} has MFA on"
                )));
            }
        };
        let principal = kernel::Authenticator::authenticate(auth, &session.access_token).await?;
        seed.add_principal(email, principal);
        seed.add_login(DemoLogin {
            role,
            email,
            password,
            organization,
            created,
        });
    }
    Ok(())
}
