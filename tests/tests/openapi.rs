//! The OpenAPI document is served, describes the whole REST API, and every
//! schema it refers to is defined in it.

use std::collections::BTreeSet;

use mediation_tests::{Db, TestServer};
use serde_json::Value;

fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    found.insert(inner.as_str().unwrap().to_owned());
                }
                refs(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_covers_the_api() {
    let server = TestServer::start(Db::Sqlite, &[]).await;
    let doc = server.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/{collection}",
        "/api/v1/accounts/{id}/deactivate",
        "/api/v1/cases",
        "/api/v1/cases/{id}/outcome",
        "/api/v1/cases/{id}/agreement/confirmations",
        "/api/v1/cases/{id}/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/invitations/{id}/revoke",
        "/api/v1/invitation",
        "/api/v1/consultations",
        "/api/v1/stats",
        "/api/v1/audit/verify",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "{path} is described");
    }
    let operations: usize = paths.values().map(|item| item.as_object().unwrap().len()).sum();
    assert!(operations >= 44, "{operations} operations described");

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    for reference in found {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "{reference} is defined");
    }
    for schema in ["Case", "CaseFile", "RegisterCase", "Statistics", "ErrorBody", "AuditEvent", "Category"] {
        assert!(schemas.contains_key(schema), "{schema} is among the schemas");
    }
    assert_eq!(schemas["Category"]["enum"].as_array().unwrap().len(), 13);
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
