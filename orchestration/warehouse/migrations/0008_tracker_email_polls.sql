-- The open tracker lists duplicate and sender-suppressed opens only per email
-- (GET /dashboard/api/open-events?email_id=...). The tracker asset asks for the emails it has
-- counted opens for, and remembers here when it last asked for each, so it asks again only when
-- something new may be there (orchestration/ingestion/tracker_emails.py).

create table if not exists raw.tracker_email_polls (
    email_id text primary key,
    polled_at timestamptz not null,       -- when its open events were last fetched
    open_events integer not null          -- how many the tracker listed then
);
