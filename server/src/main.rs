//! The `mediation-server` binary: parse the configuration, set up logging,
//! then either run an administration command or serve.

use clap::Parser;
use mediation_server::config::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.config.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }

    match cli.command {
        Some(Command::Admin(command)) => mediation_server::admin::run(&cli.config, command).await,
        Some(Command::Audit(command)) => {
            if !mediation_server::admin::audit(&cli.config, command).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Backup { file }) => mediation_server::backup::backup(&cli.config, &file).await,
        Some(Command::Restore { file }) => {
            if !mediation_server::backup::restore(&cli.config, &file).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        None => {
            let open_files = mediation_server::serve::raise_open_file_limit();
            tracing::info!(open_files, "open-file limit");
            let state = mediation_server::build(cli.config.clone()).await?;
            let listener = tokio::net::TcpListener::bind(cli.config.listen).await?;
            let address = listener.local_addr()?;
            tracing::info!(url = %format!("http://{address}/"), database = ?state.store.backend(), "serving");
            mediation_server::run(listener, state, mediation_server::shutdown_signal()).await?;
            Ok(())
        }
    }
}
