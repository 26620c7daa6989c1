//! `fluxorae`: serve the API or run an operator command.

use clap::Parser;
use fluxorae::cli::{self, Cli};
use fluxorae::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log_format = Config::from_env()
        .map(|config| config.log_format)
        .unwrap_or(fluxorae::config::LogFormat::Pretty);
    fluxorae::telemetry::init(log_format);
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
