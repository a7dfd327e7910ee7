-- app.shoots: a dispatch adds to its shoot's counters (recipient_count, sent_count, ...) in every
-- transaction that writes the ledger - thousands of updates of one row per shoot (docs/dispatch.md).
-- The load_xid trigger (0010) changes an indexed column with each of them, so none was a HOT
-- update: each added an entry to every index of app.shoots and left a dead version behind, which
-- every later lookup of that shoot stepped over until a vacuum - the next counter update, and the
-- foreign-key check of each ledger row inserted (email_sends.shoot_id), ~20 us a row at 1M
-- recipients. Without the index these updates are HOT (fillfactor 50 leaves each page room for the
-- new version) and the dead versions are pruned as the page is read. app.shoots holds one row per
-- shoot: a build finds the shoots it did not see yet (load_xid) with a sequential scan of it.
drop index if exists app.shoots_load_xid_idx;
alter table app.shoots set (fillfactor = 50);
