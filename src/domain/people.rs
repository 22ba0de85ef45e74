//! People and their roles.

use std::fmt;
use std::str::FromStr;

/// What a person may do: customers file tickets, agents work the queue, admins run the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Customer,
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    /// Agents and admins: the people who may see every ticket.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Agent | Self::Admin)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "agent" => Ok(Self::Agent),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown role {other:?}: expected customer, agent or admin"
            )),
        }
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

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::All => "all",
        }
    }

    /// Reads the stored text; anything unknown is the narrower scope.
    pub fn from_stored(text: &str) -> Self {
        if text == "all" {
            Self::All
        } else {
            Self::Customer
        }
    }
}

impl FromStr for KeyScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "all" => Ok(Self::All),
            other => Err(format!("unknown scope {other:?}: expected customer or all")),
        }
    }
}

/// The signed-in person a request acts for.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

/// Emails are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A deliberately loose check (one `@`, something on each side, no spaces): the desk is told
/// emails by administrators and host platforms, and a stricter rule would only refuse real ones.
pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
                && email.chars().count() <= 254
        }
        None => false,
    }
}
