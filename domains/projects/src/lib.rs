//! Projects domain: projects, members, milestones, tasks on a live Kanban board;
//! projects and tasks own files (through the files domain's `FileOwner`).

pub mod attachments;
pub mod demo;
pub mod events;
pub mod graphql;
pub mod model;
pub mod ordering;
pub mod policy;
pub mod repo;
pub mod service;

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::DataLoader;
use kernel::domain::{BoxFuture, BuildError, DemoSeed};
use kernel::{AppResult, ConfigError, Deps, Domain, Env, Permission};

pub use attachments::{ProjectFiles, TaskFiles};
pub use graphql::mutation::ProjectsMutation;
pub use graphql::query::ProjectsQuery;
pub use graphql::subscription::ProjectsSubscription;
pub use service::ProjectsService;

/// The projects domain.
pub struct Projects {
    service: Arc<ProjectsService>,
}

const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "projects:project.manage",
        description: "Create, change and archive projects, members and milestones",
    },
    Permission {
        name: "projects:task.write",
        description: "Create, change, move and delete tasks (freelancers on their projects)",
    },
    Permission {
        name: "projects:workload.read",
        description: "See everyone's workload",
    },
];

impl Projects {
    /// The projects use cases.
    pub fn service(&self) -> &Arc<ProjectsService> {
        &self.service
    }
}

impl Domain for Projects {
    const NAME: &'static str = "projects";

    type Config = ();

    fn configure(_env: &Env) -> Result<(), ConfigError> {
        Ok(())
    }

    fn build(deps: &Deps, _config: &()) -> Result<Self, BuildError> {
        Ok(Self {
            service: Arc::new(ProjectsService::new(deps.db.clone(), deps.bus.clone())),
        })
    }

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        let service = &self.service;
        builder
            .data(DataLoader::new(
                graphql::loaders::MembersLoader(service.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                graphql::loaders::ProjectMilestonesLoader(service.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                graphql::loaders::MilestoneLoader(service.clone()),
                tokio::spawn,
            ))
            .data(service.clone())
    }

    fn seed_demo<'a>(&'a self, seed: &'a DemoSeed) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(demo::seed(&self.service, seed))
    }
}
