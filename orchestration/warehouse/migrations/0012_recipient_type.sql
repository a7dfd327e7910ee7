-- Seed 004's recipient_type: who a recipient is to the sender (an audience member by default,
-- or e.g. an account admin). Set by the segment (or the caller of send_email) and kept on the
-- email log, so BI and webhooks can tell the kinds of recipient apart.
alter table app.email_sends add column if not exists recipient_type text not null default 'member';
