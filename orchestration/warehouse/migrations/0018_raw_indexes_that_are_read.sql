-- raw: only the indexes something reads (docs/decisions.md, "Raw tables keep only the indexes
-- something reads").
--
-- Every row a load writes pays for every index of its table: on raw.ses_events the loaded_at and
-- message_id indexes cost nearly a fifth of the server's CPU of a load (message_id, a random
-- 60-byte key, most of it) and 8% of its WAL. Nothing reads them: dbt finds a build's batch
-- by load_xid and its events by event_key (both kept), the freshness checks read
-- raw.ingested_objects, and the marts, not raw, are where a message's events are looked up
-- (fct_email_events). Kept: every primary key (the loader's dedup), load_xid (the incremental
-- batch), emailit email_id and event_id (the Emailit siblings and the update check), and
-- tracker_open_events.loaded_at (the email polling's lookback window).

drop index if exists raw.ses_events_loaded_at_idx;
drop index if exists raw.ses_events_message_id_idx;
drop index if exists raw.pinpoint_events_loaded_at_idx;
drop index if exists raw.pinpoint_events_message_id_idx;
drop index if exists raw.emailit_events_loaded_at_idx;
