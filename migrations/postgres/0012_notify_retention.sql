-- Notification retention and totals (issue 13). Done notifications are pruned after
-- SUPPORTDESK_NOTIFY_RETENTION by the dispatcher, oldest first, in small batches: these
-- indexes find the done rows by age without reading the pending ones.
CREATE INDEX outbox_done ON outbox (created_at) WHERE done_at IS NOT NULL;
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at) WHERE state <> 'pending';
CREATE INDEX mail_messages_done ON mail_messages (created_at) WHERE state <> 'pending';
-- An outbox row is pruned only once no mail refers to it any more.
CREATE INDEX mail_messages_outbox ON mail_messages (outbox_id);

-- Running totals for /metrics: delivered, failed and retried notifications per channel,
-- counted as they happen (in the transaction that records them), so that /metrics reads a few
-- rows instead of counting whole tables, and pruning never makes a total go down.
CREATE TABLE notify_totals (
    name TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO notify_totals (name, n)
  SELECT 'outbox_delivered', COUNT(*) FROM outbox WHERE done_at IS NOT NULL;
INSERT INTO notify_totals (name, n)
  SELECT 'outbox_retries', COALESCE(SUM(attempts - 1), 0) FROM outbox WHERE attempts > 1;
INSERT INTO notify_totals (name, n)
  SELECT 'webhook_delivered', COUNT(*) FROM webhook_deliveries WHERE state = 'delivered';
INSERT INTO notify_totals (name, n)
  SELECT 'webhook_failed', COUNT(*) FROM webhook_deliveries WHERE state = 'failed';
INSERT INTO notify_totals (name, n)
  SELECT 'webhook_retries', COALESCE(SUM(attempts - 1), 0) FROM webhook_deliveries WHERE attempts > 1;
INSERT INTO notify_totals (name, n)
  SELECT 'email_delivered', COUNT(*) FROM mail_messages WHERE state = 'delivered';
INSERT INTO notify_totals (name, n)
  SELECT 'email_failed', COUNT(*) FROM mail_messages WHERE state = 'failed';
INSERT INTO notify_totals (name, n)
  SELECT 'email_retries', COALESCE(SUM(attempts - 1), 0) FROM mail_messages WHERE attempts > 1;
