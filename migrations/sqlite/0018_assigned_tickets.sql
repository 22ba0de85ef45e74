-- The console's "Mine" view count and list: `assignee_id = ? AND status IN (...)`. The older
-- (assignee_id, created_at, id) index also holds every unassigned ticket, so when most tickets
-- are unassigned its statistics say one key matches the whole table and SQLite's planner walks
-- all tickets instead (3.5 s at a million for an agent with nothing assigned). This index holds
-- only assigned tickets, so it stays selective whatever the share of unassigned ones.
CREATE INDEX tickets_assigned_status ON tickets (assignee_id, status) WHERE assignee_id IS NOT NULL;
