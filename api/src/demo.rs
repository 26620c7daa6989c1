//! `fluxorae seed-demo`: idempotent demo data for development, seeded by every
//! domain in list order.

use kernel::AppResult;
use kernel::domain::{DemoLogin, DemoSeed};
use serde_json::json;

/// Seeds every domain's demo data; answers the demo logins.
pub async fn seed(state: &crate::http::AppState) -> AppResult<Vec<DemoLogin>> {
    let seed = DemoSeed::default();
    state.domains.seed_demo(&seed).await?;
    Ok(seed.logins())
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
