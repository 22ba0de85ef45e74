-- Search (issue 15). One stored tsvector per ticket, built with the explicit `simple`
-- configuration (no stemming, no stop words) so that `doc @@ to_tsquery('simple', …)` can use
-- the GIN index. The text is folded and split into words by the desk itself
-- (src/domain/search.rs), the same for both backends, so no `unaccent` is needed here.
-- Weights say where a word was written: A the subject, B customer-visible messages (the first
-- comment, customer comments, staff replies), C attachment file names and the author's email,
-- D internal notes. A customer's query is restricted to A, B and C.
--
-- The store keeps each row in the same transaction as the write that changes its text. The
-- rows of tickets that existed before this migration are built by the desk right after it
-- (`Db::migrate`, and `supportdesk reindex`), from the position stored below.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE ticket_search (
    ticket_id  BIGINT   PRIMARY KEY REFERENCES tickets (id),
    doc        tsvector NOT NULL
);
CREATE INDEX ticket_search_doc ON ticket_search USING gin (doc);

-- Every word the index holds, so that a prefix (the last word of a query) becomes the exact
-- words it begins: the planner estimates how common an exact word is from its statistics, and
-- a prefix it cannot estimate made it walk every ticket, newest first, looking for a rare one.
-- Byte order ("C"), so that the words a prefix begins are one range.
CREATE TABLE search_words (word TEXT COLLATE "C" PRIMARY KEY);

-- from: matches any part of the author's email; the trigram index serves LIKE '%part%'.
CREATE INDEX users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
-- The queue's subject filter (`q`), a LIKE '%part%' that read every ticket.
CREATE INDEX tickets_subject_trgm ON tickets USING gin (subject_folded gin_trgm_ops);

INSERT INTO settings (name, value, updated_at)
SELECT 'search_reindex_after', '0', 0 WHERE EXISTS (SELECT 1 FROM tickets);
