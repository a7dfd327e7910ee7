-- Emailit events updated after they were loaded (their updated_at moved on) are loaded again: the
-- new version replaces the event's rows in raw.emailit_events, and the rows it replaces are kept
-- here, so no version read is lost (docs/providers.md, "Emailit").
create table if not exists raw.emailit_event_versions (
    event_key text not null,              -- the replaced row's key
    event_id text not null,               -- Emailit's event id
    updated_at timestamptz,               -- the replaced version's updated_at
    payload jsonb,                        -- the replaced row's payload (or payload_hash)
    payload_hash text,                    -- raw.emailit_payloads row of a several-recipient event
    source_object text not null,
    source_line integer not null,
    loaded_at timestamptz not null,       -- when the replaced version was loaded
    replaced_at timestamptz not null default now()
);
create index if not exists emailit_event_versions_event_id_idx
    on raw.emailit_event_versions (event_id);

-- each poll looks up the listed event ids to compare their updated_at with the loaded one
create index if not exists emailit_events_event_id_idx on raw.emailit_events (event_id);
