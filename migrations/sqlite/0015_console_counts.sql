-- What every console page reads besides its own content (issue 14; measured in bench/README.md,
-- "Console").
--
-- The view counts: Mine (open or processing, assigned to the agent) and Unassigned (open or
-- processing, nobody assigned), up to 1,000 each. No index led with both columns. The
-- statistics describe the assignee index by its average group, which on a desk where most
-- tickets are unassigned is nearly the whole table, so the planner read every ticket to count
-- an agent's empty Mine view (0.6-1 s at a million tickets). With this index each count reads
-- a range of its entries and not the table.
CREATE INDEX tickets_status_assignee ON tickets (status, assignee_id);
-- The people a ticket can be assigned to (`staff::assignable`, on every page): the agents and
-- administrators among all the customers, by email. The statistics cannot tell the planner
-- that staff are few (three roles, one average), so it read every person in email order. The
-- predicate is the query's own, word for word: SQLite uses a partial index only then.
CREATE INDEX users_staff ON users (email) WHERE role IN ('agent', 'admin');
-- Statistics for these two indexes alone, gathered now: an index without them makes the
-- start-up's bounded `PRAGMA optimize` re-sample its whole table, every index of it, from
-- 1,000 rows.
ANALYZE tickets_status_assignee;
ANALYZE users_staff;
