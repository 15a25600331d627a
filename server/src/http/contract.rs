//! What the API document says of request text beyond each field's own
//! annotations: the character rules of `validate::required_text` and
//! `validate::optional_text`, put in one place on every string field of a
//! request body that has no pattern, format or enum of its own. A field
//! annotated with a `minLength` is required text; any other may be blank.
//! Passwords (`format: password`) and text in query parameters may hold
//! any character but NUL, which no text may hold (`http::Json`,
//! `http::Query`).

use serde_json::{Map, Value};

use crate::validate::{OPTIONAL_TEXT_PATTERN, REQUIRED_TEXT_PATTERN};

/// Anything but NUL: passwords, and text in query parameters (which is
/// searched for, not stored).
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// Adds the text patterns to the request bodies of `doc`.
pub fn describe_text_rules(doc: &mut utoipa::openapi::OpenApi) {
    let Ok(mut value) = serde_json::to_value(&*doc) else { return };
    let mut requested = Vec::new();
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
            if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
                for parameter in parameters.iter_mut().filter(|p| p.get("in").is_some_and(|at| at == "query")) {
                    let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) else { continue };
                    let plain = !["pattern", "format", "enum", "const"].iter().any(|key| schema.contains_key(*key));
                    if is_text(schema) && plain {
                        schema.insert("pattern".into(), Value::String(NO_NUL_PATTERN.into()));
                    }
                }
            }
            let Some(content) = operation.pointer_mut("/requestBody/content").and_then(Value::as_object_mut) else {
                continue;
            };
            for media in content.values_mut() {
                if let Some(schema) = media.get_mut("schema") {
                    mark(schema, &mut requested);
                }
            }
        }
    }
    let mut done = Vec::new();
    while let Some(name) = requested.pop() {
        if done.contains(&name) {
            continue;
        }
        let pointer = format!("/components/schemas/{name}");
        if let Some(schema) = value.pointer_mut(&pointer) {
            mark(schema, &mut requested);
        }
        done.push(name);
    }
    if let Ok(described) = serde_json::from_value(value) {
        *doc = described;
    }
}

/// Puts the text rule on `schema` if it is plain text, and walks into its
/// properties and items; referenced components are noted in `requested`.
fn mark(schema: &mut Value, requested: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        requested.push(name.to_owned());
        return;
    }
    if is_text(object) && !object.contains_key("pattern") {
        let required = object.get("minLength").and_then(Value::as_u64).is_some_and(|min| min >= 1);
        let pattern = match object.get("format").and_then(Value::as_str) {
            Some("password") => Some(NO_NUL_PATTERN),
            Some(_) => None,
            None if ["enum", "const"].iter().any(|key| object.contains_key(*key)) => None,
            None if required => Some(REQUIRED_TEXT_PATTERN),
            None => Some(OPTIONAL_TEXT_PATTERN),
        };
        if let Some(pattern) = pattern {
            object.insert("pattern".into(), Value::String(pattern.into()));
        }
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(|property| mark(property, requested));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key) {
            mark(inner, requested);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(variants) = object.get_mut(key).and_then(Value::as_array_mut) {
            variants.iter_mut().for_each(|variant| mark(variant, requested));
        }
    }
}

/// A string schema (possibly nullable).
fn is_text(object: &Map<String, Value>) -> bool {
    match object.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "string"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    /// The two patterns say what `validate` accepts, on the edges that matter.
    #[test]
    fn the_patterns_agree_with_the_checks() {
        let required = Regex::new(REQUIRED_TEXT_PATTERN).unwrap();
        let optional = Regex::new(OPTIONAL_TEXT_PATTERN).unwrap();
        for text in ["a", " a ", "调解\n第二行\t", "\u{3000}张三"] {
            assert!(required.is_match(text), "{text:?}");
            assert!(crate::validate::required_text("f", text, 100).is_ok(), "{text:?}");
        }
        for text in ["", "   ", "\u{3000}", "a\u{0}", "\ra", "a\u{7f}", "\u{85}"] {
            assert!(!required.is_match(text), "{text:?}");
            assert!(crate::validate::required_text("f", text, 100).is_err(), "{text:?}");
        }
        for text in ["", "  ", "a"] {
            assert!(optional.is_match(text));
            assert!(crate::validate::optional_text("f", Some(text), 100).is_ok(), "{text:?}");
        }
        for text in ["\u{0}", "a\u{1b}"] {
            assert!(!optional.is_match(text));
            assert!(crate::validate::optional_text("f", Some(text), 100).is_err(), "{text:?}");
        }
    }

    #[test]
    fn request_text_gets_the_rule_and_other_strings_do_not() {
        let value = serde_json::to_value(crate::http::openapi()).unwrap();
        let property = |schema: &str, field: &str| {
            value.pointer(&format!("/components/schemas/{schema}/properties/{field}")).cloned()
        };
        let summary = property("RegisterCase", "summary").expect("a request field");
        assert_eq!(summary["pattern"], REQUIRED_TEXT_PATTERN);
        let name = property("NewParty", "name").expect("a nested request field");
        assert_eq!(name["pattern"], REQUIRED_TEXT_PATTERN);
        let reason = property("RescheduleBody", "reason").expect("optional text");
        assert_eq!(reason["pattern"], OPTIONAL_TEXT_PATTERN);
        let username = property("CreateAccount", "username").expect("its own pattern");
        assert_ne!(username["pattern"], REQUIRED_TEXT_PATTERN);
        let password = property("CreateAccount", "password").expect("a password");
        assert_eq!(password["pattern"], NO_NUL_PATTERN);
    }
}
