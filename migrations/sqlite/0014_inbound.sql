-- Inbound mail (issue 18). Every message is stored here, raw, under (mailbox, Message-ID)
-- BEFORE anything else happens to it (before IMAP marks it seen, before the raw endpoint
-- answers 202); processing then turns it into a ticket or a comment in the same transaction
-- that marks it processed, so a crash anywhere leaves it either pending (done again) or done.
CREATE TABLE inbound_messages (
    id            INTEGER PRIMARY KEY,
    -- 'raw' for the HTTP endpoint, or an IMAP mailbox as imap://user@host:port/NAME.
    mailbox       TEXT    NOT NULL,
    -- The Message-ID without its angle brackets; a message without one gets
    -- 'sha256:<hex of its bytes>', so a re-fetch of the same bytes is still the same message.
    message_id    TEXT    NOT NULL,
    raw           BLOB   NOT NULL,
    size          BIGINT  NOT NULL,
    -- The category new tickets from this mailbox go to (none: the first active category).
    category_id   BIGINT,
    -- pending: to process; processed: became a ticket or comment (or was refused with a reply);
    -- ignored: an auto-reply, a bounce, a duplicate; quarantined: cannot be processed.
    state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'processed', 'ignored', 'quarantined')),
    reason        TEXT,
    sender        TEXT,
    subject       TEXT,
    ticket_id     BIGINT,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   BIGINT,
    received_at   BIGINT  NOT NULL,
    processed_at  BIGINT,
    UNIQUE (mailbox, message_id)
);
CREATE INDEX inbound_messages_pending ON inbound_messages (id) WHERE state = 'pending';
CREATE INDEX inbound_messages_quarantined ON inbound_messages (id) WHERE state = 'quarantined';
-- Replies match on earlier inbound mail too (a customer answering their own first mail).
CREATE INDEX inbound_messages_message_id ON inbound_messages (message_id);

-- Where each IMAP mailbox was read up to: a new UIDVALIDITY starts it again from the first
-- message (what is already stored is recognised by its Message-ID).
CREATE TABLE inbound_mailboxes (
    mailbox       TEXT    PRIMARY KEY,
    uid_validity  BIGINT  NOT NULL,
    last_uid      BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- The desk's own answers to inbound mail (a refused file, a refused ticket), queued in the
-- transaction that processed the mail and sent through the notification mail transport.
-- Also the count the loop protection reads (at most N to one address an hour).
CREATE TABLE inbound_replies (
    id            INTEGER PRIMARY KEY,
    inbound_id    BIGINT  NOT NULL REFERENCES inbound_messages (id) ON DELETE CASCADE,
    recipient     TEXT    NOT NULL,
    message_id    TEXT    NOT NULL UNIQUE,
    in_reply_to   TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    body_text     TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    BIGINT  NOT NULL,
    available_at  BIGINT  NOT NULL
);
CREATE INDEX inbound_replies_pending ON inbound_replies (available_at, id) WHERE state = 'pending';
CREATE INDEX inbound_replies_recipient ON inbound_replies (recipient, created_at);
