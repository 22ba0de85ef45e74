//! What happened to a ticket, as the world outside the desk hears of it: the one list of event
//! types that the outbox, webhooks, mail and (later) the console's live updates share. The
//! audit trail (`store::events`) records finer kinds; each maps to one of these.

/// A notifying ticket event's type; its name is the webhook's `type` and the outbox's
/// `event_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketEvent {
    Created,
    CustomerCommented,
    AgentReplied,
    /// An internal note: staff channels only, never a customer's.
    NoteAdded,
    StatusChanged,
    Assigned,
    /// Priority, category or tags changed.
    Updated,
}

impl TicketEvent {
    pub const ALL: [Self; 7] = [
        Self::Created,
        Self::CustomerCommented,
        Self::AgentReplied,
        Self::NoteAdded,
        Self::StatusChanged,
        Self::Assigned,
        Self::Updated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Created => "ticket.created",
            Self::CustomerCommented => "ticket.customer_commented",
            Self::AgentReplied => "ticket.agent_replied",
            Self::NoteAdded => "ticket.note_added",
            Self::StatusChanged => "ticket.status_changed",
            Self::Assigned => "ticket.assigned",
            Self::Updated => "ticket.updated",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether a customer may learn of it by any channel.
    pub fn customer_visible(self) -> bool {
        self != Self::NoteAdded
    }
}

/// A committed event, as published to this process's subscribers after its outbox row is
/// dispatched (the console's live updates subscribe here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The outbox row's id: stable across redeliveries.
    pub delivery_id: i64,
    pub event_id: i64,
    pub ticket_id: i64,
    pub event: TicketEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_notes_stay_with_staff() {
        for e in TicketEvent::ALL {
            assert_eq!(TicketEvent::from_name(e.name()), Some(e));
        }
        assert_eq!(TicketEvent::from_name("ticket.deleted"), None);
        assert!(!TicketEvent::NoteAdded.customer_visible());
        assert!(TicketEvent::AgentReplied.customer_visible());
    }
}
