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

/// What the API document says of text the server requires
/// (`required_text`): some character that is not white space, and no
/// control characters but newline and tab. `http::contract` puts it on
/// every request field with a `minLength`.
pub const REQUIRED_TEXT_PATTERN: &str =
    r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b-\x1f\x7f-\x9f]*$";
/// The same for text that may be left blank (`optional_text`).
pub const OPTIONAL_TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$";

/// A whole number, also when a client writes it as `2000.0` (JSON does not
/// tell integers from other numbers, and the API document's `integer`
/// allows it).
pub fn whole_number<'de, D>(deserializer: D) -> Result<i32, D::Error>
where
    D: Deserializer<'de>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole =
        number.as_i64().or_else(|| number.as_f64().filter(|n| n.fract() == 0.0 && n.abs() < 1e15).map(|n| n as i64));
    whole
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, got {number}")))
}

/// `whole_number` for a field that may be left out.
pub fn optional_whole_number<'de, D>(deserializer: D) -> Result<Option<i32>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] i32);
    Ok(Option::<Whole>::deserialize(deserializer)?.map(|Whole(n)| n))
}

/// Text of at most `max_chars` characters, without control characters but
/// newline and tab, and not blank; stored trimmed. (The limits apply to the
/// text as sent, so that the API document's `maxLength` and pattern say
/// exactly what passes.)
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Checked<String> {
    let text = optional_text(field, Some(value), max_chars)?;
    text.ok_or_else(|| FieldError::new(field, "must not be empty"))
}

/// Like `required_text`, but absent or blank text means none.
pub fn optional_text(field: &str, value: Option<&str>, max_chars: usize) -> Checked<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    if value.chars().count() > max_chars {
        return Err(FieldError::new(field, format!("must be at most {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    let trimmed = value.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
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
    if value.is_some_and(|text| text.chars().count() > 32) {
        return Err(FieldError::new(field, "must be a phone number of at most 32 characters"));
    }
    let Some(text) = value.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let allowed = text.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c));
    if !allowed || !(3..=20).contains(&digits) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Minutes {
        #[serde(deserialize_with = "whole_number")]
        minutes: i32,
        #[serde(default, deserialize_with = "optional_whole_number")]
        more: Option<i32>,
    }

    #[test]
    fn whole_numbers_may_be_written_with_a_zero_fraction() {
        let parsed: Minutes = serde_json::from_str(r#"{"minutes": 90.0, "more": 5}"#).unwrap();
        assert_eq!((parsed.minutes, parsed.more), (90, Some(5)));
        let parsed: Minutes = serde_json::from_str(r#"{"minutes": 90}"#).unwrap();
        assert_eq!((parsed.minutes, parsed.more), (90, None));
        for refused in [r#"{"minutes": 90.5}"#, r#"{"minutes": "90"}"#, r#"{"minutes": 3000000000}"#] {
            assert!(serde_json::from_str::<Minutes>(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn limits_apply_to_the_text_as_sent() {
        assert_eq!(required_text("f", "  ab  ", 6).unwrap(), "ab");
        assert!(required_text("f", "  ab  ", 5).is_err(), "six characters as sent");
        assert!(required_text("f", "\rab", 10).is_err(), "a control character, even at the edge");
        assert_eq!(optional_text("f", Some("   "), 10).unwrap(), None);
        assert!(optional_text("f", Some("\u{0}"), 10).is_err());
        assert!(phone("phone", Some(&" ".repeat(33))).is_err(), "blank, but longer than 32");
        assert_eq!(phone("phone", Some("  ")).unwrap(), None);
        assert_eq!(phone("phone", Some("+86 138-0000-0000")).unwrap().as_deref(), Some("+86 138-0000-0000"));
    }
}
