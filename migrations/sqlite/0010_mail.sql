-- Email notifications. Each person may opt out (1: mail them, the default).
ALTER TABLE users ADD COLUMN email_notifications INTEGER NOT NULL DEFAULT 1;

-- One thread per ticket: the root Message-ID every mail about the ticket answers
-- (In-Reply-To and References), so mail clients thread them together and the inbound-mail
-- work can match a reply to its ticket by it.
CREATE TABLE mail_threads (
    ticket_id   BIGINT  PRIMARY KEY REFERENCES tickets (id),
    message_id  TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

-- One mail per notifying event and recipient, written by the dispatcher in the transaction
-- that acknowledges the outbox row; the mail worker of any `serve` process claims due rows
-- under a lease and sends them. `id` and `message_id` stay the same on every attempt.
CREATE TABLE mail_messages (
    id            INTEGER PRIMARY KEY,
    outbox_id     BIGINT  NOT NULL REFERENCES outbox (id),
    event_id      BIGINT  NOT NULL REFERENCES ticket_events (id),
    ticket_id     BIGINT  NOT NULL REFERENCES tickets (id),
    recipient_id  BIGINT  NOT NULL REFERENCES users (id),
    -- The address at the time of the event.
    recipient     TEXT    NOT NULL,
    message_id    TEXT    NOT NULL UNIQUE,
    in_reply_to   TEXT    NOT NULL,
    -- The References header's ids, space-separated.
    thread_references TEXT NOT NULL,
    subject       TEXT    NOT NULL,
    body_text     TEXT    NOT NULL,
    body_html     TEXT    NOT NULL,
    -- pending, delivered or failed (after the last attempt, or refused for good).
    state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    -- Not before this time (retries move it forward).
    available_at  BIGINT  NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    sent_at       BIGINT,
    last_error    TEXT,
    -- A redelivered outbox row (a lost lease) fans out once.
    UNIQUE (event_id, recipient_id)
);
-- The worker's claim reads the pending rows in order; finished rows drop out of this index.
CREATE INDEX mail_messages_pending ON mail_messages (available_at, id) WHERE state = 'pending';
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id, id);
