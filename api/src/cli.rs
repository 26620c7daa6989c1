//! The `fluxorae` command line.

use auth::service::OrganizationChoice;
use clap::{Parser, Subcommand};

use kernel::{AppError, Role};

use crate::config::Config;
use crate::server;

/// Fluxorae API: the agency's GraphQL backend.
#[derive(Debug, Parser)]
#[command(name = "fluxorae", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (default).
    Serve {
        /// Address to listen on; overrides `BIND_ADDR`.
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an active user; prints `{"userId": "...", "organizationId": "..."}`
    /// (ids as GraphQL uses them).
    CreateUser {
        /// Email (the login).
        #[arg(long)]
        email: String,
        /// Password (at least 10 characters, not a common one).
        #[arg(long)]
        password: String,
        /// One of super-admin, admin, employee, client, freelancer, partner.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Organization name: a new organization of this name, or an existing
        /// one only while it has no users and no referring partner (otherwise
        /// use --org-id). Staff and freelancers default to the agency.
        #[arg(long, conflicts_with = "org_id")]
        org: Option<String>,
        /// Id of an existing organization to join, as create-user and GraphQL
        /// print it.
        #[arg(long = "org-id")]
        org_id: Option<uuid::Uuid>,
    },
    /// Create idempotent demo data and print the demo logins (not in production).
    SeedDemo,
    /// Print the GraphQL schema (SDL) to stdout.
    PrintSchema,
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::from_cli(value).ok_or_else(|| {
        "expected one of super-admin, admin, employee, client, freelancer, partner".to_string()
    })
}

/// Runs `work` against a ready database (private cluster or DATABASE_URL),
/// stopping a private cluster this command started.
async fn with_state<T>(
    work: impl AsyncFnOnce(&crate::http::AppState) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = Config::from_env()?;
    let database = server::resolve_database(&config).await?;
    let result = match server::build_state(config, &database.url).await {
        Ok(state) => work(&state).await,
        Err(error) => Err(error),
    };
    stop_if_started_here(database);
    result
}

fn meta() -> kernel::RequestMeta {
    kernel::RequestMeta {
        request_id: "cli".into(),
        ip: None,
        user_agent: Some("fluxorae cli".into()),
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve { bind: None }) {
        Command::Serve { bind } => {
            let mut config = Config::from_env()?;
            if let Some(bind) = bind {
                config.bind_addr = bind;
            }
            server::run_server(config).await
        }
        Command::Migrate => {
            let config = Config::from_env()?;
            let database = server::resolve_database(&config).await?;
            let applied = server::migrate(&database.url).await;
            stop_if_started_here(database);
            for version in applied? {
                println!("applied {version}");
            }
            Ok(())
        }
        Command::CreateUser {
            email,
            password,
            role,
            org,
            org_id,
        } => {
            let organization = match (org_id, org.as_deref()) {
                (Some(id), _) => OrganizationChoice::Id(id),
                (None, Some(name)) => OrganizationChoice::Name(name),
                (None, None) => OrganizationChoice::Agency,
            };
            let line = with_state(async |state| {
                let (user, organization) = state
                    .auth()
                    .create_user(&email, &password, role, organization, &meta())
                    .await
                    .map_err(describe_error)?;
                Ok(crate::demo::created_user_line(user.id, organization.id))
            })
            .await?;
            println!("{line}");
            Ok(())
        }
        Command::SeedDemo => {
            let text = with_state(async |state| {
                if state.config.environment == crate::config::Environment::Production {
                    anyhow::bail!("seed-demo refuses to run with APP_ENV=production");
                }
                let logins = crate::demo::seed(state).await.map_err(describe_error)?;
                Ok(crate::demo::describe(&logins))
            })
            .await?;
            print!("{text}");
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", crate::schema::sdl());
            Ok(())
        }
    }
}

fn describe_error(error: AppError) -> anyhow::Error {
    error.log_if_internal();
    let fields: Vec<String> = error
        .fields()
        .iter()
        .map(|field| format!("{}: {}", field.field, field.message))
        .collect();
    if fields.is_empty() {
        anyhow::anyhow!("{} ({})", error.message(), error.code().as_str())
    } else {
        anyhow::anyhow!("{} ({})", fields.join("; "), error.code().as_str())
    }
}

/// One-shot commands leave no server behind that they started themselves.
fn stop_if_started_here(database: server::Database) {
    if let Some(embedded) = database.embedded.filter(|pg| pg.started_here())
        && let Err(error) = embedded.stop()
    {
        tracing::error!(%error, "stopping the private PostgreSQL failed");
    }
}
