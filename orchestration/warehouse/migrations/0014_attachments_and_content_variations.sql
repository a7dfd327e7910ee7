-- Attachments and content variations (seed 004).
--
-- The ledger records what a message carried and which content it was: attachment_filenames
-- (the names of its attachments, in order; empty when none) and custom_blocks_variation_id (the
-- variation of the custom blocks its content was rendered with; null for the default content),
-- so the email logs and the marts can report both, and A/B variations can be compared.
--
-- A shoot keeps its custom blocks (the content a campaign author gave it, each block possibly
-- in several variations) and the variation it renders; an occurrence patch may change the
-- variation (app.shoot_config_overrides.patch carries it like the other patched fields).
alter table app.email_sends
    add column if not exists attachment_filenames text[] not null default '{}',
    add column if not exists custom_blocks_variation_id text;

alter table app.shoots
    add column if not exists custom_blocks jsonb not null default '[]'::jsonb,
    add column if not exists custom_blocks_variation_id text;
