-- The same version as SQLite's: an index in the history's order that carries the short
-- columns the history shows and filters on. The subject and comment stay out: a PostgreSQL
-- b-tree entry must fit in a third of a page, and a comment may be 64 KiB.
CREATE INDEX tickets_history ON tickets (author_id, created_at DESC, id DESC)
    INCLUDE (status, category_id, priority, updated_at, assignee_id);
DROP INDEX tickets_author_created;
