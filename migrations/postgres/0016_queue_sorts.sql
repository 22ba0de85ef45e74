-- The queue's other two sorts, by last update and by priority (issue 14): the same indexes as
-- SQLite's (see there). The open views read one branch per status, each walking one of these in
-- order and stopping at the page's end.
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_status_priority ON tickets (status, priority, id);
