-- The transactional outbox: one row per notifying ticket event, written in the transaction
-- that records the event, so a committed change always has its notification and a rolled-back
-- one never does. The dispatcher of any `serve` process claims rows by taking a lease
-- (`lease_until`, microseconds); a process killed before acknowledging leaves the lease to
-- expire, and the row is claimed again (at-least-once; `id` is the stable delivery id).
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    event_id     BIGINT  NOT NULL REFERENCES ticket_events (id),
    ticket_id    BIGINT  NOT NULL REFERENCES tickets (id),
    event_type   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    -- Not before this time (retries move it forward).
    available_at BIGINT  NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  BIGINT,
    done_at      BIGINT,
    last_error   TEXT
);
-- The dispatcher's claim reads the undone rows in order; done rows drop out of this index.
CREATE INDEX outbox_pending ON outbox (available_at, id) WHERE done_at IS NULL;
