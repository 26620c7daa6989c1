//! The one list of domains. Adding a domain is one line here (plus its roots
//! in `schema.rs` and its migrations); everything else the server needs from
//! a domain comes through [`kernel::Domain`]. A domain whose rows own files
//! adds its `files::FileOwner` implementations to the `file owners` line.

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use kernel::domain::{BuildError, DemoSeed, PeriodicTask};
use kernel::notifications::Catalog;
use kernel::outbox::JobHandler;
use kernel::{AppResult, ConfigError, Deps, Domain, Env, Permission};

macro_rules! domains {
    (
        $($field:ident: $domain:ty),+ ;
        file owners: $($owner:ty),+ $(,)?
    ) => {
        /// Every domain's configuration section, read from the environment.
        #[derive(Debug, Clone)]
        pub struct DomainConfigs {
            $(
                #[doc = concat!("The `", stringify!($field), "` section.")]
                pub $field: <$domain as Domain>::Config,
            )+
        }

        impl DomainConfigs {
            /// Reads every section.
            pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
                Ok(Self { $($field: <$domain>::configure(env)?,)+ })
            }
        }

        /// Every domain, built once at start.
        pub struct Domains {
            $(
                #[doc = concat!("The `", stringify!($field), "` domain.")]
                pub $field: $domain,
            )+
        }

        impl Domains {
            /// Builds each domain from its section, in list order.
            pub fn build(deps: &Deps, configs: &DomainConfigs) -> Result<Self, BuildError> {
                Ok(Self { $($field: <$domain>::build(deps, &configs.$field)?,)+ })
            }

            /// Installs every domain's schema data, the catalog of every domain's
            /// notification categories and the registry of file owners.
            pub fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
                $(let builder = self.$field.install(builder);)+
                builder
                    .data(Catalog::new(
                        [$(<$domain as Domain>::notification_categories()),+].concat(),
                    ))
                    .data(file_owners())
            }

            /// Every domain's outbox job handlers.
            pub fn jobs(&self) -> Vec<Arc<dyn JobHandler>> {
                let mut jobs = Vec::new();
                $(jobs.extend(self.$field.jobs());)+
                jobs
            }

            /// Every domain's periodic tasks.
            pub fn periodic(&self) -> Vec<PeriodicTask> {
                let mut tasks = Vec::new();
                $(tasks.extend(self.$field.periodic());)+
                tasks
            }

            /// Every domain's HTTP routes.
            pub fn routes(&self) -> axum::Router {
                axum::Router::new()$(.merge(self.$field.routes()))+
            }

            /// Seeds every domain's demo data, in list order.
            pub async fn seed_demo(&self, seed: &DemoSeed) -> AppResult<()> {
                $(self.$field.seed_demo(seed).await?;)+
                Ok(())
            }
        }

        /// Every domain's answers on who may see and attach files of its rows.
        pub fn file_owners() -> files::FileOwners {
            files::FileOwners::new(vec![$(Arc::new(<$owner>::default()) as Arc<dyn files::FileOwner>),+])
        }

        /// Each domain's name, crate (as Rust spells it) and permissions.
        pub fn catalog() -> Vec<DomainEntry> {
            vec![$(DomainEntry {
                name: <$domain as Domain>::NAME,
                crate_name: crate_of::<$domain>(),
                permissions: <$domain as Domain>::permissions(),
            },)+]
        }
    };
}

domains! {
    auth: auth::Auth,
    files: files::Files,
    projects: projects::Projects,
    support: support::Support;
    file owners: projects::ProjectFiles, projects::TaskFiles, support::TicketFiles,
}

/// One domain as the list declares it.
#[derive(Debug, Clone)]
pub struct DomainEntry {
    /// `Domain::NAME`.
    pub name: &'static str,
    /// The crate the domain type lives in, e.g. `fluxorae_support`.
    pub crate_name: &'static str,
    /// `Domain::permissions()`.
    pub permissions: &'static [Permission],
}

/// The crate a type is defined in, from its path.
pub fn crate_of<T: ?Sized>() -> &'static str {
    let path = std::any::type_name::<T>();
    path.split("::").next().unwrap_or(path)
}
