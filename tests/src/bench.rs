//! What the benchmark binaries share: starting the release server binary
//! built next to them as a child process and learning its address.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A binary built next to the running one (`cargo build --release` puts them together).
pub fn sibling(name: &str) -> std::path::PathBuf {
    std::env::current_exe().expect("own path").with_file_name(name)
}

/// Starts `mediation-server` with the demo town on a free loopback port and
/// returns the child and its base URL. Its log keeps being read, so the
/// server never writes into a closed pipe.
pub fn start_server(data_dir: &std::path::Path, password: &str, extra_args: &[&str]) -> (Child, String) {
    let mut child = Command::new(sibling("mediation-server"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json", "--demo", "--demo-password", password])
        .args(extra_args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn,mediation_server=info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("mediation server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Ok(event) = serde_json::from_str::<Value>(&line)
            && event["fields"]["message"] == "serving"
        {
            let base = event["fields"]["url"].as_str().unwrap().trim_end_matches('/').to_owned();
            std::thread::spawn(move || lines.for_each(drop));
            return (child, base);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

/// Signs in through the API; the staff token.
pub async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let reply: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["token"].as_str().unwrap().to_owned()
}

/// A POST that must succeed; its JSON body.
pub async fn post(client: &reqwest::Client, token: &str, url: String, body: Value) -> Value {
    let reply = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.unwrap()
}

/// Resident memory of a process, KiB, from /proc.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc status")
}

/// The `join` message for a session, as a text frame.
pub fn join_text(session_id: uuid::Uuid) -> String {
    serde_json::to_string(&signaling_proto::ClientMessage::Join {
        request_id: None,
        protocol_version: signaling_proto::PROTOCOL_VERSION,
        session_id,
        resume_token: None,
        new_peer_connections: false,
    })
    .unwrap()
}

/// Registers `count` cases in `village`, each with a video session for the
/// caller and `parties` parties; each session's id and its parties'
/// invitation tokens.
pub async fn sessions_with_parties(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    village: &str,
    count: usize,
    parties: usize,
) -> Vec<(uuid::Uuid, Vec<String>)> {
    use futures::{StreamExt, stream};
    const NAMES: [&str; 6] = ["甲", "乙", "丙", "丁", "戊", "己"];
    let start = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    stream::iter(0..count)
        .map(|i| {
            let start = start.clone();
            async move {
                let people: Vec<Value> = (0..parties)
                    .map(|p| json!({ "name": NAMES[p % NAMES.len()], "side": if p == 0 { "applicant" } else { "respondent" } }))
                    .collect();
                let case = post(
                    client,
                    token,
                    format!("{base}/api/v1/cases"),
                    json!({ "village_id": village, "category": "neighbour", "source": "party_application",
                            "summary": format!("基准测试纠纷 {i}"), "public_session": false, "parties": people }),
                )
                .await;
                let party_ids: Vec<&str> =
                    case["parties"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
                let session = post(
                    client,
                    token,
                    format!("{base}/api/v1/cases/{}/sessions", case["case"]["id"].as_str().unwrap()),
                    json!({ "planned_start": start, "planned_minutes": 60, "mode": "video", "party_ids": party_ids }),
                )
                .await;
                let tokens = session["participants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["invitation"]["link"].as_str())
                    .map(|link| link.split("#t=").nth(1).unwrap().to_owned())
                    .collect();
                (session["id"].as_str().unwrap().parse().unwrap(), tokens)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await
}

/// The first village the caller sees.
pub async fn first_village(client: &reqwest::Client, base: &str, token: &str) -> String {
    let villages: Value =
        client.get(format!("{base}/api/v1/villages")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    villages[0]["id"].as_str().unwrap().to_owned()
}
