//! Auth domain: users and organizations, roles and permissions, sessions with
//! rotating refresh tokens, MFA, rate limits and the tamper-evident audit log.

pub mod audit;
pub mod config;
pub mod graphql;
pub mod mfa;
pub mod model;
pub mod password;
pub mod policy;
pub mod rate_limit;
pub mod service;
pub mod tokens;

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::DataLoader;
use kernel::{Deps, Domain, Permission};

pub use graphql::mutation::AuthMutation;
pub use graphql::query::AuthQuery;
pub use service::AuthService;

/// The auth domain.
pub struct Auth;

const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "auth:user.read",
        description: "List and read users (staff)",
    },
    Permission {
        name: "auth:user.invite",
        description: "Invite users with roles one may grant",
    },
    Permission {
        name: "auth:user.manage",
        description: "Change roles, disable and enable users",
    },
    Permission {
        name: "auth:admin.manage",
        description: "Create and change admins (super-admins)",
    },
    Permission {
        name: "auth:audit.read",
        description: "Read and verify the audit log",
    },
    Permission {
        name: "auth:organization.manage",
        description: "Create client and partner organizations",
    },
];

impl Auth {
    /// Installs the domain with its service.
    pub fn install_with<Q, M, S>(
        builder: SchemaBuilder<Q, M, S>,
        service: Arc<AuthService>,
    ) -> SchemaBuilder<Q, M, S> {
        builder
            .data(DataLoader::new(
                graphql::loaders::OrganizationLoader(service.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                graphql::loaders::UserLoader(service.clone()),
                tokio::spawn,
            ))
            .data(service)
    }
}

impl Domain for Auth {
    const NAME: &'static str = "auth";

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    /// The service is built by the server (it needs keys and providers), so this
    /// installs nothing; use [`Auth::install_with`].
    fn install<Q, M, S>(builder: SchemaBuilder<Q, M, S>, _deps: &Deps) -> SchemaBuilder<Q, M, S> {
        builder
    }
}
