//! Administration from the shell, for bootstrapping a fresh installation:
//! `mediation-server admin create-user ...` (written through `Store::apply`
//! as the system, so the account's creation is audited like any other) and
//! `mediation-server audit verify`.

use anyhow::Context;
use uuid::Uuid;

use crate::auth;
use crate::cases::changes::{Actor, Change};
use crate::config::{AdminCommand, AuditCommand, Config};
use crate::store::filters::UnitFilter;
use crate::store::{self, Store};
use crate::tree::{Chain, NewAccount, Role};
use crate::validate;

pub async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    match command {
        AdminCommand::CreateUser { username, role, unit, display_name } => {
            let username = validate::username(&username)?;
            let unit_id = resolve_unit(store.as_ref(), role, unit.as_deref()).await?;
            let password = auth::generate_password();
            let account = NewAccount {
                id: Uuid::new_v4(),
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                unit_id,
                phone: None,
                password_hash: auth::hash_password(password.clone()).await?,
            };
            let (id, username) = (account.id, account.username.clone());
            store.apply(&Actor::system(), &[Change::InsertAccount { account }]).await.map_err(|error| match error {
                store::StoreError::Conflict => anyhow::anyhow!("that username is taken"),
                other => other.into(),
            })?;
            println!("created {username} ({role}) with id {id}");
            println!("password (shown once): {password}");
            Ok(())
        }
    }
}

/// `mediation-server audit verify`: prints the report; false when broken.
pub async fn audit(config: &Config, command: AuditCommand) -> anyhow::Result<bool> {
    let store = store::connect(&config.database_url()).await.context("opening the database")?;
    match command {
        AuditCommand::Verify => {
            let report = store::audit::verify_chain(store.as_ref()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if let (Some(seq), Some(problem)) = (report.first_broken_seq, &report.problem) {
                eprintln!("audit chain broken at event {seq}: {problem}");
            }
            Ok(report.ok)
        }
    }
}

/// Finds the home unit by id or by exact name among units of the right kind.
async fn resolve_unit(store: &dyn Store, role: Role, unit: Option<&str>) -> anyhow::Result<Option<Uuid>> {
    let (kind, unit) = match (role.home_kind(), unit) {
        (None, None) => return Ok(None),
        (None, Some(_)) => anyhow::bail!("an admin belongs to no unit; leave out --unit"),
        (Some(kind), None) => anyhow::bail!("a {role} needs --unit naming a {kind}"),
        (Some(kind), Some(unit)) => (kind, unit),
    };
    if let Ok(id) = unit.parse::<Uuid>() {
        return match store.unit(id).await? {
            Some(found) if found.kind == kind => Ok(Some(found.id)),
            _ => anyhow::bail!("no {kind} with id {id}"),
        };
    }
    let matches: Vec<_> = store
        .units(&UnitFilter { kind, within: Chain::default(), active: Some(true) })
        .await?
        .into_iter()
        .filter(|candidate| candidate.name == unit)
        .collect();
    match matches.as_slice() {
        [only] => Ok(Some(only.id)),
        [] => anyhow::bail!("no active {kind} named {unit}"),
        _ => anyhow::bail!("several {kind}s are named {unit}; give the id instead"),
    }
}

/// `tls init`: makes (or keeps) the town's certificate authority and issues
/// the server certificate, then says what to set and what devices need.
pub fn tls_init(config: &Config, hosts: &[String], days: u32) -> anyhow::Result<()> {
    let dir = config.tls_dir();
    let issued = crate::tls::authority::init(&dir, hosts, days)?;
    if issued.new_authority {
        println!("made the town's certificate authority in {} (valid only for {})", dir.display(), hosts.join(", "));
    } else {
        println!("kept the certificate authority in {}; devices that installed it need nothing new", dir.display());
    }
    println!(
        "server certificate: {} (key {}), valid until {}",
        issued.chain.display(),
        issued.key.display(),
        issued.not_after.date()
    );
    println!("authority fingerprint (SHA-256): {}", issued.authority_fingerprint);
    println!();
    println!("serve it with (flags, variables or the configuration file):");
    println!("  --tls-cert {} --tls-key {}", issued.chain.display(), issued.key.display());
    println!("a running server takes the new certificate by itself within a few seconds.");
    // An IPv6 address goes in brackets in a URL.
    let host =
        if hosts[0].contains(':') { format!("[{}]", hosts[0].trim_matches(['[', ']'])) } else { hosts[0].clone() };
    println!(
        "devices install the authority from https://{host}/install-ca (or over plain HTTP with --redirect-listen)"
    );
    Ok(())
}
