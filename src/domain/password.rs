//! Password rules for self-registration, with Django's messages (all problems at once).

use serde_json::Value as Json;

use crate::domain::fields::{self, Raw};

/// Shortest password accepted.
pub const MIN_CHARS: usize = 8;
/// Longest password accepted (Argon2 handles more; nobody types more).
pub const MAX_CHARS: usize = 256;

/// A few of the most used passwords; a real list would be longer, the rule is the same.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "11111111",
    "00000000",
    "abc12345",
    "letmein1",
    "welcome1",
    "admin123",
    "passw0rd",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "changeme",
];

/// The one way a password field is read: exactly as sent, never trimmed (trimming would change
/// the secret); required, a string, not empty.
pub fn field(raw: Option<&Raw>) -> Result<String, &'static str> {
    match raw {
        None => Err(fields::REQUIRED),
        Some(Raw::Json(Json::Null)) => Err(fields::NULL),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if s.is_empty() => Err(fields::BLANK),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) => Ok(s.clone()),
        Some(Raw::Json(_)) => Err(fields::NOT_A_STRING),
    }
}

/// An optional password field (a reset): absent is `None`, present is read as [`field`].
pub fn optional_field(raw: Option<&Raw>) -> Result<Option<String>, &'static str> {
    raw.map(|raw| field(Some(raw))).transpose()
}

/// Every rule the password breaks, empty when it is acceptable.
pub fn problems(password: &str, email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_CHARS} characters."
        ));
    }
    if chars > MAX_CHARS {
        problems.push(format!(
            "Ensure this field has no more than {MAX_CHARS} characters."
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        problems.push("This password is too common.".to_owned());
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".to_owned());
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        problems.push("The password is too similar to the email.".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_get_every_applicable_message() {
        assert!(problems("correct horse battery", "alice@example.com").is_empty());
        assert_eq!(problems("1234567", "a@b.c").len(), 2, "short and numeric");
        assert_eq!(
            problems("Password", "x@y.z"),
            vec!["This password is too common."]
        );
        assert_eq!(
            problems("alice-in-wonderland", "Alice@example.com"),
            vec!["The password is too similar to the email."]
        );
        assert_eq!(problems(&"x".repeat(257), "a@b.c").len(), 1);
    }
}
