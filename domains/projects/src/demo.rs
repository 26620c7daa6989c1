//! Demo data for `seed-demo`: a project with a Kanban board for Acme.

use kernel::AppResult;
use kernel::domain::DemoSeed;

use crate::model::{ProjectStatus, TaskStatus};
use crate::service::{NewProjectInput, NewTaskInput, ProjectFilter, ProjectsService};

/// Name under which the demo project's id is shared with later domains, when
/// this run created it (so that they seed their rows once, with it).
pub const DEMO_PROJECT_CREATED: &str = "projects.website_redesign";

/// Seeds the demo project once.
pub async fn seed(projects: &ProjectsService, seed: &DemoSeed) -> AppResult<()> {
    let admin = seed.principal("admin@fluxorae.local")?;
    let client = seed.principal("client@acme.example")?;
    let employee = seed.principal("employee@fluxorae.local")?;
    let filter = ProjectFilter {
        search: Some("Website redesign".into()),
        include_archived: true,
        ..Default::default()
    };
    let existing = projects.projects(&admin, &filter, None, 1).await?;
    if existing.total > 0 {
        return Ok(());
    }
    let project = projects
        .create_project(
            &admin,
            NewProjectInput {
                organization_id: client.org_id,
                name: "Website redesign".into(),
                description: Some("New marketing site on Next.js".into()),
                status: Some(ProjectStatus::Active),
                start_date: None,
                due_date: None,
            },
        )
        .await?;
    projects
        .add_member(&admin, project.id, employee.user_id, "lead developer")
        .await?;
    for (title, status) in [
        ("Wireframes for the home page", TaskStatus::Done),
        ("Design system in Figma", TaskStatus::InReview),
        ("Contact form with lead capture", TaskStatus::InProgress),
        ("Blog on the CMS", TaskStatus::Todo),
        ("Performance budget", TaskStatus::Todo),
    ] {
        projects
            .create_task(
                &admin,
                NewTaskInput {
                    project_id: project.id,
                    title: title.into(),
                    description: None,
                    status: Some(status),
                    priority: None,
                    assignee_id: Some(employee.user_id),
                    due_date: None,
                    milestone_id: None,
                },
            )
            .await?;
    }
    seed.add_id(DEMO_PROJECT_CREATED, project.id);
    Ok(())
}
