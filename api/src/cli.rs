//! The `fluxorae` command line.

use clap::{Parser, Subcommand};

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
    /// Print the GraphQL schema (SDL) to stdout.
    PrintSchema,
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
        Command::PrintSchema => {
            print!("{}", crate::schema::sdl());
            Ok(())
        }
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
