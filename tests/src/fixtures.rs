//! The demo town's ids and quick ways to make cases and sessions through
//! the API, for tests that need a case in a given state.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{Api, TestServer};

/// Ids of the demo town's units and accounts, by name or username.
pub struct Demo {
    pub ids: HashMap<String, String>,
}

impl Demo {
    pub async fn load(server: &TestServer) -> Demo {
        let admin = server.login("admin").await;
        let mut ids = HashMap::new();
        for path in ["/api/v1/districts", "/api/v1/towns", "/api/v1/villages"] {
            for unit in admin.get(path).await.body.as_array().unwrap() {
                ids.insert(unit["name"].as_str().unwrap().to_owned(), unit["id"].as_str().unwrap().to_owned());
            }
        }
        for account in admin.get("/api/v1/accounts").await.body.as_array().unwrap() {
            ids.insert(account["username"].as_str().unwrap().to_owned(), account["id"].as_str().unwrap().to_owned());
        }
        Demo { ids }
    }

    pub fn id(&self, name: &str) -> &str {
        self.ids.get(name).unwrap_or_else(|| panic!("no demo id for {name}"))
    }
}

/// A valid 18-character resident ID number with its check character.
pub fn id_number(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

/// The body of a neighbour dispute in 东平村 between two villagers.
pub fn case_body(demo: &Demo, village: &str) -> Value {
    json!({
        "village_id": demo.id(village),
        "category": "neighbour",
        "source": "party_application",
        "summary": "两户因宅基地边界的排水沟发生争执，要求重新确定排水走向。",
        "amount_yuan": "1200.50",
        "public_session": false,
        "parties": [
            { "name": "王大爷", "side": "applicant", "phone": "13800000001", "id_number": id_number("37232319500101123") },
            { "name": "李婶", "side": "respondent", "phone": "13800000002" }
        ]
    })
}

/// Registers a case and returns its file.
pub async fn register_case(api: &Api, demo: &Demo, village: &str) -> Value {
    let reply = api.post("/api/v1/cases", &case_body(demo, village)).await;
    assert_eq!(reply.status, 201, "registering a case: {}", reply.body);
    reply.body
}

/// An RFC 3339 time `minutes` from now.
pub fn in_minutes(minutes: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339()
}

/// Replaces `{NAME}` with `ids[NAME]` and `{n}` with `n` (so that each
/// create in a table test is unique).
pub fn fill(template: &str, ids: &HashMap<String, String>, n: usize) -> String {
    let mut text = template.replace("{n}", &n.to_string());
    for (name, id) in ids {
        text = text.replace(&format!("{{{name}}}"), id);
    }
    text
}
