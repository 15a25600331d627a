//! The demo town from the newspaper article: 沾化区 / 下洼镇 with its office
//! 枣乡情调解室, three villages with talk-it-out rooms, and one account of
//! every role, written through `Store::apply` (one transaction, every unit
//! and account audited) on an empty database only.

use uuid::Uuid;

use crate::auth;
use crate::cases::changes::{Actor, Change};
use crate::store::Store;
use crate::tree::{NewAccount, Role, Unit, UnitKind};

/// Usernames of the demo accounts, with their roles and display names.
pub const DEMO_ACCOUNTS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "系统管理员"),
    ("district", Role::DistrictAdmin, "沾化区司法局管理员"),
    ("mediator1", Role::Mediator, "张敏（调解员）"),
    ("mediator2", Role::Mediator, "刘洪涛（调解员）"),
    ("adviser1", Role::Adviser, "李律师（法律顾问）"),
    ("station-dongping", Role::Station, "东平村说事拉理室"),
    ("station-hala", Role::Station, "哈喇村说事拉理室"),
    ("station-housun", Role::Station, "后孙村说事拉理室"),
];

/// Seeds the demo town when the database is empty. Prints the accounts and,
/// when none was given, the generated password (once). Returns whether it seeded.
pub async fn seed_if_empty(store: &dyn Store, password: Option<String>) -> anyhow::Result<bool> {
    if !store.is_empty().await? {
        tracing::warn!("--demo: the database already has data; nothing seeded");
        return Ok(false);
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(auth::generate_password);

    let district = Unit::new(UnitKind::District, "沾化区", None);
    let mut town = Unit::new(UnitKind::Town, "下洼镇", Some(&district));
    town.office_name = Some("枣乡情调解室".into());
    town.case_prefix = Some("下洼".into());
    let villages: Vec<Unit> = ["东平村", "哈喇村", "后孙村"]
        .iter()
        .map(|name| {
            let mut village = Unit::new(UnitKind::Village, *name, Some(&town));
            village.station_name = Some(format!("{name}说事拉理室"));
            village
        })
        .collect();

    let mut accounts = Vec::with_capacity(DEMO_ACCOUNTS.len());
    for &(username, role, display_name) in DEMO_ACCOUNTS {
        let unit_id = match (role, username) {
            (Role::Admin, _) => None,
            (Role::DistrictAdmin | Role::Adviser, _) => Some(district.id),
            (Role::Mediator, _) => Some(town.id),
            (Role::Station, "station-dongping") => Some(villages[0].id),
            (Role::Station, "station-hala") => Some(villages[1].id),
            (Role::Station, _) => Some(villages[2].id),
        };
        accounts.push(NewAccount {
            id: Uuid::new_v4(),
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            role,
            unit_id,
            phone: None,
            password_hash: auth::hash_password(password.clone()).await?,
        });
    }

    // Parents first, then the accounts: one transaction, each write audited.
    let units = [district, town].into_iter().chain(villages);
    let mut changes: Vec<Change> = units.map(|unit| Change::InsertUnit { unit }).collect();
    changes.extend(accounts.into_iter().map(|account| Change::InsertAccount { account }));
    store.apply(&Actor::system(), &changes).await?;

    let usernames: Vec<&str> = DEMO_ACCOUNTS.iter().map(|(name, _, _)| *name).collect();
    tracing::info!(accounts = %usernames.join(", "), "demo town seeded: 沾化区 / 下洼镇 (枣乡情调解室), villages 东平, 哈喇, 后孙");
    if generated {
        // Printed to the terminal once, deliberately not through the log.
        println!("Demo accounts ({}) share the password: {password}", usernames.join(", "));
    }
    Ok(true)
}
