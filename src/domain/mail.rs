//! Who is mailed about what, and the text rules every mail header obeys. No SMTP and no SQL
//! here: the dispatcher's fan-out (`services::notify::mail`) asks these rules, the store finds
//! the people they name.

use super::events::TicketEvent;
use super::people::Role;

/// Who hears of an event by email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The ticket's author.
    Customer,
    /// The assignee; every active agent and administrator while the ticket is unassigned.
    Staff,
    Nobody,
}

/// What the rule needs to know of one event.
#[derive(Clone, Copy, Debug)]
pub struct Happened {
    pub event: TicketEvent,
    /// The role of the person who made the change.
    pub actor: Role,
    /// A status change made by the same write as a reply (the first reply moves an Open ticket
    /// to Processing): the reply's own mail tells the customer, a second would be noise.
    pub came_with_reply: bool,
}

/// The default rule: the customer on an agent reply and on a status change made by staff; the
/// assignee (everyone on staff when unassigned) on a new ticket and on a customer comment.
/// Internal notes, assignments and field updates send no mail, and a note never reaches a
/// customer by any rule.
pub fn audience(happened: Happened) -> Audience {
    match happened.event {
        TicketEvent::AgentReplied => Audience::Customer,
        TicketEvent::StatusChanged if happened.actor.is_staff() && !happened.came_with_reply => {
            Audience::Customer
        }
        TicketEvent::Created | TicketEvent::CustomerCommented => Audience::Staff,
        TicketEvent::StatusChanged
        | TicketEvent::NoteAdded
        | TicketEvent::Assigned
        | TicketEvent::Updated => Audience::Nobody,
    }
}

/// `text` as one header-safe line: every control character (CR and LF above all, which would
/// end the header and let the text write headers of its own) becomes a space, runs of white
/// space become one, and the ends are trimmed.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for ch in text.chars() {
        if ch.is_control() || ch.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(ch);
    }
    out
}

/// The subject of every mail about ticket `id`: `[#<id>] <ticket subject>`.
pub fn subject(id: i64, ticket_subject: &str) -> String {
    format!("[#{id}] {}", one_line(ticket_subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(event: TicketEvent, actor: Role, came_with_reply: bool) -> Audience {
        audience(Happened {
            event,
            actor,
            came_with_reply,
        })
    }

    #[test]
    fn customers_hear_of_replies_and_staff_status_changes_only() {
        assert_eq!(
            rule(TicketEvent::AgentReplied, Role::Agent, false),
            Audience::Customer
        );
        assert_eq!(
            rule(TicketEvent::StatusChanged, Role::Admin, false),
            Audience::Customer
        );
        // The customer closing their own ticket, and the reply's own status change.
        assert_eq!(
            rule(TicketEvent::StatusChanged, Role::Customer, false),
            Audience::Nobody
        );
        assert_eq!(
            rule(TicketEvent::StatusChanged, Role::Agent, true),
            Audience::Nobody
        );
        for quiet in [
            TicketEvent::NoteAdded,
            TicketEvent::Assigned,
            TicketEvent::Updated,
        ] {
            for actor in [Role::Customer, Role::Agent, Role::Admin] {
                assert_eq!(rule(quiet, actor, false), Audience::Nobody, "{quiet:?}");
            }
        }
    }

    #[test]
    fn staff_hear_of_new_tickets_and_customer_comments() {
        assert_eq!(
            rule(TicketEvent::Created, Role::Customer, false),
            Audience::Staff
        );
        assert_eq!(
            rule(TicketEvent::CustomerCommented, Role::Customer, false),
            Audience::Staff
        );
    }

    #[test]
    fn a_note_never_reaches_a_customer_whoever_writes_it() {
        for actor in [Role::Customer, Role::Agent, Role::Admin] {
            for with_reply in [false, true] {
                assert_ne!(
                    rule(TicketEvent::NoteAdded, actor, with_reply),
                    Audience::Customer
                );
            }
        }
    }

    #[test]
    fn header_text_is_one_line() {
        assert_eq!(
            one_line("Help\r\nBcc: victim@example.com\r\n\r\nbody"),
            "Help Bcc: victim@example.com body"
        );
        assert_eq!(one_line("  a\t\u{0}b \u{85} c  "), "a b c");
        assert_eq!(subject(7, "Printer\non fire"), "[#7] Printer on fire");
    }
}
