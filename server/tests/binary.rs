//! The built binary as an operator runs it: `--demo` on a fresh data
//! directory, every demo account signing in, `admin create-user`, a second
//! `--demo` that seeds nothing, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_mediation-server");

struct Running {
    child: Child,
    base_url: String,
    lines: Vec<String>,
}

/// Starts the binary on a free loopback port with JSON logs and waits for the
/// "serving" line that carries the URL.
fn start(data_dir: &std::path::Path, extra: &[&str]) -> Running {
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("MEDIATION_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the server binary");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        lines.push(line.clone());
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && event["fields"]["message"] == "serving"
        {
            let base_url = event["fields"]["url"].as_str().unwrap().trim_end_matches('/').to_owned();
            return Running { child, base_url, lines };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server exited before serving: {lines:#?}");
}

fn stop(mut running: Running) {
    let status = Command::new("kill").args(["-TERM", &running.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = running.child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

fn create_user(data_dir: &std::path::Path, username: &str, role: &str, unit: &str) -> std::process::Output {
    Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["admin", "create-user", "--username", username, "--role", role, "--unit", unit])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn demo_run_create_user_and_restart() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let server = start(data.path(), &["--demo", "--demo-password", "X-demo-pass"]);
    assert!(server.lines.iter().any(|line| line.contains("demo town seeded") && line.contains("station-dongping")));
    assert!(!server.lines.iter().any(|line| line.contains("X-demo-pass")), "the given password is never logged");
    let health = client.get(format!("{}/healthz", server.base_url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let page = client.get(format!("{}/", server.base_url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("乡村远程调解平台") && page.contains("/js/login.js"), "the sign-in page is served");

    for (username, role, unit) in [
        ("admin", "admin", Value::Null),
        ("district", "district_admin", json!("沾化区")),
        ("mediator1", "mediator", json!("下洼镇")),
        ("mediator2", "mediator", json!("下洼镇")),
        ("adviser1", "adviser", json!("沾化区")),
        ("station-dongping", "station", json!("东平村")),
        ("station-hala", "station", json!("哈喇村")),
        ("station-housun", "station", json!("后孙村")),
    ] {
        let (status, body) = login(&client, &server.base_url, username, "X-demo-pass").await;
        assert_eq!(status, 200, "{username}: {body}");
        let me: Value = client
            .get(format!("{}/api/v1/me", server.base_url))
            .bearer_auth(body["token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["role"], role);
        assert_eq!(me["unit_name"], unit);
    }
    stop(server);

    let secret = std::fs::metadata(data.path().join("jwt-secret")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777, 0o600);

    let created = create_user(data.path(), "mediator3", "mediator", "下洼镇");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("password (shown once): "))
        .expect("the generated password is printed")
        .to_owned();
    let created_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("created mediator3 (mediator) with id "))
        .expect("the new account's id is printed")
        .to_owned();

    let refused = create_user(data.path(), "someone", "station", "下洼镇");
    assert!(!refused.status.success(), "a station needs a village, not a town");

    let server = start(data.path(), &["--demo", "--demo-password", "other-pass"]);
    assert!(server.lines.iter().any(|line| line.contains("already has data")), "{:#?}", server.lines);
    let (status, _) = login(&client, &server.base_url, "mediator3", &password).await;
    assert_eq!(status, 200, "the account made from the shell signs in");
    let (status, _) = login(&client, &server.base_url, "mediator1", "other-pass").await;
    assert_eq!(status, 401, "the second --demo changed nothing");

    // The demo seed and the shell's account are in the audit trail, written
    // by the system, and the chain holds.
    let (_, admin) = login(&client, &server.base_url, "admin", "X-demo-pass").await;
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    let audit: Value = client
        .get(format!("{}/api/v1/audit?limit=1000", server.base_url))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_system = |action: &str| {
        audit.as_array().unwrap().iter().filter(|e| e["action"] == action && e["actor_role"] == "system").count()
    };
    assert_eq!(by_system("unit.create"), 5, "district, town and three villages: {audit}");
    assert_eq!(by_system("account.create"), 9, "eight demo accounts and mediator3 from the shell");
    let created = audit.as_array().unwrap().iter().find(|e| {
        e["action"] == "account.create" && e["details"]["role"] == "mediator" && e["object_id"] == created_id.as_str()
    });
    assert!(created.is_some(), "the shell's account is audited under its id");
    let verify: Value = client
        .get(format!("{}/api/v1/audit/verify", server.base_url))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    stop(server);
}
