//! The store contract: the same assertions against SQLite and PostgreSQL.

use mediation_server::cases::changes::{Actor, Change};
use mediation_server::store::filters::{AccountFilter, UnitFilter};
use mediation_server::store::{self, DynStore, StoreError};
use mediation_server::time::Timestamp;
use mediation_server::tree::{Account, AccountChanges, Chain, NewAccount, Role, Unit, UnitKind};
use mediation_tests::{Db, fresh_database_url, on_both_databases};
use tempfile::TempDir;
use uuid::Uuid;

on_both_databases!(
    units_round_trip_and_filter,
    unit_names_are_unique_under_one_parent,
    schema_refuses_inconsistent_units,
    accounts_round_trip_with_their_chain,
    deactivation_and_password_change_bump_the_token_version,
    account_filters_follow_the_tree,
    a_failed_batch_writes_nothing,
    every_unit_and_account_write_is_audited,
    migrations_are_idempotent,
);

async fn open(db: Db) -> (TempDir, DynStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(db, dir.path()).await;
    let store = store::connect(&url).await.expect("connect and migrate");
    (dir, store)
}

fn unit(kind: UnitKind, name: &str, parent: Option<&Unit>) -> Unit {
    let mut unit = Unit::new(kind, name, parent);
    unit.office_name = (kind == UnitKind::Town).then(|| format!("{name}调解室"));
    unit.case_prefix = (kind == UnitKind::Town).then(|| name.trim_end_matches('镇').to_owned());
    unit.station_name = (kind == UnitKind::Village).then(|| format!("{name}说事拉理室"));
    unit
}

/// Writes go through `apply`, as everywhere else.
async fn insert_unit(store: &DynStore, unit: &Unit) -> Result<(), StoreError> {
    store.apply(&Actor::system(), &[Change::InsertUnit { unit: unit.clone() }]).await.map(drop)
}

async fn update_unit(store: &DynStore, unit: &Unit) -> Result<(), StoreError> {
    store.apply(&Actor::system(), &[Change::UpdateUnit { unit: unit.clone(), action: "unit.update" }]).await.map(drop)
}

async fn insert_account(store: &DynStore, account: &NewAccount) -> Result<Account, StoreError> {
    store.apply(&Actor::system(), &[Change::InsertAccount { account: account.clone() }]).await?;
    Ok(store.account(account.id).await?.expect("written"))
}

async fn update_account(store: &DynStore, id: Uuid, changes: AccountChanges) -> Result<Account, StoreError> {
    store.apply(&Actor::system(), &[Change::UpdateAccount { id, changes, action: "account.update" }]).await?;
    Ok(store.account(id).await?.expect("written"))
}

fn account(username: &str, role: Role, unit: Option<&Unit>) -> NewAccount {
    NewAccount {
        id: Uuid::new_v4(),
        username: username.into(),
        display_name: username.to_uppercase(),
        role,
        unit_id: unit.map(|u| u.id),
        phone: None,
        password_hash: "$argon2id$fake".into(),
    }
}

/// A district with two towns, each with one village.
async fn tree(store: &DynStore) -> (Unit, Unit, Unit, Unit, Unit) {
    let district = unit(UnitKind::District, "沾化区", None);
    let town = unit(UnitKind::Town, "下洼镇", Some(&district));
    let village = unit(UnitKind::Village, "东平村", Some(&town));
    let other_town = unit(UnitKind::Town, "富源街道", Some(&district));
    let other_village = unit(UnitKind::Village, "前进村", Some(&other_town));
    for u in [&district, &town, &village, &other_town, &other_village] {
        insert_unit(store, u).await.expect("insert unit");
    }
    (district, town, village, other_town, other_village)
}

async fn units_round_trip_and_filter(db: Db) {
    let (_dir, store) = open(db).await;
    assert!(store.is_empty().await.unwrap());
    let (district, town, village, other_town, _) = tree(&store).await;
    assert!(!store.is_empty().await.unwrap());

    let read = store.unit(village.id).await.unwrap().expect("village is there");
    assert_eq!(read, village, "every field, timestamps included, survives the round trip");
    assert_eq!(
        read.chain(),
        Chain { district_id: Some(district.id), town_id: Some(town.id), village_id: Some(village.id) }
    );

    let towns =
        store.units(&UnitFilter { kind: UnitKind::Town, within: Chain::default(), active: None }).await.unwrap();
    assert_eq!(towns.len(), 2);
    let in_town = Chain { district_id: Some(district.id), town_id: Some(town.id), village_id: None };
    let villages = store.units(&UnitFilter { kind: UnitKind::Village, within: in_town, active: None }).await.unwrap();
    assert_eq!(villages.iter().map(|v| v.id).collect::<Vec<_>>(), vec![village.id]);

    let mut renamed = other_town.clone();
    renamed.name = "富源镇".into();
    renamed.active = false;
    renamed.updated_at = Timestamp::now();
    update_unit(&store, &renamed).await.unwrap();
    assert_eq!(store.unit(other_town.id).await.unwrap().unwrap(), renamed);
    let active_towns =
        store.units(&UnitFilter { kind: UnitKind::Town, within: Chain::default(), active: Some(true) }).await.unwrap();
    assert_eq!(active_towns.iter().map(|t| t.id).collect::<Vec<_>>(), vec![town.id]);

    let mut missing = renamed.clone();
    missing.id = Uuid::new_v4();
    assert!(matches!(update_unit(&store, &missing).await, Err(StoreError::NotFound)));
    assert!(store.unit(Uuid::new_v4()).await.unwrap().is_none());
}

async fn unit_names_are_unique_under_one_parent(db: Db) {
    let (_dir, store) = open(db).await;
    let (district, town, _, other_town, _) = tree(&store).await;
    let twin = unit(UnitKind::Village, "东平村", Some(&town));
    assert!(matches!(insert_unit(&store, &twin).await, Err(StoreError::Conflict)));
    let same_name_elsewhere = unit(UnitKind::Village, "东平村", Some(&other_town));
    insert_unit(&store, &same_name_elsewhere).await.expect("the same village name in another town is fine");
    let twin_district = unit(UnitKind::District, &district.name, None);
    assert!(matches!(insert_unit(&store, &twin_district).await, Err(StoreError::Conflict)));
}

async fn schema_refuses_inconsistent_units(db: Db) {
    let (_dir, store) = open(db).await;
    let (district, town, _, _, _) = tree(&store).await;

    let mut town_without_office = unit(UnitKind::Town, "无室镇", Some(&district));
    town_without_office.office_name = None;
    assert!(matches!(insert_unit(&store, &town_without_office).await, Err(StoreError::Constraint(_))));

    let mut district_with_station = unit(UnitKind::District, "滨城区", None);
    district_with_station.station_name = Some("x".into());
    assert!(matches!(insert_unit(&store, &district_with_station).await, Err(StoreError::Constraint(_))));

    let mut orphan = unit(UnitKind::Village, "孤村", Some(&town));
    orphan.town_id = Some(Uuid::new_v4());
    assert!(matches!(insert_unit(&store, &orphan).await, Err(StoreError::Constraint(_))), "foreign key to the town");

    let count =
        store.units(&UnitFilter { kind: UnitKind::Village, within: Chain::default(), active: None }).await.unwrap();
    assert_eq!(count.len(), 2, "refused writes left nothing behind");
}

async fn accounts_round_trip_with_their_chain(db: Db) {
    let (_dir, store) = open(db).await;
    let (district, town, village, _, _) = tree(&store).await;

    let admin = insert_account(&store, &account("root", Role::Admin, None)).await.unwrap();
    assert_eq!(admin.chain(), Chain::default());
    assert!(admin.may_sign_in());

    let station = insert_account(&store, &account("station-dongping", Role::Station, Some(&village))).await.unwrap();
    assert_eq!(station.unit_name.as_deref(), Some("东平村"));
    assert_eq!(station.chain(), village.chain());
    assert_eq!(station.token_version, 1);

    let mediator = insert_account(&store, &account("mediator1", Role::Mediator, Some(&town))).await.unwrap();
    assert_eq!(mediator.chain(), Chain { district_id: Some(district.id), town_id: Some(town.id), village_id: None });

    let (found, hash) = store.account_for_login("mediator1").await.unwrap().expect("found by username");
    assert_eq!(found, mediator);
    assert_eq!(hash, "$argon2id$fake");
    assert!(store.account_for_login("nobody").await.unwrap().is_none());

    assert!(matches!(
        insert_account(&store, &account("mediator1", Role::Mediator, Some(&town))).await,
        Err(StoreError::Conflict)
    ));
    assert!(
        matches!(
            insert_account(&store, &account("unitless", Role::Mediator, None)).await,
            Err(StoreError::Constraint(_))
        ),
        "only an admin may have no unit"
    );
}

async fn deactivation_and_password_change_bump_the_token_version(db: Db) {
    let (_dir, store) = open(db).await;
    let (_, town, _, _, _) = tree(&store).await;
    let mediator = insert_account(&store, &account("mediator1", Role::Mediator, Some(&town))).await.unwrap();

    let renamed = update_account(
        &store,
        mediator.id,
        AccountChanges {
            display_name: Some("张敏".into()),
            phone: Some(Some("13800000000".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.display_name, "张敏");
    assert_eq!(renamed.phone.as_deref(), Some("13800000000"));
    assert_eq!(renamed.token_version, 1, "a rename does not sign anyone out");

    let cleared =
        update_account(&store, mediator.id, AccountChanges { phone: Some(None), ..Default::default() }).await.unwrap();
    assert_eq!(cleared.phone, None);

    let off = update_account(&store, mediator.id, AccountChanges { active: Some(false), ..Default::default() })
        .await
        .unwrap();
    assert!(!off.active && !off.may_sign_in());
    assert_eq!(off.token_version, 2);

    let on =
        update_account(&store, mediator.id, AccountChanges { active: Some(true), ..Default::default() }).await.unwrap();
    assert_eq!(on.token_version, 2, "reactivation does not revive old tokens");

    let new_hash = update_account(
        &store,
        mediator.id,
        AccountChanges { password_hash: Some("$argon2id$new".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(new_hash.token_version, 3);
    assert_eq!(store.account_for_login("mediator1").await.unwrap().unwrap().1, "$argon2id$new");

    assert!(matches!(
        update_account(&store, Uuid::new_v4(), AccountChanges::default()).await,
        Err(StoreError::NotFound)
    ));
}

async fn account_filters_follow_the_tree(db: Db) {
    let (_dir, store) = open(db).await;
    let (district, town, village, other_town, other_village) = tree(&store).await;
    let admin = insert_account(&store, &account("root", Role::Admin, None)).await.unwrap();
    let adviser = insert_account(&store, &account("adviser1", Role::Adviser, Some(&district))).await.unwrap();
    let mediator = insert_account(&store, &account("mediator1", Role::Mediator, Some(&town))).await.unwrap();
    let station = insert_account(&store, &account("station1", Role::Station, Some(&village))).await.unwrap();
    let other_mediator =
        insert_account(&store, &account("mediator9", Role::Mediator, Some(&other_town))).await.unwrap();
    let other_station =
        insert_account(&store, &account("station9", Role::Station, Some(&other_village))).await.unwrap();

    let ids = |accounts: Vec<Account>| {
        let mut ids: Vec<Uuid> = accounts.into_iter().map(|a| a.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };

    let everything = AccountFilter { include_unitless: true, ..Default::default() };
    assert_eq!(store.accounts(&everything).await.unwrap().len(), 6);

    let in_district =
        AccountFilter { within: Chain { district_id: Some(district.id), ..Default::default() }, ..Default::default() };
    assert_eq!(
        ids(store.accounts(&in_district).await.unwrap()),
        sorted(vec![adviser.id, mediator.id, station.id, other_mediator.id, other_station.id]),
        "the district sees all but the unitless admin"
    );

    let in_town = AccountFilter { within: town.chain(), ..Default::default() };
    assert_eq!(ids(store.accounts(&in_town).await.unwrap()), sorted(vec![mediator.id, station.id]));

    let in_village = AccountFilter { within: village.chain(), ..Default::default() };
    assert_eq!(ids(store.accounts(&in_village).await.unwrap()), vec![station.id]);

    let only_me = AccountFilter { only_id: Some(adviser.id), ..Default::default() };
    assert_eq!(ids(store.accounts(&only_me).await.unwrap()), vec![adviser.id]);

    let mediators = AccountFilter { role: Some(Role::Mediator), include_unitless: true, ..Default::default() };
    assert_eq!(ids(store.accounts(&mediators).await.unwrap()), sorted(vec![mediator.id, other_mediator.id]));

    update_account(&store, station.id, AccountChanges { active: Some(false), ..Default::default() }).await.unwrap();
    let inactive = AccountFilter { active: Some(false), include_unitless: true, ..Default::default() };
    assert_eq!(ids(store.accounts(&inactive).await.unwrap()), vec![station.id]);
    let _ = admin;
}

async fn a_failed_batch_writes_nothing(db: Db) {
    let (_dir, store) = open(db).await;
    let district = unit(UnitKind::District, "沾化区", None);
    let town = unit(UnitKind::Town, "下洼镇", Some(&district));
    let batch = |accounts: Vec<NewAccount>| {
        let units = [district.clone(), town.clone()].into_iter().map(|unit| Change::InsertUnit { unit });
        units.chain(accounts.into_iter().map(|account| Change::InsertAccount { account })).collect::<Vec<_>>()
    };
    let twins = batch(vec![account("twin", Role::Mediator, Some(&town)), account("twin", Role::Mediator, Some(&town))]);
    assert!(matches!(store.apply(&Actor::system(), &twins).await, Err(StoreError::Conflict)));
    assert!(store.is_empty().await.unwrap(), "the units written before the failing account were rolled back");
    assert!(store.audit_events(0, 10).await.unwrap().is_empty(), "and their audit events too");

    store.apply(&Actor::system(), &batch(vec![account("one", Role::Mediator, Some(&town))])).await.unwrap();
    assert!(store.account_for_login("one").await.unwrap().is_some());
}

async fn every_unit_and_account_write_is_audited(db: Db) {
    let (_dir, store) = open(db).await;
    let (district, _, village, ..) = tree(&store).await;
    let station = insert_account(&store, &account("station1", Role::Station, Some(&village))).await.unwrap();
    let off = AccountChanges { active: Some(false), ..Default::default() };
    store
        .apply(
            &Actor::system(),
            &[Change::UpdateAccount { id: station.id, changes: off, action: "account.deactivate" }],
        )
        .await
        .unwrap();
    let events = store.audit_events(0, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = events.iter().map(|e| (e.action.as_str(), e.actor_role.as_str())).collect();
    assert_eq!(
        actions,
        [
            ("unit.create", "system"),
            ("unit.create", "system"),
            ("unit.create", "system"),
            ("unit.create", "system"),
            ("unit.create", "system"),
            ("account.create", "system"),
            ("account.deactivate", "system"),
        ]
    );
    assert_eq!(events[0].object_id, district.id.to_string());
    assert_eq!(events[0].details.0["kind"], "district");
    assert_eq!(events[5].details.0["role"], "station");
    assert_eq!(events[6].object_id, station.id.to_string());
}

async fn migrations_are_idempotent(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(db, dir.path()).await;
    let first = store::connect(&url).await.unwrap();
    let (district, ..) = tree(&first).await;
    drop(first);
    let second = store::connect(&url).await.expect("re-opening runs no migration twice");
    assert_eq!(second.unit(district.id).await.unwrap().unwrap().name, "沾化区");
    second.ping().await.unwrap();
}
