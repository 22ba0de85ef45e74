//! Tickets: priorities, statuses and the transitions a customer may ask for.

use crate::domain::fields::Choice;

/// `1` Low, `2` Medium, `3` High; sent and returned as strings, stored as the integer code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "i64")]
pub enum Priority {
    Low = 1,
    Medium = 2,
    High = 3,
}

impl Choice for Priority {
    const CHOICES: &'static [(&'static str, Self)] =
        &[("1", Self::Low), ("2", Self::Medium), ("3", Self::High)];
}

impl TryFrom<i64> for Priority {
    type Error = String;

    fn try_from(code: i64) -> Result<Self, String> {
        Self::CHOICES
            .iter()
            .find(|(_, p)| p.code() == code)
            .map(|(_, p)| *p)
            .ok_or_else(|| format!("no priority {code}"))
    }
}

impl Priority {
    pub fn code(self) -> i64 {
        self as i64
    }
}

/// `1` Open, `2` Processing, `3` Closed; sent and returned as strings, stored as the integer
/// code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "i64")]
pub enum Status {
    Open = 1,
    Processing = 2,
    Closed = 3,
}

impl Choice for Status {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("1", Self::Open),
        ("2", Self::Processing),
        ("3", Self::Closed),
    ];
}

impl TryFrom<i64> for Status {
    type Error = String;

    fn try_from(code: i64) -> Result<Self, String> {
        Self::CHOICES
            .iter()
            .find(|(_, s)| s.code() == code)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("no status {code}"))
    }
}

impl Status {
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Open and Processing tickets count against the open-ticket limit.
    pub fn is_open(self) -> bool {
        self != Self::Closed
    }
}

/// What a customer may ask of endpoint 9: `2` reopen, `3` close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerStatusRequest {
    Reopen,
    Close,
}

impl Choice for CustomerStatusRequest {
    const CHOICES: &'static [(&'static str, Self)] = &[("2", Self::Reopen), ("3", Self::Close)];
}

/// Why a status change cannot happen: the contract's messages for endpoint 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionRefused {
    AlreadyClosed,
    AlreadyProcessing,
    AlreadyOpen,
}

impl TransitionRefused {
    pub fn message(self) -> &'static str {
        match self {
            Self::AlreadyClosed => "Ticket is already closed.",
            Self::AlreadyProcessing => "Ticket is already processing.",
            Self::AlreadyOpen => "Ticket is already open.",
        }
    }
}

/// The status a customer's request leads to, or why it is refused. Reopening lands in
/// Processing: the ticket has been worked on before.
pub fn customer_transition(
    current: Status,
    request: CustomerStatusRequest,
) -> Result<Status, TransitionRefused> {
    match (request, current) {
        (CustomerStatusRequest::Close, Status::Closed) => Err(TransitionRefused::AlreadyClosed),
        (CustomerStatusRequest::Close, _) => Ok(Status::Closed),
        (CustomerStatusRequest::Reopen, Status::Open) => Err(TransitionRefused::AlreadyOpen),
        (CustomerStatusRequest::Reopen, Status::Processing) => {
            Err(TransitionRefused::AlreadyProcessing)
        }
        (CustomerStatusRequest::Reopen, Status::Closed) => Ok(Status::Processing),
    }
}

/// Folds a subject for the case-insensitive substring filter. Done in Rust (not by the
/// database's `lower()`, which is ASCII-only on SQLite) so both backends match alike; the final
/// sigma is folded to the ordinary one so that `Σ` finds `ς`.
pub fn fold_subject(text: &str) -> String {
    text.to_lowercase().replace('ς', "σ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_and_reopening_follow_the_contract() {
        use CustomerStatusRequest::*;
        assert_eq!(customer_transition(Status::Open, Close), Ok(Status::Closed));
        assert_eq!(
            customer_transition(Status::Processing, Close),
            Ok(Status::Closed)
        );
        assert_eq!(
            customer_transition(Status::Closed, Close),
            Err(TransitionRefused::AlreadyClosed)
        );
        assert_eq!(
            customer_transition(Status::Closed, Reopen),
            Ok(Status::Processing)
        );
        assert_eq!(
            customer_transition(Status::Open, Reopen),
            Err(TransitionRefused::AlreadyOpen)
        );
        assert_eq!(
            customer_transition(Status::Processing, Reopen),
            Err(TransitionRefused::AlreadyProcessing)
        );
    }

    #[test]
    fn subject_folding_is_unicode_aware() {
        assert_eq!(fold_subject("ÄRGER mit Straße"), "ärger mit straße");
        assert!(fold_subject("ΟΔΟΣ").contains(&fold_subject("οδος")));
    }
}
