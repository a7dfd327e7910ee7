-- The UTC days each daily mart must recompute (docs/incremental-builds.md). dbt's
-- int_email_events__day_signatures queues a day, once per daily mart, when the signature of one
-- of its events changed; each daily mart recomputes its queued days and removes them in the
-- same transaction, so a mart that fails finds its days still queued at the next build.
create table if not exists app.daily_mart_dirty_days (
    mart text not null,
    date_day date not null,
    primary key (mart, date_day)
);
