//! Support desk: tickets with comment threads, SLAs on business hours, live
//! updates, email notifications through the outbox, and a knowledge base.

pub mod graphql;
pub mod kb;
pub mod model;
pub mod notify;
pub mod sla;
pub mod sla_store;
pub mod tickets;

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::DataLoader;
use kernel::{Deps, Domain, Permission};

pub use graphql::kb::{KnowledgeBaseMutation, KnowledgeBaseQuery};
pub use graphql::sla_admin::{SlaMutation, SlaQuery};
pub use graphql::tickets::{SupportMutation, SupportQuery, SupportSubscription};
pub use tickets::TicketService;

/// The support domain.
pub struct Support;

const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "support:ticket.create",
        description: "Open tickets (clients for their organization)",
    },
    Permission {
        name: "support:ticket.manage",
        description: "Change status, priority and assignee; reply as staff",
    },
    Permission {
        name: "support:ticket.internal",
        description: "Write and read internal notes",
    },
    Permission {
        name: "support:sla.manage",
        description: "Edit SLA policies and business calendars",
    },
    Permission {
        name: "support:kb.write",
        description: "Write knowledge base articles",
    },
];

impl Support {
    /// The ticket service for `deps`, shared by the schema and the SLA scanner.
    pub fn service(deps: &Deps) -> Arc<TicketService> {
        Arc::new(TicketService::new(deps.db.clone(), deps.bus.clone()))
    }

    /// Installs the domain with its service.
    pub fn install_with<Q, M, S>(
        builder: SchemaBuilder<Q, M, S>,
        service: Arc<TicketService>,
    ) -> SchemaBuilder<Q, M, S> {
        builder
            .data(DataLoader::new(
                graphql::tickets::CommentsLoader(service.clone()),
                tokio::spawn,
            ))
            .data(Arc::new(sla_store::SlaAdmin::new(service.db().clone())))
            .data(service)
    }
}

impl Domain for Support {
    const NAME: &'static str = "support";

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    fn install<Q, M, S>(builder: SchemaBuilder<Q, M, S>, deps: &Deps) -> SchemaBuilder<Q, M, S> {
        Self::install_with(builder, Self::service(deps))
    }
}
