//! What the case rules refuse, in the domain's own words. The edges map
//! each kind to their vocabulary: HTTP to a status and code, the room to a
//! protocol error code.

use crate::validate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The action does not fit the record's current state.
    #[error("{0}")]
    InvalidState(String),
    /// The request was based on a version of the record that has changed.
    #[error("{0}")]
    Stale(String),
    /// The same thing was already done (a second confirmation, ...).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A field of the request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] FieldError),
}

impl RuleError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        RuleError::Invalid(FieldError::new(field, message))
    }
}
