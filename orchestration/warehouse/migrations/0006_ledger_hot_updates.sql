-- app.email_sends: a ledger row is inserted `queued` and updated once with the provider's answer
-- (docs/decisions.md, "The send ledger is claimed and answered a chunk at a time"). That update
-- can be a HOT update - no new entry in any index, the old version pruned from its own page -
-- only when it changes no indexed column and the page has room for the new version:
-- * email_sends_queued_idx (shoot_id) where status = 'queued' changed with every answer; a
--   shoot's queued rows are found through unique (shoot_id, recipient) instead;
-- * email_sends_message_id_idx changed with every answer; nothing looks a ledger row up by
--   message_id (dbt reads the ledger whole, the email-log API reads marts.email_logs);
-- * fillfactor 60 leaves each page room for the answered versions of its rows.
drop index if exists app.email_sends_queued_idx;
drop index if exists app.email_sends_message_id_idx;
alter table app.email_sends set (fillfactor = 60);
