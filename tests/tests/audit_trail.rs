//! The audit trail is append-only and tamper-evident: editing or deleting a
//! row directly in the database is found by `audit verify`, over HTTP and
//! from the command line.

use mediation_server::config::{AuditCommand, Cli};
use mediation_tests::fixtures::{Demo, register_case};
use mediation_tests::{Db, TestServer, on_both_databases};

on_both_databases!(
    tampering_with_one_row_is_reported,
    deleting_a_row_is_reported,
    the_application_cannot_rewrite_history,
    an_account_change_and_its_audit_event_commit_together
);

async fn cli_verify(server: &TestServer) -> bool {
    use clap::Parser;
    let data_dir = server.data_dir.path().display().to_string();
    let cli = Cli::parse_from([
        "mediation-server",
        "--data-dir",
        &data_dir,
        "--database-url",
        &server.database_url,
        "audit",
        "verify",
    ]);
    mediation_server::admin::audit(&cli.config, AuditCommand::Verify).await.expect("audit verify runs")
}

/// The SQL that lets someone with database access bypass the append-only trigger.
fn bypass(db: Db) -> &'static str {
    match db {
        Db::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        Db::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;",
    }
}

async fn busy_server(db: Db) -> TestServer {
    let server = TestServer::start(db, &[]).await;
    let demo = Demo::load(&server).await;
    let mediator = server.login("mediator1").await;
    for _ in 0..3 {
        register_case(&mediator, &demo, "东平村").await;
    }
    server
}

async fn tampering_with_one_row_is_reported(db: Db) {
    let server = busy_server(db).await;
    let admin = server.login("admin").await;
    let before = admin.get("/api/v1/audit/verify").await;
    assert_eq!(before.body["ok"], true, "{}", before.body);
    let events = before.body["events_checked"].as_i64().unwrap();
    assert!(events >= 5, "logins and registrations are recorded: {events}");
    assert!(cli_verify(&server).await);

    server.sql(bypass(db)).await;
    server.sql("UPDATE audit_events SET actor_name = 'someone else' WHERE seq = 4").await;

    let after = admin.get("/api/v1/audit/verify").await;
    assert_eq!(after.body["ok"], false);
    assert_eq!(after.body["first_broken_seq"], 4, "{}", after.body);
    assert!(after.body["problem"].as_str().unwrap().contains("changed"));
    assert!(!cli_verify(&server).await, "the command line reports the break too");
}

async fn deleting_a_row_is_reported(db: Db) {
    let server = busy_server(db).await;
    server.sql(bypass(db)).await;
    if db == Db::Postgres {
        server.sql("ALTER TABLE audit_events DISABLE TRIGGER ALL").await;
    }
    server.sql("DELETE FROM audit_events WHERE seq = 3").await;
    let report = server.login("admin").await.get("/api/v1/audit/verify").await;
    assert_eq!(report.body["ok"], false);
    assert_eq!(report.body["first_broken_seq"], 3, "{}", report.body);
}

async fn the_application_cannot_rewrite_history(db: Db) {
    let server = busy_server(db).await;
    let rows_before = server.count("SELECT COUNT(*) FROM audit_events").await;
    let url = server.database_url.clone();
    let refused = async {
        use sqlx::Connection;
        let statement = "UPDATE audit_events SET result = 'refused' WHERE seq = 1";
        if url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(statement).execute(&mut connection).await.is_err()
        } else {
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(statement).execute(&mut connection).await.is_err()
        }
    }
    .await;
    assert!(refused, "the schema refuses updates to audit events");
    assert_eq!(server.count("SELECT COUNT(*) FROM audit_events").await, rows_before);
    let admin = server.login("admin").await;
    assert_eq!(admin.get("/api/v1/audit/verify").await.body["ok"], true);
    server.login("mediator1").await.get("/api/v1/audit/verify").await.assert_error(403, "forbidden");
}

/// An account write and its audit event are one transaction: when the event
/// cannot be written, the change is not made either.
async fn an_account_change_and_its_audit_event_commit_together(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let admin = server.login("admin").await;
    let villages = admin.get("/api/v1/villages").await;
    let dongping = villages.body.as_array().unwrap().iter().find(|v| v["name"] == "东平村").unwrap()["id"].clone();
    let created = admin
        .post(
            "/api/v1/accounts",
            &serde_json::json!({ "username": "station-two", "display_name": "东平村第二说事室", "role": "station", "unit_id": dongping }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let events =
        |action: &str| format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND object_id = '{id}'");
    assert_eq!(server.count(&events("account.create")).await, 1, "the creation is in the audit trail");

    // From now on the trail refuses deactivation events.
    let refuse = match db {
        Db::Sqlite => "CREATE TRIGGER refuse_deactivation BEFORE INSERT ON audit_events \
                       WHEN NEW.action = 'account.deactivate' BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            .to_owned(),
        Db::Postgres => "CREATE FUNCTION refuse_deactivation() RETURNS trigger LANGUAGE plpgsql AS $$ \
                         BEGIN IF NEW.action = 'account.deactivate' THEN RAISE EXCEPTION 'refused'; END IF; \
                         RETURN NEW; END $$; \
                         CREATE TRIGGER refuse_deactivation BEFORE INSERT ON audit_events \
                         FOR EACH ROW EXECUTE FUNCTION refuse_deactivation();"
            .to_owned(),
    };
    server.sql(&refuse).await;
    let deactivated = admin.post(&format!("/api/v1/accounts/{id}/deactivate"), &serde_json::json!({})).await;
    assert_eq!(deactivated.status, 500, "{}", deactivated.body);
    let active = admin.get(&format!("/api/v1/accounts/{id}")).await;
    assert_eq!(active.body["active"], true, "the deactivation was rolled back with its event");
    assert_eq!(server.count(&events("account.deactivate")).await, 0);
}
