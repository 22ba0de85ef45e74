-- How many of each person's tickets are open or processing. Every create checks the open-ticket
-- limit under the person's lock; it read this number by counting the person's open tickets,
-- one index entry each: cheap under the default limit of 5, but an administrator may lift the
-- limit to 100,000, and then the count ran inside SQLite's single write lock on every create
-- (bench/README.md, "Side by side"). The create transaction and every status change keep it:
-- a create adds one, a change between an open status and closed moves it by one, both in the
-- transaction of the change. Tickets are never deleted and never change author.
ALTER TABLE users ADD COLUMN open_count BIGINT NOT NULL DEFAULT 0;
UPDATE users SET open_count =
    (SELECT COUNT(*) FROM tickets WHERE tickets.author_id = users.id AND tickets.status IN (1, 2));
