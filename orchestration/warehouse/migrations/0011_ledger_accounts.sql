-- app.email_sends.account_ref: the account of a shoot's recipient (user_context.account_ref from
-- the segment's row) or the account_ref given to send_email. Read by the account filters of the
-- email-log API (account_refs) and of shoots and plannings ("is this shoot for account X?":
-- account_ref = any(...) and shoot_id = ...). Rows without an account (B2C sends) stay out of
-- the index. account_ref is written once, with the row: the provider's answer never changes it,
-- so the answer stays a HOT update (0006).
create index if not exists email_sends_account_idx on app.email_sends (account_ref, shoot_id)
    where account_ref is not null;
