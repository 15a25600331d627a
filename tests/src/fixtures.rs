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

/// A case in 东平村 with a video session: the 东平 station, adviser1, and
/// its second party on their own device with an invitation.
pub struct VideoSession {
    pub case_id: String,
    pub session_id: String,
    pub party_id: String,
    pub invitation_id: String,
    pub party_token: String,
}

pub async fn video_session(mediator: &Api, demo: &Demo) -> VideoSession {
    let file = register_case(mediator, demo, "东平村").await;
    let case_id = file["case"]["id"].as_str().unwrap().to_owned();
    let party_id = file["parties"][1]["id"].as_str().unwrap().to_owned();
    let session = mediator
        .post(
            &format!("/api/v1/cases/{case_id}/sessions"),
            &json!({ "planned_start": in_minutes(10), "planned_minutes": 60, "mode": "video",
                     "station_ids": [demo.id("station-dongping")], "adviser_ids": [demo.id("adviser1")],
                     "party_ids": [party_id] }),
        )
        .await;
    assert_eq!(session.status, 201, "scheduling: {}", session.body);
    let invitation =
        session.body["participants"].as_array().unwrap().iter().find(|p| p["kind"] == "party").unwrap()["invitation"]
            .clone();
    VideoSession {
        case_id,
        session_id: session.body["id"].as_str().unwrap().to_owned(),
        party_id,
        invitation_id: invitation["id"].as_str().unwrap().to_owned(),
        party_token: invitation["link"].as_str().unwrap().split("#t=").nth(1).unwrap().to_owned(),
    }
}
