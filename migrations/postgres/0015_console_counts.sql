-- What every console page reads besides its own content (issue 14; measured in bench/README.md,
-- "Console"). The same indexes as SQLite's, which needs them more (see there): the view counts
-- Mine and Unassigned each read a range of the first; the people a ticket can be assigned to
-- (`staff::assignable`) are read from the second. Its predicate is the query's own.
CREATE INDEX tickets_status_assignee ON tickets (status, assignee_id);
CREATE INDEX users_staff ON users (email) WHERE role IN ('agent', 'admin');
