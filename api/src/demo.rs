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

/// A principal for a seeded user, as if they had signed in.
async fn principal_of(auth: &AuthService, email: &str) -> Result<kernel::Principal, AppError> {
    let meta = RequestMeta::default();
    let session = match auth.login(email, demo_password(email), &meta).await? {
        auth::service::LoginOutcome::Signed(session) => session,
        auth::service::LoginOutcome::MfaRequired(_) => {
            return Err(AppError::conflict("the demo user has MFA on"));
        }
    };
    kernel::Authenticator::authenticate(auth, &session.access_token).await
}

fn demo_password(email: &str) -> &'static str {
    DEMO_USERS
        .iter()
        .find(|(_, demo_email, _, _)| *demo_email == email)
        .map_or("", |(_, _, password, _)| password)
}

/// Demo rows of the other domains: a project with a board for Acme, a ticket,
/// and a published knowledge-base article. Skipped when the project exists.
pub async fn seed_work(state: &crate::http::AppState) -> Result<(), AppError> {
    let admin = principal_of(&state.auth, "admin@fluxorae.local").await?;
    let client = principal_of(&state.auth, "client@acme.example").await?;
    let employee = principal_of(&state.auth, "employee@fluxorae.local").await?;
    let projects = state
        .schema
        .data::<std::sync::Arc<projects::ProjectsService>>()
        .ok_or_else(|| AppError::internal("projects service missing"))?
        .clone();
    let filter = projects::service::ProjectFilter {
        search: Some("Website redesign".into()),
        include_archived: true,
        ..Default::default()
    };
    if projects.projects(&admin, &filter, None, 1).await?.total > 0 {
        return Ok(());
    }
    let project = projects
        .create_project(
            &admin,
            projects::service::NewProjectInput {
                organization_id: client.org_id,
                name: "Website redesign".into(),
                description: Some("New marketing site on Next.js".into()),
                status: Some("active".into()),
                start_date: None,
                due_date: None,
            },
        )
        .await?;
    projects
        .add_member(&admin, project.id, employee.user_id, "lead developer")
        .await?;
    for (title, status) in [
        ("Wireframes for the home page", "done"),
        ("Design system in Figma", "in_review"),
        ("Contact form with lead capture", "in_progress"),
        ("Blog on the CMS", "todo"),
        ("Performance budget", "todo"),
    ] {
        projects
            .create_task(
                &admin,
                projects::service::NewTaskInput {
                    project_id: project.id,
                    title: title.into(),
                    description: None,
                    status: Some(status.into()),
                    priority: None,
                    assignee_id: Some(employee.user_id),
                    due_date: None,
                    milestone_id: None,
                },
            )
            .await?;
    }
    let ticket = state
        .tickets
        .create(
            &client,
            support::tickets::NewTicket {
                subject: "Contact form emails are not arriving".into(),
                body: "Leads from the contact form stopped reaching our inbox yesterday.".into(),
                priority: Some("high".into()),
                project_id: Some(project.id),
                organization_id: None,
            },
        )
        .await?;
    state
        .tickets
        .comment(
            &employee,
            ticket.id,
            "Looking into it now; the mail provider changed its API keys.",
            false,
        )
        .await?;
    Ok(())
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
