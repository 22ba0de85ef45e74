-- The queue's other two sorts, by last update and by priority (issue 14). The open views read
-- one branch per status, each walking an index of (status, sort column, id) in order and
-- stopping at the page's end (`store::queue::list`); the sort by creation has had its index
-- since the queue began. Without these two, each branch read every ticket of its status and
-- sorted them: 30-90 ms a page with 200,000 open tickets (bench/README.md, "Console").
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_status_priority ON tickets (status, priority, id);
-- Statistics for these two indexes alone (see 0015 for why not the whole table).
ANALYZE tickets_status_updated;
ANALYZE tickets_status_priority;
