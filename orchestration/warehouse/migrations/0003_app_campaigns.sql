-- app: operational tables owned by campaign orchestration (orchestration/campaigns/).
--
-- app.shoots is the persisted planning: one row per shoot (a recurring campaign's occurrence or an
-- ad-hoc shoot). app.email_sends is the send ledger: one row per recipient per shoot, written and
-- committed *before* the provider is called, so a recipient is sent at most once per shoot even
-- across crashes and concurrent dispatches. dbt reads both (marts.shoot_stats, marts.email_logs).
create schema if not exists app;

-- The demo audience (and a convenient place for a small real one).
create table if not exists app.contacts (
    user_id text primary key,                   -- user_ref of the audience member
    email_address text not null,
    first_name text,
    last_name text,
    locale text not null default 'en',
    timezone text not null default 'UTC',
    country text,
    plan text,                                  -- free, pro, ... (segment filters)
    attributes jsonb not null default '{}'::jsonb,
    is_subscribed boolean not null default true,
    created_at timestamptz not null default now()
);
create index if not exists contacts_email_idx on app.contacts (lower(email_address));

create table if not exists app.shoots (
    shoot_id uuid primary key default gen_random_uuid(),
    campaign_name text not null,
    app_name text not null default 'mailtrail',
    config_id text,                             -- recurring occurrence id; null for ad-hoc shoots
    scheduled_at timestamptz not null,
    state text not null default 'scheduled'
        check (state in ('pending', 'scheduled', 'sending', 'completed', 'cancelled', 'skipped')),
    template_name text not null,
    template_settings jsonb not null default '{}'::jsonb,
    audience jsonb not null,                    -- {"segment": name, "settings": {...}, "limit": n}
    message_frequency jsonb,                    -- {"idempotency_key": k, "message_limit": n}
    metadata jsonb not null default '{}'::jsonb,
    tags text[] not null default '{}',
    sender_email_address text,
    manual_send_only boolean not null default false,
    dry_run boolean not null default false,
    enqueue_as_draft boolean not null default false,
    duplicated_from uuid references app.shoots (shoot_id),
    recipient_count integer not null default 0, -- rows in the ledger (every outcome)
    sent_count integer not null default 0,      -- accepted by the provider (or drafted)
    failed_count integer not null default 0,
    skipped_count integer not null default 0,   -- over a message-frequency limit
    dropped_count integer not null default 0,   -- suppressed or invalid address
    unknown_count integer not null default 0,   -- outcome lost in a crash; never re-sent
    pending_count integer not null default 0,   -- dry-run rows (never sent)
    error_type text,                            -- set when dispatch stopped on a business error;
    error_message text,                         -- the dispatch sensor skips the shoot until patched
    created_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    updated_at timestamptz not null default now(),
    unique (campaign_name, config_id)
);
create index if not exists shoots_due_idx on app.shoots (scheduled_at)
    where state in ('scheduled', 'sending');
create index if not exists shoots_campaign_idx on app.shoots (campaign_name, scheduled_at);

-- Operator decisions about occurrences of recurring campaigns, kept apart from app.shoots so they
-- apply whether the occurrence was already planned or not (planning reads them).
create table if not exists app.shoot_config_overrides (
    campaign_name text not null,
    config_id text not null,
    cancelled boolean not null default false,
    scheduled_at timestamptz,                   -- patched time, null = the campaign's own
    patch jsonb not null default '{}'::jsonb,   -- template_settings/metadata/... merged on plan
    updated_at timestamptz not null default now(),
    primary key (campaign_name, config_id)
);

create table if not exists app.email_sends (
    email_log_id uuid primary key,
    shoot_id uuid references app.shoots (shoot_id),  -- null for send_email/batch_send_email
    campaign_name text,
    app_name text,
    template_name text,
    user_id text,
    account_ref text,
    recipient text not null,                    -- lower-cased address
    status text not null
        check (status in ('queued', 'sent', 'failed', 'skipped', 'dropped', 'unknown')),
    reason text,                                -- why skipped/dropped/unknown/failed
    provider text,                              -- ses, smtp, outbox, simulator, draft
    message_id text,                            -- the provider's id (SES mail.messageId)
    subject text,
    error_type text,
    error_message text,
    is_dry_run boolean not null default false,
    message_metadata jsonb not null default '{}'::jsonb,
    user_context jsonb not null default '{}'::jsonb,
    template_settings jsonb,                    -- only for sends outside a shoot
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    updated_at timestamptz not null default now(),
    -- At most once per recipient per shoot: the guarantee itself (null shoot_ids are distinct).
    unique (shoot_id, recipient)
);
create index if not exists email_sends_message_id_idx on app.email_sends (message_id);
create index if not exists email_sends_recipient_idx on app.email_sends (recipient);
create index if not exists email_sends_user_idx on app.email_sends (user_id);
create index if not exists email_sends_created_idx on app.email_sends (created_at);
create index if not exists email_sends_queued_idx on app.email_sends (shoot_id)
    where status = 'queued';

-- Message-frequency counters: one row per (user, idempotency key); '*' counts every message.
-- Incremented in the same transaction as the ledger row with a conditional upsert, so two
-- dispatches racing on the same user can never exceed the limit.
create table if not exists app.message_counters (
    user_key text not null,                     -- user_ref, or the address when there is none
    idempotency_key text not null,
    message_count integer not null,
    last_sent_at timestamptz not null default now(),
    primary key (user_key, idempotency_key)
);

-- App-level suppressions (manual, imports, unsubscribes handled by the app); dispatch also reads
-- marts.suppression_list, which dbt derives from provider events.
create table if not exists app.suppressions (
    recipient text primary key,                 -- lower-cased address
    reason text not null
        check (reason in ('hard_bounce', 'complaint', 'unsubscribe', 'manual')),
    source text not null default 'app',
    created_at timestamptz not null default now()
);

-- Webhook dispatch progress: the last event time handed to the registered handlers.
create table if not exists app.webhook_cursors (
    name text primary key,
    last_occurred_at timestamptz,
    last_event_id text,
    updated_at timestamptz not null default now()
);
