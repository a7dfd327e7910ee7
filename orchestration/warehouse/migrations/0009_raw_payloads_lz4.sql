-- raw: payloads are compressed with lz4 instead of pglz (docs/decisions.md, "Raw payloads are
-- compressed with lz4").
--
-- A raw row (the extracted columns plus the record's jsonb, ~2.5 KB for an SES event) is over
-- PostgreSQL's 2 KB TOAST threshold, so every insert compresses the payload; with the default
-- pglz that compression was the largest single cost of loading, more than the COPY itself. lz4
-- compresses as well on these records and several times faster. Only rows written from now on
-- are affected; the old ones stay readable as they are.
--
-- A server built without lz4 (the embedded one) instead keeps rows of up to 8 KB whole and
-- uncompressed (toast_tuple_target), as a bare jsonb column of the same records would be: about
-- a third more disk for the raw tables, and no compression on the load's path.

do $migration$
declare
    target text[];
begin
    foreach target slice 1 in array array[
        ['ses_events', 'payload'], ['ses_payloads', 'payload'],
        ['pinpoint_events', 'payload'], ['pinpoint_payloads', 'payload'],
        ['emailit_events', 'payload'], ['emailit_payloads', 'payload'],
        ['tracker_open_events', 'payload'], ['tracker_payloads', 'payload']
    ] loop
        execute format(
            'alter table raw.%I alter column %I set compression lz4', target[1], target[2]
        );
    end loop;
exception
    when feature_not_supported then
        foreach target slice 1 in array array[
            ['ses_events', 'payload'], ['ses_payloads', 'payload'],
            ['pinpoint_events', 'payload'], ['pinpoint_payloads', 'payload'],
            ['emailit_events', 'payload'], ['emailit_payloads', 'payload'],
            ['tracker_open_events', 'payload'], ['tracker_payloads', 'payload']
        ] loop
            execute format('alter table raw.%I set (toast_tuple_target = 8160)', target[1]);
        end loop;
end
$migration$;
