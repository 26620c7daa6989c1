//! Auth domain: users and organizations, roles and permissions, sessions with
//! rotating refresh tokens, MFA, rate limits and the tamper-evident audit log.

pub mod audit;
pub mod config;
pub mod demo;
pub mod events;
pub mod graphql;
pub mod jobs;
pub mod mfa;
pub mod model;
pub mod password;
pub mod policy;
pub mod rate_limit;
pub mod repo;
pub mod service;
pub mod tokens;
pub mod visibility;

use std::sync::Arc;

use async_graphql::SchemaBuilder;
use async_graphql::dataloader::DataLoader;
use config::{AuthConfig, SmsSettings};
use kernel::domain::{BoxFuture, BuildError, DemoSeed, PeriodicTask};
use kernel::outbox::JobHandler;
use kernel::{AppResult, ConfigError, Deps, Domain, Env, Permission};
use mfa::sms::{LogSmsSender, Msg91SmsSender, SmsSender, TwilioSmsSender};

pub use graphql::mutation::AuthMutation;
pub use graphql::query::AuthQuery;
pub use service::AuthService;

/// The auth domain.
pub struct Auth {
    service: Arc<AuthService>,
}

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
    Permission {
        name: "auth:organization.refer",
        description: "Refer client organizations (partners)",
    },
    Permission {
        name: "auth:referral.review",
        description: "Approve or decline partners' referrals of existing organizations",
    },
];

impl Auth {
    /// The auth use cases, shared by GraphQL, the REST endpoints and the CLI.
    pub fn service(&self) -> &Arc<AuthService> {
        &self.service
    }
}

impl Domain for Auth {
    const NAME: &'static str = "auth";

    type Config = AuthConfig;

    fn configure(env: &Env) -> Result<AuthConfig, ConfigError> {
        AuthConfig::from_env(env)
    }

    fn build(deps: &Deps, config: &AuthConfig) -> Result<Self, BuildError> {
        let sms = sms_sender(&config.sms)?;
        let service = AuthService::new(deps.db.clone(), deps.bus.clone(), config.clone(), sms)
            .map_err(|problem| format!("auth configuration: {problem}"))?;
        Ok(Self {
            service: Arc::new(service),
        })
    }

    fn permissions() -> &'static [Permission] {
        PERMISSIONS
    }

    fn install<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder
            .data(DataLoader::new(
                graphql::loaders::OrganizationLoader(self.service.clone()),
                tokio::spawn,
            ))
            .data(DataLoader::new(
                graphql::loaders::UserLoader(self.service.clone()),
                tokio::spawn,
            ))
            .data(self.service.clone())
    }

    fn jobs(&self) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Arc::new(jobs::RegistrationJob(self.service.clone())),
            Arc::new(jobs::PasswordResetJob(self.service.clone())),
        ]
    }

    fn periodic(&self) -> Vec<PeriodicTask> {
        let pruning = self.service.clone();
        let resealing = self.service.clone();
        let registrations = self.service.clone();
        vec![
            PeriodicTask {
                name: "auth.prune_rate_limits",
                every: std::time::Duration::from_secs(3600),
                run: Arc::new(move || {
                    let service = pruning.clone();
                    Box::pin(async move {
                        service.prune_rate_limits().await?;
                        Ok(())
                    })
                }),
            },
            // The first run is at start: after a key rotation or an upgrade
            // every secret is under the active key within moments.
            PeriodicTask {
                name: "auth.reseal_totp_secrets",
                every: std::time::Duration::from_secs(3600),
                run: Arc::new(move || {
                    let service = resealing.clone();
                    Box::pin(async move {
                        let resealed = service.reseal_totp_secrets().await?;
                        if resealed > 0 {
                            tracing::info!(
                                resealed,
                                "TOTP secrets re-encrypted with the active key"
                            );
                        }
                        Ok(())
                    })
                }),
            },
            PeriodicTask {
                name: "auth.prune_registrations",
                every: std::time::Duration::from_secs(3600),
                run: Arc::new(move || {
                    let service = registrations.clone();
                    Box::pin(async move {
                        service.prune_registrations().await?;
                        Ok(())
                    })
                }),
            },
        ]
    }

    fn seed_demo<'a>(&'a self, seed: &'a DemoSeed) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(demo::seed(&self.service, seed))
    }
}

/// The SMS sender the settings choose.
fn sms_sender(settings: &SmsSettings) -> Result<Arc<dyn SmsSender>, BuildError> {
    let http = || {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
    };
    Ok(match settings {
        SmsSettings::Log => Arc::new(LogSmsSender),
        SmsSettings::Twilio {
            account_sid,
            auth_token,
            from,
            base_url,
        } => {
            let mut sender = TwilioSmsSender::new(
                http()?,
                account_sid.clone(),
                auth_token.clone(),
                from.clone(),
            );
            if let Some(base_url) = base_url {
                sender.base_url = base_url.clone();
            }
            Arc::new(sender)
        }
        SmsSettings::Msg91 {
            auth_key,
            template_id,
            dlt_entity_id,
            dlt_template_id,
            base_url,
        } => {
            let mut sender = Msg91SmsSender::new(http()?, auth_key.clone(), template_id.clone());
            sender.dlt_entity_id = dlt_entity_id.clone();
            sender.dlt_template_id = dlt_template_id.clone();
            if let Some(base_url) = base_url {
                sender.base_url = base_url.clone();
            }
            Arc::new(sender)
        }
    })
}
