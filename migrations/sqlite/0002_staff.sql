-- The staff side: assignment, the audit trail of every change, and settings that administrators
-- change at run time.

ALTER TABLE tickets ADD COLUMN assignee_id INTEGER REFERENCES users (id);

-- The agents' queue: newest/oldest, recently updated, by status, by assignee, by tag.
CREATE INDEX tickets_created ON tickets (created_at, id);
CREATE INDEX tickets_updated ON tickets (updated_at, id);
CREATE INDEX tickets_status_created ON tickets (status, created_at, id);
CREATE INDEX tickets_assignee_created ON tickets (assignee_id, created_at, id);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag_id, ticket_id);

CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id),
    actor_id    INTEGER NOT NULL REFERENCES users (id),
    -- created, status, priority, category, tags, assignee, comment, reply, note
    kind        TEXT    NOT NULL,
    old_value   TEXT,
    new_value   TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE settings (
    name        TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
