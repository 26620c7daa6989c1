//! Support desk: tickets with comment threads, SLAs on business hours, live
//! updates, email notifications through the outbox, and a knowledge base.

pub mod attachments;
pub mod demo;
pub mod events;
pub mod graphql;
pub mod kb;
pub mod loaders;
pub mod model;
pub mod notify;
pub mod policy;
pub mod reactions;
pub mod repo;
pub mod service;
pub mod sla;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::DataLoader;
use kernel::domain::{BoxFuture, BuildError, DemoSeed, PeriodicTask};
use kernel::notifications::Category;
use kernel::outbox::JobHandler;
use kernel::{AppResult, ConfigError, Deps, Domain, Env, Permission};

pub use attachments::TicketFiles;
pub use graphql::mutation::SupportMutation;
pub use graphql::query::SupportQuery;
pub use graphql::subscription::SupportSubscription;
pub use service::TicketService;

/// The support domain.
pub struct Support {
    tickets: Arc<TicketService>,
    sla_admin: Arc<sla::SlaAdmin>,
    knowledge_base: Arc<kb::KnowledgeBase>,
    config: SupportConfig,
}

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

/// The support domain's configuration section.
#[derive(Debug, Clone)]
pub struct SupportConfig {
    /// `SLA_SCAN_SECS`: how often SLA warnings and breaches are checked (0 turns it off here).
    pub sla_scan_interval: Option<Duration>,
    /// `KB_SEARCH_PER_IP_PER_MINUTE`: knowledge base searches one address may
    /// run per minute without signing in.
    pub kb_search_per_ip_per_minute: u32,
}

impl Support {
    /// The ticket use cases (also run by the SLA scan).
    pub fn tickets(&self) -> &Arc<TicketService> {
        &self.tickets
    }
}

impl Domain for Support {
    const NAME: &'static str = "support";

    type Config = SupportConfig;

    fn configure(env: &Env) -> Result<SupportConfig, ConfigError> {
        Ok(SupportConfig {
            sla_scan_interval: match env.parse::<u64>("SLA_SCAN_SECS", 60)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            kb_search_per_ip_per_minute: env.parse("KB_SEARCH_PER_IP_PER_MINUTE", 60)?,
        })
    }

    fn build(deps: &Deps, config: &SupportConfig) -> Result<Self, BuildError> {
        Ok(Self {
            tickets: Arc::new(TicketService::new(deps.db.clone(), deps.bus.clone())),
            sla_admin: Arc::new(sla::SlaAdmin::new(deps.db.clone())),
            knowledge_base: Arc::new(kb::KnowledgeBase::new(
                deps.db.clone(),
                config.kb_search_per_ip_per_minute,
            )),
            config: config.clone(),
        })
    }

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    fn notification_categories() -> &'static [Category] {
        notify::CATEGORIES
    }

    fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder
            .data(DataLoader::new(
                loaders::CommentsLoader(self.tickets.clone()),
                tokio::spawn,
            ))
            .data(self.sla_admin.clone())
            .data(self.knowledge_base.clone())
            .data(self.tickets.clone())
    }

    fn jobs(&self) -> Vec<Arc<dyn JobHandler>> {
        vec![Arc::new(reactions::RoleChangedHandler(
            self.tickets.clone(),
        ))]
    }

    fn periodic(&self) -> Vec<PeriodicTask> {
        let Some(every) = self.config.sla_scan_interval else {
            return Vec::new();
        };
        let tickets = self.tickets.clone();
        vec![PeriodicTask {
            name: "support.sla_scan",
            every,
            run: Arc::new(move || {
                let tickets = tickets.clone();
                Box::pin(async move {
                    let (warned, breached) = tickets.scan_sla().await?;
                    if warned + breached > 0 {
                        tracing::info!(warned, breached, "SLA scan");
                    }
                    Ok(())
                })
            }),
        }]
    }

    fn seed_demo<'a>(&'a self, seed: &'a DemoSeed) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(demo::seed(&self.tickets, seed))
    }
}
