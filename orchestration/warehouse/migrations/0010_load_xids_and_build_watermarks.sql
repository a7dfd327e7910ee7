-- Incremental dbt builds (docs/incremental-builds.md): every row dbt reads as new data carries the
-- id of the transaction that wrote it (load_xid), and each successful build records the snapshot
-- taken at its start. The next build's batch is every row whose load_xid that snapshot did not
-- see: `load_xid >= pg_snapshot_xmin(s) and not pg_visible_in_snapshot(load_xid, s)`. Unlike a
-- time window, this catches a load that started before the previous build and committed after it,
-- and its cost follows what was loaded, not the load rate.
--
-- Raw rows are append-only: the column default stamps them (the loader's insert names no
-- load_xid). Ledger and shoot rows are updated in place, so a trigger stamps each update too.
-- Existing rows get this migration's transaction id (the first build after it processes them).

alter table raw.ses_events add column if not exists load_xid xid8 not null default pg_current_xact_id();
alter table raw.pinpoint_events add column if not exists load_xid xid8 not null default pg_current_xact_id();
alter table raw.emailit_events add column if not exists load_xid xid8 not null default pg_current_xact_id();
alter table raw.tracker_open_events add column if not exists load_xid xid8 not null default pg_current_xact_id();
alter table app.email_sends add column if not exists load_xid xid8 not null default pg_current_xact_id();
alter table app.shoots add column if not exists load_xid xid8 not null default pg_current_xact_id();

create index if not exists ses_events_load_xid_idx on raw.ses_events (load_xid);
create index if not exists pinpoint_events_load_xid_idx on raw.pinpoint_events (load_xid);
create index if not exists emailit_events_load_xid_idx on raw.emailit_events (load_xid);
create index if not exists tracker_open_events_load_xid_idx on raw.tracker_open_events (load_xid);
create index if not exists email_sends_load_xid_idx on app.email_sends (load_xid);
create index if not exists shoots_load_xid_idx on app.shoots (load_xid);

create or replace function app.stamp_load_xid() returns trigger
language plpgsql as $$
begin
    new.load_xid := pg_current_xact_id();
    return new;
end
$$;

drop trigger if exists email_sends_stamp_load_xid on app.email_sends;
create trigger email_sends_stamp_load_xid before update on app.email_sends
    for each row execute function app.stamp_load_xid();
drop trigger if exists shoots_stamp_load_xid on app.shoots;
create trigger shoots_stamp_load_xid before update on app.shoots
    for each row execute function app.stamp_load_xid();

-- One row per dbt invocation that may advance the batch: the snapshot taken when it started
-- (on-run-start), and succeeded_at once every incremental model of the build succeeded
-- (on-run-end). The batch of the next build starts at the latest succeeded snapshot.
create table if not exists app.build_watermarks (
    invocation_id text primary key,       -- dbt's invocation_id
    snapshot pg_snapshot not null,        -- pg_current_snapshot() at the start of the build
    started_at timestamptz not null default now(),
    succeeded_at timestamptz
);
create index if not exists build_watermarks_succeeded_idx
    on app.build_watermarks (succeeded_at) where succeeded_at is not null;
