-- raw: append-only tables owned by ingestion. One table per provider, plus the object manifest and
-- the rejected-records quarantine shared by every provider.
create schema if not exists raw;
create schema if not exists app;

create table if not exists raw.ingested_objects (
    source text not null,                 -- provider name: ses, pinpoint, emailit, tracker, ...
    object_key text not null,             -- path or s3:// URL, or an API cursor window
    etag text not null,                   -- S3 ETag, or size+mtime for a local file
    size_bytes bigint not null,
    records_read integer not null,
    records_loaded integer not null,
    records_duplicate integer not null,
    records_rejected integer not null,
    rows_loaded integer not null,
    loaded_at timestamptz not null default now(),
    primary key (source, object_key, etag)
);

create table if not exists raw.rejected_records (
    rejected_record_id bigserial primary key,
    source text not null,
    object_key text not null,
    line integer not null,                -- 1-based position of the record in its object
    reason text not null,
    raw_text text not null,
    rejected_at timestamptz not null default now(),
    unique (source, object_key, line)
);

-- Amazon SES event publishing / SNS notifications: one row per event and recipient.
create table if not exists raw.ses_events (
    event_key text primary key,           -- hash of message_id|event_type|occurred_at|recipient|detail
    message_id text not null,             -- mail.messageId
    event_type text not null,             -- SES's own name: Send, Delivery, Bounce, Complaint, Reject,
                                          -- Open, Click, Rendering Failure, DeliveryDelay, Subscription
    occurred_at timestamptz not null,
    recipient text not null,              -- lower-cased address
    sender text,                          -- mail.source
    campaign_name text,                   -- mail.tags.campaign[0]
    app_name text,                        -- mail.tags.app[0]
    shoot_id text,                        -- mail.tags.shoot_id[0]
    email_log_id text,                    -- mail.tags.email_log_id[0]
    bounce_type text,                     -- Permanent / Transient / Undetermined
    bounce_subtype text,                  -- General, NoEmail, Suppressed, MailboxFull, ...
    complaint_type text,                  -- complaintFeedbackType: abuse, fraud, ...
    link_url text,                        -- click.link
    ip_address text,                      -- open/click ipAddress
    user_agent text,                      -- open/click userAgent
    payload jsonb not null,               -- the SES record itself (SNS envelope removed)
    source_object text not null,
    source_line integer not null,
    loaded_at timestamptz not null default now()
);
create index if not exists ses_events_loaded_at_idx on raw.ses_events (loaded_at);
create index if not exists ses_events_message_id_idx on raw.ses_events (message_id);
