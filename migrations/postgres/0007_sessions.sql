-- Sessions belong to the API key they were signed in with: the key's id on each token (NULL
-- for a token made on the command line, which belongs to no key). A token is accepted with
-- that key only, and revoking the key revokes its tokens.
ALTER TABLE access_tokens ADD COLUMN api_key_id BIGINT REFERENCES api_keys (id);
ALTER TABLE refresh_tokens ADD COLUMN api_key_id BIGINT REFERENCES api_keys (id);
CREATE INDEX access_tokens_api_key ON access_tokens (api_key_id);
CREATE INDEX refresh_tokens_api_key ON refresh_tokens (api_key_id);
-- A new password, a deactivation or a role change revokes every refresh token of the person.
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Host-platform JWTs signed out through `auth/revoke/`: the SHA-256 of the token, kept until
-- the token's own expiry, after which it is refused anyway.
CREATE TABLE revoked_host_tokens (
    token_hash  TEXT    PRIMARY KEY,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX revoked_host_tokens_expiry ON revoked_host_tokens (expires_at);
