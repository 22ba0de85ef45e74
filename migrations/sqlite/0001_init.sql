-- Times are microseconds since the Unix epoch (UTC) on both backends, so that ordering and the
-- RFC 3339 text the API writes are identical whichever database is in use.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('customer', 'agent', 'admin')),
    active         INTEGER NOT NULL DEFAULT 1,
    -- Bumped by every write that must be serialised per person (the open-ticket limit).
    lock_version   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL UNIQUE,
    key_prefix  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

CREATE TABLE categories (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL
);

CREATE TABLE tags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    keyword     TEXT    NOT NULL DEFAULT '',
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);

CREATE TABLE tickets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id       INTEGER NOT NULL REFERENCES users (id),
    subject         TEXT    NOT NULL,
    -- Lower-cased in Rust, so the subject filter matches non-ASCII text alike on every backend.
    subject_folded  TEXT    NOT NULL,
    priority        INTEGER NOT NULL CHECK (priority IN (1, 2, 3)),
    category_id     INTEGER NOT NULL REFERENCES categories (id),
    comment         TEXT    NOT NULL,
    status          INTEGER NOT NULL CHECK (status IN (1, 2, 3)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX tickets_author_created ON tickets (author_id, created_at DESC, id DESC);
CREATE INDEX tickets_author_status ON tickets (author_id, status);

CREATE TABLE ticket_tags (
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    tag_id     INTEGER NOT NULL REFERENCES tags (id),
    PRIMARY KEY (ticket_id, tag_id)
);

CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    author_id   INTEGER NOT NULL REFERENCES users (id),
    comment     TEXT    NOT NULL,
    -- Internal notes are staff-only: no customer endpoint ever returns them.
    internal    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX conversations_ticket ON conversations (ticket_id, id);

CREATE TABLE attachments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id        INTEGER NOT NULL REFERENCES tickets (id),
    conversation_id  INTEGER REFERENCES conversations (id),
    filename         TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    -- Opaque, server-generated name in the attachment store; nothing a client sent.
    storage_key      TEXT    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, id);
