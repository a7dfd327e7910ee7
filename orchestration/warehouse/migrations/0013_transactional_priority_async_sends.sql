-- Transactional, priority and asynchronous sends (seed 004's send_email options).
--
-- app.email_sends and app.shoots carry the provider's transactional message id (the provider-side
-- template or message stream a send goes through); the ledger keeps the caller's log_params and
-- the email_priority each send was made with.
--
-- app.send_queue is the durable queue behind send_email(async_send=True / defer_send=...): the
-- request is committed here before the call returns, keyed by the email_log_id the call returned,
-- and a drain (the drain_send_queue job, launched by send_queue_sensor) performs it. The drain
-- writes the ledger row under that same email_log_id, so a request drained twice - after a crash
-- between the provider's answer and the queue's update, or by two drains at once - inserts one
-- ledger row and is sent once (docs/dispatch.md, "Asynchronous and deferred sends").
-- Constant defaults: no table rewrite. The check is `not valid`: every existing row has the
-- default, so the scan that validating it would cost a big ledger (under an exclusive lock) buys
-- nothing; new and updated rows are checked all the same.
alter table app.email_sends
    add column if not exists transactional_message_id text,
    add column if not exists log_params jsonb not null default '{}'::jsonb,
    add column if not exists email_priority text not null default 'low';
alter table app.email_sends add constraint email_sends_email_priority_check
    check (email_priority in ('low', 'high')) not valid;

alter table app.shoots
    add column if not exists transactional_message_id text;

create table if not exists app.send_queue (
    email_log_id uuid primary key,              -- returned to the caller; the ledger row's id
    email_priority text not null check (email_priority in ('low', 'high')),
    not_before timestamptz not null,            -- defer_send: not drained before this moment
    request jsonb not null,                     -- recipient, template, settings and options
    state text not null default 'queued' check (state in ('queued', 'done', 'failed')),
    outcome text,                               -- done: the ledger status (sent, dropped, ...)
    error_message text,                         -- failed: why (a business error, at drain time)
    created_at timestamptz not null default now(),
    processed_at timestamptz
);
-- The drain's and the sensor's read: due requests of one priority, oldest first.
create index if not exists send_queue_due_idx on app.send_queue (email_priority, not_before)
    where state = 'queued';
