//! Demo data for `seed-demo`: a ticket on the demo project, with a staff reply.

use kernel::AppResult;
use kernel::domain::DemoSeed;

use crate::model::TicketPriority;
use crate::service::{TicketDraft, TicketService};

/// Opens the demo ticket when the demo project was created in this run.
pub async fn seed(tickets: &TicketService, seed: &DemoSeed) -> AppResult<()> {
    let Some(project_id) = seed.id(projects::demo::DEMO_PROJECT_CREATED) else {
        return Ok(());
    };
    let client = seed.principal("client@acme.example")?;
    let employee = seed.principal("employee@fluxorae.local")?;
    let ticket = tickets
        .create(
            &client,
            TicketDraft {
                subject: "Contact form emails are not arriving".into(),
                body: "Leads from the contact form stopped reaching our inbox yesterday.".into(),
                priority: Some(TicketPriority::High),
                project_id: Some(project_id),
                organization_id: None,
            },
        )
        .await?;
    tickets
        .comment(
            &employee,
            ticket.id,
            "Looking into it now; the mail provider changed its API keys.",
            false,
        )
        .await?;
    Ok(())
}
