-- The agent console's sign-ins: one row per browser session. Only the SHA-256 of the cookie's
-- token is kept, so a copy of the database signs nobody in. A session ends when it is signed
-- out, when it was idle or lived too long (settings, checked on every request), and when its
-- person is deactivated, gets a new password or a new role (rows deleted with their tokens).
CREATE TABLE console_sessions (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       BIGINT  NOT NULL REFERENCES users (id),
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
