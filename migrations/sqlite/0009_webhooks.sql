-- Webhooks: endpoints administrators register, one delivery per notifying event and
-- subscribed endpoint (fanned out by the dispatcher from the outbox), and the log of every
-- attempt. A delivery's `id` is stable across attempts: it is the `webhook-id` (`msg_<id>`).
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL,
    -- Comma-separated event names, or `*` for every event.
    events          TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    -- The signing secret (`whsec_…`): a key the desk must use, so kept as it is, never logged.
    secret          TEXT    NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    disabled_at     BIGINT,
    -- The first failed attempt since the last success; cleared by a success.
    failing_since   BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    endpoint_id  BIGINT  NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The outbox row it was fanned out from: one delivery per event and endpoint.
    outbox_id    BIGINT  NOT NULL,
    event_id     BIGINT  NOT NULL,
    event_type   TEXT    NOT NULL,
    -- The JSON body, built once at fan-out: every retry sends the same bytes.
    payload      TEXT    NOT NULL,
    -- pending, delivered or failed (the schedule ran out).
    state        TEXT    NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    available_at BIGINT  NOT NULL,
    lease_owner  TEXT,
    lease_until  BIGINT,
    done_at      BIGINT,
    last_error   TEXT,
    UNIQUE (outbox_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (available_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  BIGINT  NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at BIGINT  NOT NULL,
    -- The HTTP status, or NULL when no answer came (then `error` says why).
    status_code  INTEGER,
    error        TEXT,
    duration_ms  BIGINT  NOT NULL,
    -- The first 1 KiB of the answer's body.
    response     TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
