//! `backup` and `restore` on both databases: a snapshot of a town's records
//! (cases, a sealed ID number, a session, the audit trail) restored into a
//! new, empty database holds the same rows and a sound audit chain; a
//! restore refuses a database that is not empty, a data directory without
//! the ID-number key, and one with another key.

use mediation_server::backup;
use mediation_server::store;
use mediation_tests::fixtures::{Demo, id_number, video_session};
use mediation_tests::{Db, TestServer, config, fresh_database_url, on_both_databases};
use serde_json::json;

on_both_databases!(a_backup_restores_into_an_empty_database_with_the_same_records);

fn config_at(database_url: &str, data_dir: &std::path::Path) -> mediation_server::config::Config {
    config(&["--database-url", database_url, "--data-dir", &data_dir.display().to_string()])
}

async fn a_backup_restores_into_an_empty_database_with_the_same_records(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    let session = video_session(&mediator, &demo).await;
    let party = format!("/api/v1/cases/{}/parties/{}", session.case_id, session.party_id);
    let sealed = mediator.patch(&party, &json!({ "id_number": id_number("37162519580101123") })).await;
    assert_eq!(sealed.status, 200, "{}", sealed.body);
    let (database_url, data_dir) = server.stop_keeping_data().await;

    let file = data_dir.path().join("town.backup");
    backup::backup(&config_at(&database_url, data_dir.path()), &file).await.expect("the backup");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds personal data: only its owner reads it");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let key = std::fs::read(data_dir.path().join("id-number-key")).unwrap();
    assert!(!text.contains(&hex::encode(&key)), "the key itself is never in the backup");
    assert!(!text.contains("37162519580101123"), "the ID number stays sealed in the backup");

    // A new installation: an empty database and the key file copied over.
    let new_dir = tempfile::tempdir().unwrap();
    let new_url = fresh_database_url(db, new_dir.path()).await;
    let restored_config = config_at(&new_url, new_dir.path());
    let missing = backup::restore(&restored_config, &file).await.unwrap_err();
    assert!(format!("{missing:#}").contains("id-number-key"), "{missing:#}");
    std::fs::write(new_dir.path().join("id-number-key"), [7u8; 32]).unwrap();
    let other_key = backup::restore(&restored_config, &file).await.unwrap_err();
    assert!(format!("{other_key:#}").contains("fingerprint"), "{other_key:#}");
    std::fs::write(new_dir.path().join("id-number-key"), &key).unwrap();
    assert!(backup::restore(&restored_config, &file).await.expect("the restore"), "the audit chain verifies");

    let original = store::connect(&database_url).await.unwrap().dump().await.unwrap();
    let copy = store::connect(&new_url).await.unwrap().dump().await.unwrap();
    assert_eq!(original, copy, "the same rows in every table");
    assert!(copy.1.iter().any(|table| table.table == "audit_events" && !table.rows.is_empty()));

    let again = backup::restore(&restored_config, &file).await.unwrap_err();
    assert!(format!("{again:#}").contains("not empty"), "{again:#}");

    // The restored copy serves: the party's ID number reads back masked.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer::start_at(listener, new_url, new_dir, &[]).await;
    let mediator = server.login("mediator1").await;
    let file = mediator.get(&format!("/api/v1/cases/{}", session.case_id)).await.body;
    let shown =
        file["parties"].as_array().unwrap().iter().find(|p| p["id"] == session.party_id.as_str()).unwrap().clone();
    assert!(shown["id_number_masked"].as_str().is_some_and(|masked| masked.contains('*')), "{shown}");
    server.stop().await;
}
