-- Campaign webhooks: one row per (campaign, handler, event) handed over, replacing the single
-- time cursor. A cursor on occurred_at skipped events ingested late (Firehose buffers for up to
-- 15 minutes, opens arrive days later) and never retried a handler that failed; the ledger
-- hands each event of the lookback window to each handler until it succeeds or runs out of
-- attempts.
create table if not exists app.webhook_deliveries (
    campaign_name text not null,
    webhook_name text not null,            -- the handler's name (module.qualname unless given)
    event_id text not null,                -- marts.fct_email_events.event_id (= raw event_key)
    event_type text not null,              -- canonical type handed to the handler
    occurred_at timestamptz not null,
    status text not null check (status in ('delivered', 'failed')),
    attempts integer not null,
    last_error text,
    first_attempt_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (campaign_name, webhook_name, event_id)
);
create index if not exists webhook_deliveries_failed_idx
    on app.webhook_deliveries (updated_at) where status = 'failed';

drop table if exists app.webhook_cursors;
