-- Search (issue 15). One FTS5 row per ticket, its rowid the ticket's id, one column per place a
-- word can be found: the subject, the customer-visible messages (the ticket's first comment,
-- the customer's comments and staff replies), internal notes, attachment file names (those on
-- notes go with the notes), and the author's email. The text is folded and split into words
-- by the desk itself (src/domain/search.rs), the same for both backends, so the tokenizer only
-- splits at spaces and must not fold again.
--
-- The store keeps each row in the same transaction as the write that changes its text. The
-- rows of tickets that existed before this migration are built by the desk right after it
-- (`Db::migrate`, and `supportdesk reindex`), from the position stored below.
CREATE VIRTUAL TABLE ticket_fts USING fts5(
    subject, messages, notes, files, email,
    tokenize = 'unicode61 remove_diacritics 0'
);
-- Every word the index holds, so that a prefix (the last word of a query) becomes the exact
-- words it begins: FTS5 answers a prefix query by first merging the lists of every ticket
-- holding such a word (all million tickets for a word in every ticket), where exact words are
-- read newest first and only as far as needed.
CREATE TABLE search_words (word TEXT PRIMARY KEY) WITHOUT ROWID;

INSERT INTO settings (name, value, updated_at)
SELECT 'search_reindex_after', '0', 0 WHERE EXISTS (SELECT 1 FROM tickets);
