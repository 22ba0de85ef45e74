-- Identity: refresh tokens (rotated, in families), sign-in throttling, people known to a host
-- platform, and scoped API keys.

CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- Every token rotated from one sign-in shares its family; reuse revokes the family.
    family      TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- The access tokens of a family are revoked with it.
ALTER TABLE access_tokens ADD COLUMN family TEXT;
CREATE INDEX access_tokens_family ON access_tokens (family);

-- Failed sign-ins, by account (`email:…`) and by client address (`ip:…`).
CREATE TABLE signin_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX signin_failures_subject ON signin_failures (subject, created_at);

-- The `sub` of a person a host platform's JWT introduced.
ALTER TABLE users ADD COLUMN external_subject TEXT;
CREATE UNIQUE INDEX users_external_subject ON users (external_subject);

-- `customer`: the customer endpoints only; `all`: the staff routes too.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';
