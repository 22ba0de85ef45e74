//! People and their roles.

use std::fmt;
use std::str::FromStr;

use crate::domain::fields::{self, Choice, Raw};

/// What a person may do: customers file tickets, agents work the queue, admins run the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Customer,
    Agent,
    Admin,
}

impl Choice for Role {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("customer", Self::Customer),
        ("agent", Self::Agent),
        ("admin", Self::Admin),
    ];
}

impl Role {
    pub fn as_str(self) -> &'static str {
        self.code_text()
    }

    /// Agents and admins: the people who may see every ticket.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Agent | Self::Admin)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code_text(s)
            .ok_or_else(|| format!("unknown role {s:?}: expected customer, agent or admin"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API key may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// The customer endpoints (and sign-in) only.
    Customer,
    /// The staff routes too.
    All,
}

impl Choice for KeyScope {
    const CHOICES: &'static [(&'static str, Self)] =
        &[("customer", Self::Customer), ("all", Self::All)];
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        self.code_text()
    }

    /// Reads the stored text; anything unknown is the narrower scope.
    pub fn from_stored(text: &str) -> Self {
        Self::from_code_text(text).unwrap_or(Self::Customer)
    }
}

impl FromStr for KeyScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code_text(s)
            .ok_or_else(|| format!("unknown scope {s:?}: expected customer or all"))
    }
}

/// The signed-in person a request acts for.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

/// Emails are compared case-insensitively and by what they look like: stored trimmed, folded to
/// Unicode NFKC (full-width `ａ` is `a`, a ligature its letters) and lower-cased.
pub fn normalize_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = email.trim().nfkc().collect();
    // Lower-casing can leave text that NFKC would change again; fold once more.
    folded.to_lowercase().nfkc().collect()
}

/// A deliberately loose check (one `@`, something on each side, no spaces or control
/// characters such as U+0000): the desk is told
/// emails by administrators and host platforms, and a stricter rule would only refuse real ones.
pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.chars().count() <= 254
        }
        None => false,
    }
}

pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const INVISIBLE_IN_EMAIL: &str = "Email addresses may not contain invisible characters.";
pub const MIXED_SCRIPT_EMAIL: &str =
    "Email addresses may not mix scripts (such as Latin and Cyrillic) in one part.";

/// What makes a (normalized) email a spoofing risk: invisible characters (format characters
/// such as zero-width spaces and bidirectional controls, or controls), or a part that mixes
/// scripts (`\u{430}lice`, a Cyrillic `а` among Latin letters). Each part is checked on its
/// own, the local part and each label of the domain, so an address wholly in one script works
/// on a domain in another. Digits and punctuation belong to every script; Han with Hiragana or
/// Katakana, and Han with Hangul, count as one script (UTS #39).
pub fn email_problem(email: &str) -> Option<&'static str> {
    use unicode_security::MixedScript;
    if email.chars().any(crate::domain::unicode::is_invisible) {
        return Some(INVISIBLE_IN_EMAIL);
    }
    let (local, domain) = email.split_once('@')?;
    let mixed = std::iter::once(local)
        .chain(domain.split('.'))
        .any(|part| !part.is_single_script());
    mixed.then_some(MIXED_SCRIPT_EMAIL)
}

/// The check every new email passes (registration, administrators, the command line, host
/// platforms): plausible, and no spoofing risk. `Err` holds the message for the `email` field.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    if !is_plausible_email(email) {
        return Err(INVALID_EMAIL);
    }
    email_problem(email).map_or(Ok(()), Err)
}

/// Most characters in an email (RFC 5321's path limit).
pub const EMAIL_MAX_CHARS: usize = 254;

/// The one way an email field is read: a text field, folded by [`normalize_email`], and refused
/// when it is a spoofing risk ([`email_problem`]); for a `new_account`, also when implausible
/// ([`check_email`]). Sign-in leaves the shape to the lookup: a wrong email simply fails.
pub fn email_field(raw: Option<&Raw>, new_account: bool) -> Result<String, String> {
    let email = normalize_email(&fields::text(raw, EMAIL_MAX_CHARS)?);
    let verdict = if new_account {
        check_email(&email)
    } else {
        email_problem(&email).map_or(Ok(()), Err)
    };
    verdict.map_err(str::to_owned)?;
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_and_invisible_emails_are_refused_and_full_width_ones_folded() {
        assert_eq!(
            normalize_email(" \u{FF21}lice@Example.COM "),
            "alice@example.com"
        );
        assert_eq!(check_email("alice@example.com"), Ok(()));
        assert_eq!(
            check_email("\u{438}\u{432}\u{430}\u{43d}@example.com"),
            Ok(())
        );
        assert_eq!(
            check_email("\u{5c71}\u{7530}\u{305f}\u{308d}\u{3046}@example.jp"),
            Ok(())
        );
        assert_eq!(check_email("x1-2_3@mail-2.example.com"), Ok(()));
        assert_eq!(
            check_email("\u{430}lice@example.com"),
            Err(MIXED_SCRIPT_EMAIL)
        );
        assert_eq!(
            check_email("alice@ex\u{430}mple.com"),
            Err(MIXED_SCRIPT_EMAIL)
        );
        for invisible in ["al\u{200b}ice@example.com", "alice\u{202e}@example.com"] {
            assert_eq!(check_email(invisible), Err(INVISIBLE_IN_EMAIL));
        }
        assert_eq!(check_email("nobody"), Err(INVALID_EMAIL));
    }
}
