//! The `mediation-server` binary: parse the configuration (flags, variables
//! and the configuration file), set up logging, then either run an
//! administration command or serve.

use mediation_server::config::{Command, LogFormat, TlsCommand};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = mediation_server::config::parse_command_line();
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
        Some(Command::Doctor) => {
            let findings = mediation_server::doctor::examine(&cli.config).await;
            if !mediation_server::doctor::report(&findings) {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Tls(TlsCommand::Init { hosts, days })) => {
            mediation_server::admin::tls_init(&cli.config, &hosts, days)
        }
        Some(Command::Backup { file }) => mediation_server::backup::backup(&cli.config, &file).await,
        Some(Command::Restore { file }) => {
            if !mediation_server::backup::restore(&cli.config, &file).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        None => serve(cli.config).await,
    }
}

/// Binds the listeners first (a port in use is reported before anything is
/// written), then builds the state and serves until Ctrl-C or SIGTERM.
async fn serve(config: mediation_server::config::Config) -> anyhow::Result<()> {
    use mediation_server::serve::bind;
    let open_files = mediation_server::serve::raise_open_file_limit();
    tracing::info!(open_files, "open-file limit");
    let listener = bind(config.listen, "--listen", "MEDIATION_LISTEN").await?;
    let redirects = match config.redirect_listen {
        Some(address) => Some(bind(address, "--redirect-listen", "MEDIATION_REDIRECT_LISTEN").await?),
        None => None,
    };
    let state = mediation_server::build(config).await?;
    let scheme = if state.config.serves_tls() { "https" } else { "http" };
    tracing::info!(
        url = %format!("{scheme}://{}/", listener.local_addr()?),
        public_url = %state.config.public_url(),
        database = ?state.store.backend(),
        "serving"
    );
    if let Some(redirects) = redirects {
        tracing::info!(address = %redirects.local_addr()?, "redirecting plain HTTP to the public URL");
        tokio::spawn(mediation_server::run_redirects(redirects, state.clone(), mediation_server::shutdown_signal()));
    }
    mediation_server::run(listener, state, mediation_server::shutdown_signal()).await?;
    Ok(())
}
