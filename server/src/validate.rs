//! Checks on input fields, shared by the REST API and the shell commands.
//! Each failure is a `FieldError` naming the field and saying what is
//! wanted; the HTTP edge answers it with 422 `validation_failed`.

use serde::{Deserialize, Deserializer};

/// A field that does not meet its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

pub type Checked<T> = Result<T, FieldError>;

/// Trimmed text of 1 to `max_chars` characters, without control characters.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Checked<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(FieldError::new(field, format!("must be at most {max_chars} characters")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Like `required_text`, but absent or blank text means none.
pub fn optional_text(field: &str, value: Option<&str>, max_chars: usize) -> Checked<Option<String>> {
    match value {
        Some(text) if !text.trim().is_empty() => required_text(field, text, max_chars).map(Some),
        _ => Ok(None),
    }
}

/// Usernames are case-insensitive: stored lower-case, 2 to 64 characters of
/// a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
pub fn username(value: &str) -> Checked<String> {
    let name = value.trim().to_lowercase();
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    let valid_start = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !(2..=64).contains(&name.len()) || !valid_chars || !valid_start {
        return Err(FieldError::new(
            "username",
            "use 2 to 64 characters: letters a-z, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    Ok(name)
}

pub fn password(field: &str, value: &str) -> Checked<String> {
    let length = value.chars().count();
    if !(8..=128).contains(&length) {
        return Err(FieldError::new(field, "must be 8 to 128 characters long"));
    }
    Ok(value.to_owned())
}

/// A phone number as people write it: digits with optional '+', '-' and spaces.
pub fn phone(field: &str, value: Option<&str>) -> Checked<Option<String>> {
    let Some(text) = value.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c));
    if !allowed || !(3..=20).contains(&digits) || text.len() > 32 {
        return Err(FieldError::new(field, "must be a phone number: 3 to 20 digits, '+', '-' or spaces"));
    }
    Ok(Some(text.to_owned()))
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null`
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "...")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A calendar date (`YYYY-MM-DD`) that must not lie after `latest`.
pub fn not_after(field: &str, date: chrono::NaiveDate, latest: chrono::NaiveDate) -> Checked<chrono::NaiveDate> {
    if date > latest {
        return Err(FieldError::new(field, format!("must not be after {latest}")));
    }
    Ok(date)
}

/// A calendar date that must not lie before `earliest`.
pub fn not_before(field: &str, date: chrono::NaiveDate, earliest: chrono::NaiveDate) -> Checked<chrono::NaiveDate> {
    if date < earliest {
        return Err(FieldError::new(field, format!("must not be before {earliest}")));
    }
    Ok(date)
}
