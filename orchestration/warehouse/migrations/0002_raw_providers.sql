-- raw: one table per provider beyond SES (issue 3), plus the cursors of the incremental APIs.
-- Same conventions as raw.ses_events: event_key primary key (the loader deduplicates on it), the
-- provider's own event type names (dbt maps them to the canonical ones), the extracted columns the
-- staging models need, the record itself as payload, and where it was read from.
-- Columns for matching across providers and to app.email_sends: message_id (the provider's
-- message id), email_log_id / shoot_id / campaign_name / app_name (our own tags or headers, when
-- the message carried them).

-- Amazon Pinpoint email event stream (Firehose objects under <landing>/pinpoint/): one row per
-- event and recipient.
create table if not exists raw.pinpoint_events (
    event_key text primary key,           -- hash of message_id|event_type|arrival|recipient|detail
    message_id text not null,             -- facets.email_channel.mail_event.mail.message_id
    event_type text not null,             -- Pinpoint's own name: _email.send, _email.delivered,
                                          -- _email.rejected, _email.hardbounce, _email.softbounce,
                                          -- _email.complaint, _email.open, _email.click,
                                          -- _email.unsubscribe, _email.rendering_failure
    occurred_at timestamptz not null,     -- arrival_timestamp: when Pinpoint recorded the event
    event_timestamp timestamptz,          -- event_timestamp: the send time, same for every event
                                          -- of a message
    recipient text not null,              -- lower-cased address
    sender text,                          -- mail.from_address
    subject text,                         -- mail.common_headers.subject
    app_id text,                          -- application.app_id (the Pinpoint project)
    client_id text,                       -- client.client_id (endpoint id, or a UUID)
    campaign_id text,                     -- attributes.campaign_id
    campaign_activity_id text,            -- attributes.campaign_activity_id
    treatment_id text,                    -- attributes.treatment_id
    journey_id text,                      -- attributes.journey_id
    journey_run_id text,                  -- attributes.journey_run_id
    journey_activity_id text,             -- attributes.journey_activity_id
    feedback text,                        -- attributes.feedback as sent (URL for clicks)
    campaign_name text,                   -- mail header X-Campaign
    app_name text,                        -- mail header X-App
    shoot_id text,                        -- mail header X-Shoot-Id
    email_log_id text,                    -- mail header X-Email-Log-Id
    bounce_type text,                     -- bounce.bounce_type when the event carries it
    bounce_subtype text,                  -- bounce.bounce_sub_type
    complaint_type text,                  -- complaint.complaint_feedback_type
    error_message text,                   -- reject reason, rendering failure, bounce diagnostic
    link_url text,                        -- attributes.feedback of _email.click (else click.link)
    ip_address text,                      -- open/click ip_address (IPv6-mapped IPv4 normalised)
    user_agent text,                      -- open/click user_agent
    payload jsonb not null,               -- the Pinpoint record itself
    source_object text not null,
    source_line integer not null,
    loaded_at timestamptz not null default now()
);
create index if not exists pinpoint_events_loaded_at_idx on raw.pinpoint_events (loaded_at);
create index if not exists pinpoint_events_message_id_idx on raw.pinpoint_events (message_id);

-- Emailit events API (GET /v1/events): one row per event (an Emailit event has one recipient).
create table if not exists raw.emailit_events (
    event_key text primary key,           -- hash of the Emailit event id
    event_id text not null,               -- id ("WAz8eIbvDR60rouK")
    event_uuid text,                      -- uuid
    event_type text not null,             -- Emailit's own name: email.delivery.sent,
                                          -- email.delivery.hardfail, email.delivery.softfail,
                                          -- email.delivery.bounce, email.delivery.error,
                                          -- email.delivery.held, email.delivery.delayed,
                                          -- email.loaded, email.link.clicked, ...
    occurred_at timestamptz not null,     -- data.timestamp when present, else created_at
    created_at timestamptz not null,      -- the event's created_at (the incremental cursor)
    updated_at timestamptz,
    message_id text,                      -- data.email.message_id without <> (RFC Message-ID)
    email_id text,                        -- data.email.id (Emailit's email id); one of message_id
                                          -- and email_id is always present
    email_token text,                     -- data.email.token
    recipient text not null,              -- data.email.to, lower-cased
    sender text,                          -- data.email.from
    subject text,                         -- data.email.subject
    status text,                          -- data.status (sent, hardfail, softfail, bounce, ...)
    details text,                         -- data.details (SMTP conversation / reason)
    tag text,                             -- data.email.tag as sent
    campaign_name text,                   -- meta/tag campaign
    app_name text,                        -- meta/tag app
    shoot_id text,                        -- meta/tag shoot_id
    email_log_id text,                    -- meta/tag email_log_id (or header X-Email-Log-Id)
    link_url text,                        -- clicked link url
    ip_address text,                      -- open/click ip (IPv6-mapped IPv4 normalised)
    user_agent text,                      -- open/click user agent
    payload jsonb not null,               -- the event object as the API returned it
    source_object text not null,          -- emailit:/v1/events?page=N... or a file path
    source_line integer not null,
    loaded_at timestamptz not null default now()
);
create index if not exists emailit_events_loaded_at_idx on raw.emailit_events (loaded_at);
create index if not exists emailit_events_message_id_idx on raw.emailit_events (message_id);
create index if not exists emailit_events_email_id_idx on raw.emailit_events (email_id);

-- Open-tracking service (GET /dashboard/api/open-events): one row per OpenEvent, every field kept.
create table if not exists raw.tracker_open_events (
    event_key text primary key,           -- hash of the tracker's open event id
    tracker_event_id bigint not null,     -- id (auto-increment on the tracker; the cursor)
    email_id text not null,               -- the tracked email's id
    user_id text not null,                -- the tracker account that owns the record
    recipient text not null,              -- lower-cased address
    opened_at timestamptz not null,
    ip_address text,                      -- IPv6-mapped IPv4 normalised to IPv4
    user_agent text,
    geo_country text,
    geo_region text,
    geo_city text,
    latitude double precision,
    longitude double precision,
    device_type text not null,            -- phone, computer, other
    is_duplicate boolean not null,        -- same email, IP and user agent within the window
    is_sender_suppressed boolean not null, -- prefetch opens the sender announced
    suppression_reason text,              -- mark_suppress_next, or null
    payload jsonb not null,               -- the OpenEvent as the API returned it
    source_object text not null,          -- tracker:/dashboard/api/open-events... or a file path
    source_line integer not null,
    loaded_at timestamptz not null default now()
);
create index if not exists tracker_open_events_loaded_at_idx on raw.tracker_open_events (loaded_at);
create index if not exists tracker_open_events_email_id_idx on raw.tracker_open_events (email_id);

-- Where each incremental API stopped; advanced in the transaction that loads the last page of a
-- run, so a crash or a re-run never skips and never duplicates.
create table if not exists raw.api_cursors (
    source text primary key,              -- emailit, tracker, ...
    cursor jsonb not null,
    updated_at timestamptz not null default now()
);
