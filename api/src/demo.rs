//! `fluxorae seed-demo`: idempotent demo data for development.

use auth::AuthService;
use kernel::{AppError, ErrorCode, RequestMeta, Role};
use serde_json::json;

/// One demo login.
pub struct DemoLogin {
    /// Role.
    pub role: Role,
    /// Email.
    pub email: &'static str,
    /// Password.
    pub password: &'static str,
    /// Organization.
    pub organization: &'static str,
    /// Whether this run created it.
    pub created: bool,
}

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

/// Creates the demo organizations and one user per role (two client
/// organizations); existing users are left as they are.
pub async fn seed(auth: &AuthService) -> Result<Vec<DemoLogin>, AppError> {
    let meta = RequestMeta {
        request_id: "seed-demo".into(),
        ip: None,
        user_agent: Some("fluxorae seed-demo".into()),
    };
    let mut logins = Vec::new();
    for (role, email, password, organization) in DEMO_USERS {
        let created = match auth
            .create_user(email, password, role, Some(organization), &meta)
            .await
        {
            Ok(_) => true,
            Err(error) if error.code() == ErrorCode::Conflict => false,
            Err(error) => return Err(error),
        };
        logins.push(DemoLogin {
            role,
            email,
            password,
            organization,
            created,
        });
    }
    Ok(logins)
}

/// The logins as printed lines.
pub fn describe(logins: &[DemoLogin]) -> String {
    let mut out = String::from("Demo logins (development data only):\n");
    for login in logins {
        out.push_str(&format!(
            "  {:<12} {:<28} {:<22} {}{}\n",
            login.role.as_db().replace('_', "-"),
            login.email,
            login.password,
            login.organization,
            if login.created { "" } else { " (existing)" }
        ));
    }
    out
}

/// The JSON line `create-user` prints.
pub fn created_user_line(user_id: uuid::Uuid, organization_id: uuid::Uuid) -> String {
    json!({ "userId": user_id, "organizationId": organization_id }).to_string()
}
