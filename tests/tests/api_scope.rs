//! Authorization over real HTTP: a table of roles × endpoints, each row run
//! by an owner of the unit and by users of other towns, villages and
//! districts, with the status each must get.

use std::collections::HashMap;

use mediation_tests::fixtures::fill;
use mediation_tests::{Api, Db, TestServer, on_both_databases};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(roles_by_endpoints_table, lists_show_only_what_is_in_reach);

/// Everyone in the table, with a signed-in client each.
struct Town {
    actors: HashMap<&'static str, Api>,
    ids: HashMap<String, String>,
}

const ACTORS: [&str; 9] = [
    "admin",
    "district",
    "mediator1",
    "station-dongping",
    "adviser1",
    "mediator9",
    "station9",
    "district2",
    "adviser2",
];

async fn create(api: &Api, path: &str, body: Value) -> String {
    let reply = api.post(path, &body).await;
    assert_eq!(reply.status, 201, "POST {path}: {}", reply.body);
    reply.id()
}

async fn find(api: &Api, path: &str, name: &str) -> String {
    let reply = api.get(path).await;
    let list = reply.body.as_array().unwrap_or_else(|| panic!("GET {path}: {}", reply.body));
    list.iter()
        .find(|item| item["name"] == name || item["username"] == name)
        .unwrap_or_else(|| panic!("{name} not in {path}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The demo town (沾化区/下洼镇) plus a second town in the same district and a
/// second district, each with its own people.
async fn build(server: &TestServer) -> Town {
    let admin = server.login("admin").await;
    let mut ids = HashMap::new();
    let d1 = find(&admin, "/api/v1/districts", "沾化区").await;
    let t1 = find(&admin, "/api/v1/towns", "下洼镇").await;
    ids.insert("V1".to_owned(), find(&admin, "/api/v1/villages", "东平村").await);
    ids.insert("V1b".to_owned(), find(&admin, "/api/v1/villages", "哈喇村").await);
    ids.insert("mediator2".to_owned(), find(&admin, "/api/v1/accounts", "mediator2").await);
    ids.insert("station-dongping".to_owned(), find(&admin, "/api/v1/accounts", "station-dongping").await);
    ids.insert("station-hala".to_owned(), find(&admin, "/api/v1/accounts", "station-hala").await);

    let t2 =
        create(&admin, "/api/v1/towns", json!({ "district_id": d1, "name": "富源街道", "office_name": "富源调解室" }))
            .await;
    let v2 = create(
        &admin,
        "/api/v1/villages",
        json!({ "town_id": t2, "name": "前进村", "station_name": "前进村说事拉理室" }),
    )
    .await;
    let d2 = create(&admin, "/api/v1/districts", json!({ "name": "滨城区" })).await;
    let t3 =
        create(&admin, "/api/v1/towns", json!({ "district_id": d2, "name": "梁才街道", "office_name": "梁才调解室" }))
            .await;
    let vx = create(&admin, "/api/v1/villages", json!({ "town_id": t1, "name": "试点村" })).await;
    let password = "a-test-password";
    for (username, role, unit) in [
        ("mediator9", "mediator", &t2),
        ("station9", "station", &v2),
        ("district2", "district_admin", &d2),
        ("adviser2", "adviser", &d2),
        ("station-x", "station", &vx),
    ] {
        let id = create(
            &admin,
            "/api/v1/accounts",
            json!({ "username": username, "display_name": username, "role": role, "unit_id": unit, "password": password }),
        )
        .await;
        ids.insert(username.to_owned(), id);
    }
    ids.insert("D1".to_owned(), d1);
    ids.insert("T1".to_owned(), t1);
    ids.insert("T3".to_owned(), t3);
    ids.insert("Vx".to_owned(), vx);

    let mut actors = HashMap::new();
    for actor in ACTORS {
        let api = if ["mediator9", "station9", "district2", "adviser2"].contains(&actor) {
            server.login_with(actor, password).await
        } else {
            server.login(actor).await
        };
        actors.insert(actor, api);
    }
    Town { actors, ids }
}

struct Row {
    method: Method,
    /// `{NAME}` is replaced by the id of NAME.
    path: &'static str,
    /// Bodies of POST rows get `{n}` replaced so every create is unique.
    body: Option<&'static str>,
    /// Expected status per actor, in the order of `ACTORS`.
    expect: [u16; 9],
}

async fn roles_by_endpoints_table(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let town = build(&server).await;
    use Method as M;
    //  actors:  admin district mediator1 station-dongping adviser1 | mediator9 station9 district2 adviser2
    let rows = [
        Row {
            method: M::GET,
            path: "/api/v1/districts/{D1}",
            body: None,
            expect: [200, 200, 200, 200, 200, 200, 200, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/towns/{T1}",
            body: None,
            expect: [200, 200, 200, 200, 200, 403, 403, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/villages/{V1}",
            body: None,
            expect: [200, 200, 200, 200, 200, 403, 403, 403, 403],
        },
        Row {
            method: M::PATCH,
            path: "/api/v1/villages/{V1}",
            body: Some(r#"{"station_name":"东平村说事拉理室"}"#),
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/villages",
            body: Some(r#"{"town_id":"{T1}","name":"新村{n}"}"#),
            expect: [201, 201, 201, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/towns",
            body: Some(r#"{"district_id":"{D1}","name":"新镇{n}","office_name":"新镇调解室"}"#),
            expect: [201, 201, 403, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/villages/{Vx}/deactivate",
            body: Some("{}"),
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/towns?district_id={D1}",
            body: None,
            expect: [200, 200, 200, 200, 200, 200, 200, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/accounts/{mediator2}",
            body: None,
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/accounts/{station-dongping}",
            body: None,
            expect: [200, 200, 200, 200, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/accounts",
            body: Some(r#"{"username":"helper{n}","display_name":"帮手","role":"station","unit_id":"{V1b}"}"#),
            expect: [201, 201, 201, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/accounts",
            body: Some(r#"{"username":"med{n}","display_name":"调解员","role":"mediator","unit_id":"{T1}"}"#),
            expect: [201, 201, 403, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::PATCH,
            path: "/api/v1/accounts/{station-hala}",
            body: Some(r#"{"display_name":"哈喇村说事拉理室"}"#),
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/accounts/{station-hala}/password",
            body: Some("{}"),
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::POST,
            path: "/api/v1/accounts/{station-x}/deactivate",
            body: Some("{}"),
            expect: [200, 200, 200, 403, 403, 403, 403, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/accounts?unit_id={T1}",
            body: None,
            expect: [200, 200, 200, 403, 200, 403, 403, 403, 403],
        },
        Row {
            method: M::GET,
            path: "/api/v1/towns/{T3}",
            body: None,
            expect: [200, 403, 403, 403, 403, 403, 403, 200, 200],
        },
    ];

    let mut failures = Vec::new();
    let mut n = 0;
    for row in &rows {
        for (actor, expected) in ACTORS.iter().zip(row.expect) {
            n += 1;
            let path = fill(row.path, &town.ids, n);
            let body = row.body.map(|template| serde_json::from_str::<Value>(&fill(template, &town.ids, n)).unwrap());
            let reply = town.actors[actor].send(row.method.clone(), &path, body.as_ref()).await;
            if reply.status != expected {
                failures.push(format!(
                    "{actor} {} {}: expected {expected}, got {} {}",
                    row.method, row.path, reply.status, reply.body
                ));
            } else if expected == 403 {
                reply.assert_error(403, "forbidden");
            }
        }
    }
    assert!(failures.is_empty(), "authorization table mismatches:\n{}", failures.join("\n"));
}

fn names(reply: &mediation_tests::Reply, key: &str) -> Vec<String> {
    let mut names: Vec<String> =
        reply.body.as_array().unwrap().iter().map(|item| item[key].as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

async fn lists_show_only_what_is_in_reach(db: Db) {
    let server = TestServer::start(db, &[]).await;
    let town = build(&server).await;
    let a = &town.actors;
    assert_eq!(names(&a["mediator1"].get("/api/v1/villages").await, "name"), ["东平村", "后孙村", "哈喇村", "试点村"]);
    assert_eq!(names(&a["mediator9"].get("/api/v1/villages").await, "name"), ["前进村"]);
    assert_eq!(names(&a["station-dongping"].get("/api/v1/villages").await, "name"), ["东平村"]);
    assert_eq!(names(&a["station-dongping"].get("/api/v1/towns").await, "name"), ["下洼镇"]);
    assert_eq!(names(&a["station-dongping"].get("/api/v1/accounts").await, "username"), ["station-dongping"]);
    assert_eq!(names(&a["adviser1"].get("/api/v1/accounts").await, "username"), ["adviser1"]);
    assert_eq!(names(&a["district2"].get("/api/v1/towns").await, "name"), ["梁才街道"]);
    assert_eq!(names(&a["district2"].get("/api/v1/districts").await, "name"), ["滨城区"]);
    assert_eq!(names(&a["admin"].get("/api/v1/districts").await, "name"), ["沾化区", "滨城区"]);
    let mediator_sees = names(&a["mediator1"].get("/api/v1/accounts").await, "username");
    assert_eq!(
        mediator_sees,
        ["mediator1", "mediator2", "station-dongping", "station-hala", "station-housun", "station-x"],
        "a mediator sees the accounts of the town, not the district's or the admin"
    );
    let advisers = names(&a["mediator1"].get("/api/v1/accounts?role=adviser").await, "username");
    assert_eq!(advisers, ["adviser1"], "a mediator sees the district's advisers, whom they invite");
    let district_sees = names(&a["district"].get("/api/v1/accounts?role=mediator").await, "username");
    assert_eq!(district_sees, ["mediator1", "mediator2", "mediator9"]);
}
