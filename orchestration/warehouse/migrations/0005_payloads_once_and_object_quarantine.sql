-- raw: a record's payload is stored once, and an object that cannot be read is quarantined whole.
--
-- Payloads (docs/decisions.md, "A record's payload is stored once"): a record that becomes one
-- row (most of them) keeps its payload in that row, as before. A record that becomes several rows
-- (a bounce, delay or delivery to several recipients) stores its payload once, in
-- raw.<source>_payloads, and each of its rows names it by payload_hash; exactly one of payload and
-- payload_hash is set in every row. The staging models read coalesce(row payload, shared payload).
-- Rows loaded before this migration with a copy of the payload per recipient are moved to the
-- shared tables here.
--
-- Quarantined objects: an object that could not be read to its end (unreadable, gone, not a
-- regular file, corrupt or truncated compression) still gets its manifest row, with the reason
-- in quarantine_reason, so that it is not retried on every run unless it changes (new etag); the
-- records read before the error are loaded as usual, and raw.rejected_records holds a row for the
-- object itself at line 0.

alter table raw.ingested_objects add column if not exists quarantine_reason text;

comment on column raw.ingested_objects.quarantine_reason is
'Why the object could not be read to its end (null when it was read whole); see line 0 of '
'raw.rejected_records for the object.';

comment on column raw.rejected_records.line is
'1-based position of the record in its object; 0 for the object itself when it could not be read '
'to its end (reason says why).';

create table if not exists raw.ses_payloads (
    payload_hash text primary key,        -- blake2b-128 of the record's text (md5 of its jsonb text
                                          -- for payloads moved here by this migration)
    payload jsonb not null,               -- the record, as raw.ses_events.payload would hold it
    loaded_at timestamptz not null default now()
);

create table if not exists raw.pinpoint_payloads (
    payload_hash text primary key,
    payload jsonb not null,
    loaded_at timestamptz not null default now()
);

create table if not exists raw.emailit_payloads (
    payload_hash text primary key,
    payload jsonb not null,
    loaded_at timestamptz not null default now()
);

create table if not exists raw.tracker_payloads (
    payload_hash text primary key,
    payload jsonb not null,
    loaded_at timestamptz not null default now()
);

do $migration$
declare
    pair text[];
    events text;
    payloads text;
    shared text;
begin
    foreach pair slice 1 in array array[
        ['ses_events', 'ses_payloads'],
        ['pinpoint_events', 'pinpoint_payloads'],
        ['emailit_events', 'emailit_payloads'],
        ['tracker_open_events', 'tracker_payloads']
    ] loop
        events := pair[1];
        payloads := pair[2];
        execute format('alter table raw.%I add column if not exists payload_hash text', events);
        execute format('alter table raw.%I alter column payload drop not null', events);
        -- rows of one record share (source_object, source_line); only those of records with
        -- several rows move their payload out
        shared := format(
            '(select source_object, source_line from raw.%I where payload is not null'
            ' group by source_object, source_line having count(*) > 1)',
            events
        );
        execute format(
            'insert into raw.%I (payload_hash, payload)'
            ' select distinct on (md5(e.payload::text)) md5(e.payload::text), e.payload'
            ' from raw.%I as e join %s as s using (source_object, source_line)'
            ' where e.payload is not null'
            ' on conflict (payload_hash) do nothing',
            payloads, events, shared
        );
        execute format(
            'update raw.%I as e set payload_hash = md5(e.payload::text), payload = null'
            ' from %s as s'
            ' where e.source_object = s.source_object and e.source_line = s.source_line'
            ' and e.payload is not null',
            events, shared
        );
        execute format('alter table raw.%I drop constraint if exists %I', events, events || '_payload_once');
        execute format(
            'alter table raw.%I add constraint %I check ((payload is null) <> (payload_hash is null))',
            events, events || '_payload_once'
        );
        execute format(
            'comment on column raw.%I.payload_hash is %L',
            events,
            'Set when the record has several rows: its payload is in raw.' || payloads
            || ' (payload is then null in each of them).'
        );
    end loop;
end
$migration$;
