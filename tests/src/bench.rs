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
