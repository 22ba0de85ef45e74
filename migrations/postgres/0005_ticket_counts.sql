-- How many tickets each person has filed. The history's unfiltered `count` reads it instead of
-- counting the person's tickets on every request (thousands for the busiest customers). The
-- create transaction maintains it under the person's row lock; tickets are never deleted and
-- never change author.
ALTER TABLE users ADD COLUMN ticket_count BIGINT NOT NULL DEFAULT 0;
UPDATE users SET ticket_count = (SELECT COUNT(*) FROM tickets WHERE tickets.author_id = users.id);
