"""Dispatching shoots against a real PostgreSQL: ledger, counters, suppression, limits, dry runs."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    DispatchSettings,
    Emailing,
    EmailRecipient,
    EmailShootState,
    MessageFrequency,
    Registry,
    SendFailedError,
    Template,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.campaigns.errors import MartMissingError
from orchestration.campaigns.frequency import message_count
from orchestration.campaigns.suppression import suppression_reasons
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, ledger

pytestmark = pytest.mark.integration


def _shoot(emailing: Emailing, now, **options):
    return emailing.schedule_shoot(
        now - timedelta(minutes=1),
        Audience("contacts", options.pop("audience_settings", {}), options.pop("limit", None)),
        "news",
        options.pop("template_settings", {"title": "Hello"}),
        campaign_name=options.pop("campaign_name", "test_campaign"),
        **options,
    )


def test_campaign_dispatch_sends_each_recipient_once_and_counts(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    addresses = add_contacts(built_db, 23)  # page size 7: four pages
    shoot = _shoot(emailing, now)
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert outcome.claimed and outcome.shoot.state == EmailShootState.completed
    assert sender.addresses() == {a: 1 for a in addresses}
    assert outcome.shoot.recipient_count == 23 and outcome.shoot.sent_count == 23
    assert outcome.shoot.started_at == now and outcome.shoot.completed_at == now
    rows = built_db.execute(
        "select status, message_id, provider, campaign_name, template_name, subject, user_id"
        " from app.email_sends where shoot_id = %s",
        (shoot.shoot_id,),
    ).fetchall()
    assert {r[0] for r in rows} == {"sent"} and all(r[1].startswith("msg-") for r in rows)
    assert {(r[2], r[3], r[4]) for r in rows} == {("recording", "test_campaign", "news")}
    assert {r[5] for r in rows} == {f"Hello for Name{i}" for i in range(23)}
    # tags and headers that join provider events back to the ledger
    message = sender.sent[0]
    assert message.tags()["shoot_id"] == str(shoot.shoot_id)
    assert message.tags()["email_log_id"] in {
        str(r) for (r,) in built_db.execute("select email_log_id from app.email_sends")
    }
    # A second dispatch finds nothing to claim and sends nothing.
    again = emailing.send_shoot(shoot.shoot_id)
    assert not again.claimed and len(sender.sent) == 23


def test_an_address_of_two_users_on_two_pages_is_sent_once(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    """The next page is sorted while this one is being sent (before its rows are committed):
    an address this page sends comes again on the next one, and is still sent once."""
    addresses = add_contacts(built_db, 23)  # page size 7, by user: 0-6, 7-13, 14-20, 21-22
    # user 7 (page 2) shares user 6's address (page 1), user 16 (page 3) user 2's (page 1),
    # in another case and with spaces
    built_db.execute(
        "update app.contacts set email_address = case user_id"
        " when 'user-00007' then 'user6@example.com' else ' USER2@example.com ' end"
        " where user_id in ('user-00007', 'user-00016')"
    )
    shoot = _shoot(emailing, now)
    outcome = emailing.send_shoot(shoot.shoot_id)
    expected = set(addresses) - {"user7@example.com", "user16@example.com"}
    assert sender.addresses() == {a: 1 for a in expected}
    assert outcome.shoot.recipient_count == 21 and outcome.shoot.sent_count == 21
    assert outcome.counts == {"sent": 21, "already_recorded": 2}


def test_campaign_empty_audience_skips_the_shoot(emailing: Emailing, built_db, sender, now) -> None:
    shoot = _shoot(emailing, now)
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert outcome.shoot.state == EmailShootState.skipped and sender.sent == []


def test_campaign_suppressed_recipients_are_dropped_with_the_reason(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    addresses = add_contacts(built_db, 6)
    # rows of the dbt-built mart, written directly (an upper-case address, as a provider may
    # report it, checks that matching ignores case)
    built_db.execute(
        "insert into marts.suppression_list values (%s, 'hard_bounce', now(), now(), 'ses'),"
        " (%s, 'complaint', now(), now(), 'ses')",
        (addresses[0].upper(), addresses[1]),
    )
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'unsubscribe')",
        (addresses[2],),
    )
    built_db.execute(
        "update app.contacts set email_address = 'not-an-address' where user_id = 'user-00005'"
    )
    shoot = _shoot(emailing, now)
    outcome = emailing.send_shoot(shoot.shoot_id)
    rows = ledger(built_db, shoot.shoot_id)
    assert rows[addresses[0]] == ("dropped", "suppressed:hard_bounce (ses)")
    assert rows[addresses[1]] == ("dropped", "suppressed:complaint (ses)")
    assert rows[addresses[2]] == ("dropped", "suppressed:unsubscribe (app)")
    assert rows["not-an-address"] == ("dropped", "invalid_address")
    assert set(sender.addresses()) == {addresses[3], addresses[4]}
    assert (outcome.shoot.dropped_count, outcome.shoot.sent_count) == (4, 2)


def test_suppression_lookup_is_indexed_and_right_once_the_statement_is_prepared(
    built_db: psycopg.Connection,
) -> None:
    """Each page of a dispatch looks its addresses up in the mart: dbt gives it an index on
    lower(recipient), and the answer stays the same when psycopg prepares the statement (from
    its fifth run on a connection), whose generic plan no longer sees the page's addresses."""
    indexes = [
        row[0]
        for row in built_db.execute(
            "select indexdef from pg_indexes where schemaname = 'marts'"
            " and tablename = 'suppression_list'"
        )
    ]
    assert any("lower(recipient)" in definition for definition in indexes), indexes
    built_db.execute(
        "insert into marts.suppression_list select 'user' || i || '@EXAMPLE.com', 'hard_bounce',"
        " now(), now(), 'ses' from generate_series(0, 2999, 3) i"
    )
    built_db.execute("insert into app.suppressions values ('user1@example.com', 'manual')")
    page = [f"user{i}@example.com" for i in range(2000)]
    expected = {address: "suppressed:hard_bounce (ses)" for address in page[::3]}
    expected["user1@example.com"] = "suppressed:manual (app)"
    for _ in range(8):
        assert suppression_reasons(built_db, page) == expected


def test_campaign_app_suppressions_drop_recipients_the_mart_does_not_list(
    emailing: Emailing, built_db, sender, now
) -> None:
    addresses = add_contacts(built_db, 2)
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'manual')", (addresses[0],)
    )
    outcome = emailing.send_shoot(_shoot(emailing, now).shoot_id)
    assert set(sender.addresses()) == {addresses[1]} and outcome.shoot.dropped_count == 1


def test_campaign_nothing_is_sent_before_dbt_built_the_suppression_list(
    database_url: str, registry: Registry, db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    """A warehouse dbt never built (migrations only): dispatch says which mart is missing and
    what to run, and leaves the shoot as it was."""
    add_contacts(db, 2)
    emailing = Emailing(database_url, sender, registry, clock=lambda: now)
    shoot = _shoot(emailing, now)
    missing = (
        r"^marts\.suppression_list does not exist: run `mailtrail build` \(the build_marts job\)"
    )
    with pytest.raises(MartMissingError, match=missing):
        emailing.send_shoot(shoot.shoot_id)
    with pytest.raises(MartMissingError, match=missing):
        emailing.batch_send_shoot(scheduled_before=now)
    with pytest.raises(MartMissingError, match=missing):
        emailing.send_email(EmailRecipient("u", "u@example.com", {"first_name": "U"}), "news",
                            {"title": "x"}, silent_failure=True)  # fmt: skip
    assert sender.calls == 0
    assert db.execute("select count(*) from app.email_sends").fetchone()[0] == 0
    stored = emailing.get_shoot(shoot.shoot_id)
    assert (stored.state, stored.started_at) == (EmailShootState.scheduled, None)
    with pytest.raises(MartMissingError, match=r"^marts\.email_logs does not exist"):
        emailing.paginate_email_logs(1)


def test_campaign_frequency_limit_across_shoots(emailing: Emailing, built_db, sender, now) -> None:
    addresses = add_contacts(built_db, 5)
    limit = MessageFrequency(idempotency_key="welcome", message_limit=1)
    first = emailing.send_shoot(_shoot(emailing, now, message_frequency=limit).shoot_id)
    second = emailing.send_shoot(_shoot(emailing, now, message_frequency=limit).shoot_id)
    assert first.shoot.sent_count == 5
    assert (second.shoot.sent_count, second.shoot.skipped_count) == (0, 5)
    assert {status for status, _ in ledger(built_db, second.shoot.shoot_id).values()} == {"skipped"}
    reason = ledger(built_db, second.shoot.shoot_id)[addresses[0]][1]
    assert reason == "message_frequency: limit of 1 reached for key 'welcome'"
    # A limit over every message counts both shoots' messages.
    third = emailing.send_shoot(
        _shoot(emailing, now, message_frequency=MessageFrequency(message_limit=1)).shoot_id
    )
    assert third.shoot.skipped_count == 5
    assert message_count(built_db, "user-00000") == 1
    assert len(sender.sent) == 5


def test_campaign_frequency_limit_holds_under_two_concurrent_dispatches(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, tmp_path: Path, now
) -> None:
    """Two shoots to the same 40 users with a shared limit of 1, dispatched at the same time by
    two services with 4 workers each, on slow senders so their sends overlap."""
    addresses = add_contacts(built_db, 40)
    limit = MessageFrequency(idempotency_key="one_per_user", message_limit=1)
    senders = [RecordingSender(delay=0.01), RecordingSender(delay=0.01)]
    services = [
        Emailing(
            built_database_url,
            s,
            registry,
            DispatchSettings(concurrency=4, page_size=10),
            clock=lambda: now,
        )
        for s in senders
    ]
    shoots = [
        services[0].schedule_shoot(now, Audience("contacts"), "news", {"title": "A"},
                                   campaign_name="a", message_frequency=limit),
        services[0].schedule_shoot(now, Audience("contacts"), "news", {"title": "B"},
                                   campaign_name="b", message_frequency=limit),
    ]  # fmt: skip
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            services[index].send_shoot(shoots[index].shoot_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    total = senders[0].addresses() + senders[1].addresses()
    assert total == {a: 1 for a in addresses}  # every user exactly once, never over the limit
    assert len(senders[0].sent) > 0 and len(senders[1].sent) > 0  # they really raced
    counts = built_db.execute(
        "select max(message_count) from app.message_counters where idempotency_key = 'one_per_user'"
    ).fetchone()[0]
    assert counts == 1
    statuses = built_db.execute(
        "select status, count(*) from app.email_sends group by 1"
    ).fetchall()
    assert dict(statuses) == {"sent": 40, "skipped": 40}


def test_campaign_two_dispatchers_on_the_same_shoot_send_it_once(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    addresses = add_contacts(built_db, 30)
    senders = [RecordingSender(delay=0.005), RecordingSender(delay=0.005)]
    services = [
        Emailing(
            built_database_url,
            s,
            registry,
            DispatchSettings(concurrency=3, page_size=5),
            clock=lambda: now,
        )
        for s in senders
    ]
    shoot = services[0].schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    barrier = threading.Barrier(2)
    outcomes = []

    def run(index: int) -> None:
        barrier.wait()
        outcomes.append(services[index].batch_send_shoot(scheduled_before=now))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(o) for o in outcomes) == 1  # exactly one of them claimed it
    assert senders[0].addresses() + senders[1].addresses() == {a: 1 for a in addresses}
    assert services[0].get_shoot(shoot.shoot_id).state == EmailShootState.completed


def test_campaign_dry_run_shoot_logs_flagged_rows_and_calls_no_provider(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    add_contacts(built_db, 4)
    shoot = _shoot(emailing, now, dry_run=True)
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert sender.calls == 0
    assert outcome.shoot.state == EmailShootState.completed
    assert (outcome.shoot.pending_count, outcome.shoot.sent_count) == (4, 0)
    rows = built_db.execute(
        "select status, reason, is_dry_run, message_id from app.email_sends"
    ).fetchall()
    assert rows and all(r == ("queued", "dry_run", True, None) for r in rows)
    assert built_db.execute("select count(*) from app.message_counters").fetchone()[0] == 0
    page = emailing.paginate_email_logs(1, is_dry_run=True)
    assert page.total == 4 and all(log.is_dry_run and log.state == "pending" for log in page.items)
    assert emailing.paginate_email_logs(1).total == 0  # real sends only by default
    metrics = emailing.get_email_log_metrics(is_dry_run=True)
    assert (metrics.pending_count, metrics.total_count) == (4, 4)


def test_campaign_send_shoot_dry_run_rehearses_without_writing(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    addresses = add_contacts(built_db, 5)
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'manual')", (addresses[0],)
    )
    shoot = _shoot(emailing, now)
    rehearsal = emailing.send_shoot(shoot.shoot_id, dry_run=True)
    assert rehearsal.rehearsal and rehearsal.counts == {"dropped": 1, "queued": 4}
    assert sender.calls == 0
    assert built_db.execute("select count(*) from app.email_sends").fetchone()[0] == 0
    assert emailing.get_shoot(shoot.shoot_id).state == EmailShootState.scheduled
    assert emailing.send_shoot(shoot.shoot_id).shoot.sent_count == 4


def test_campaign_missing_template_setting_is_a_clear_error_at_schedule_and_dispatch(
    emailing: Emailing, registry: Registry, built_db: psycopg.Connection, sender, now
) -> None:
    add_contacts(built_db, 3)
    with pytest.raises(TemplateSettingsMissingKeyError, match=r"'title'.*'news'"):
        _shoot(emailing, now, template_settings={})
    # A setting only the body uses (not declared required) is caught when rendering: the shoot
    # stops with the error recorded, nobody is sent anything, and the sensor leaves it alone.
    registry.register_template(
        Template(name="promo", subject="Promo", html="<p>{{ settings.discount }}% off</p>")
    )
    shoot = emailing.schedule_shoot(now, Audience("contacts"), "promo", {})
    with pytest.raises(TemplateSettingsMissingKeyError, match=r"'discount'.*'promo'"):
        emailing.send_shoot(shoot.shoot_id)
    stored = emailing.get_shoot(shoot.shoot_id)
    assert (
        stored.error_type == "template_settings_not_found" and "'discount'" in stored.error_message
    )
    assert sender.calls == 0
    assert list_due_shoots(built_db, now) == []
    # Fixing the shoot clears the error; it is dispatched again.
    emailing.patch_shoot(shoot.shoot_id, template_settings={"discount": 20})
    assert [d.shoot_id for d in list_due_shoots(built_db, now)] == [shoot.shoot_id]
    assert emailing.send_shoot(shoot.shoot_id).shoot.sent_count == 3


def test_campaign_cancelling_a_shoot_stops_its_dispatch(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    add_contacts(built_db, 30)
    shoot = _shoot(emailing, now)

    def cancel_after_some(message):
        if len(sender.sent) == 3:
            with psycopg.connect(emailing.database_url, autocommit=True) as conn:
                conn.execute(
                    "update app.shoots set state = 'cancelled' where shoot_id = %s",
                    (shoot.shoot_id,),
                )

    original = sender.send

    def send(message):
        result = original(message)
        cancel_after_some(message)
        return result

    sender.send = send  # type: ignore[method-assign]
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert outcome.shoot.state == EmailShootState.cancelled
    assert 3 <= len(sender.sent) < 30


def test_campaign_provider_errors_are_failed_and_throttling_is_retried(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    addresses = add_contacts(built_db, 5)
    sender.fail_for = {addresses[1]}
    sender.throttle_first = 3
    limit = MessageFrequency(idempotency_key="k", message_limit=1)
    outcome = emailing.send_shoot(_shoot(emailing, now, message_frequency=limit).shoot_id)
    assert (outcome.shoot.sent_count, outcome.shoot.failed_count) == (4, 1)
    row = built_db.execute(
        "select status, error_type, error_message from app.email_sends where recipient = %s",
        (addresses[1],),
    ).fetchone()
    assert row[0] == "failed" and row[1] == "MessageRejected" and "blacklisted" in row[2]
    # a refused message does not count against the user's limit
    assert (
        message_count(built_db, "user-00001", "k") == 0
        and message_count(built_db, "user-00000", "k") == 1
    )


def test_campaign_send_email_and_batch_send_email(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, tmp_path: Path
) -> None:
    ada = EmailRecipient("ada", "Ada@Example.com", {"first_name": "Ada"})
    log_id = emailing.send_email(ada, "news", {"title": "Hi"}, message_metadata={"order": 42})
    assert log_id is not None and sender.sent[-1].to_address == "Ada@Example.com"
    (log,) = emailing.paginate_email_logs(1, email_logs_ids=[log_id]).items
    assert log.email_address == "ada@example.com" and log.state == "sent" and log.shoot_id is None
    assert emailing.paginate_email_logs(1, message_metadata={"order": 42}).total == 1

    # dry run: nothing sent, no log (seed 004)
    assert emailing.send_email(ada, "news", {"title": "Hi"}, dry_run=True) is None
    assert (
        sender.calls == 1
        and built_db.execute("select count(*) from app.email_sends").fetchone()[0] == 1
    )

    # missing setting: raised, or logged as failed with silent_failure
    with pytest.raises(TemplateSettingsMissingKeyError):
        emailing.send_email(ada, "news", {})
    assert emailing.send_email(ada, "news", {}, silent_failure=True) is None

    # drafts go to the drafts outbox and are logged as sent
    drafted = emailing.send_email(ada, "news", {"title": "Draft"}, enqueue_as_draft=True)
    assert (tmp_path / "drafts" / f"{drafted}.eml").exists() and sender.calls == 1
    (draft_log,) = emailing.paginate_email_logs(1, email_logs_ids=[drafted]).items
    assert draft_log.provider == "draft" and draft_log.state == "sent"

    people = [
        EmailRecipient(f"p{i}", f"p{i}@example.com", {"first_name": f"P{i}"}) for i in range(6)
    ]
    sender.fail_for = {"p3@example.com"}
    results = emailing.batch_send_email(people, "news", {"title": "Batch"}, campaign_name="batch")
    assert [r.status for r in results] == ["sent", "sent", "sent", "failed", "sent", "sent"]
    with pytest.raises(SendFailedError, match=r"p3@example\.com"):
        emailing.batch_send_email(people[3:4], "news", {"title": "Again"}, silent_failure=False)
    with pytest.raises(SendFailedError):
        emailing.send_email(people[3], "news", {"title": "Again"})
    metrics = emailing.get_email_log_metrics(campaign_names=["batch"])
    assert (metrics.sent_count, metrics.failed_count, metrics.total_count) == (5, 1, 6)


def test_campaign_paginate_email_logs_filters(emailing: Emailing, built_db, sender, now) -> None:
    add_contacts(built_db, 12)
    shoot = _shoot(emailing, now)
    emailing.send_shoot(shoot.shoot_id)
    first = emailing.paginate_email_logs(1, per_page=5, campaign_names=["test_campaign"])
    last = emailing.paginate_email_logs(3, per_page=5, campaign_names=["test_campaign"])
    assert (first.total, len(first.items), len(last.items), first.has_next, last.has_next) == (
        12,
        5,
        2,
        True,
        False,
    )
    assert (
        emailing.paginate_email_logs(1, user_ids=["user-00003"]).items[0].email_address
        == "user3@example.com"
    )
    assert emailing.paginate_email_logs(1, email_addresses=["USER4@example.com"]).total == 1
    assert emailing.paginate_email_logs(1, template_names=["news"], has_been_sent=True).total == 12
    assert emailing.paginate_email_logs(1, has_been_delivered=True).total == 0
    assert emailing.paginate_email_logs(1, has_failed=True).total == 0
    assert emailing.paginate_email_logs(1, state="sent").total == 12
    assert emailing.paginate_email_logs(1, sent_after=now + timedelta(seconds=1)).total == 0
    some = emailing.paginate_email_logs(1).items[0]
    assert emailing.paginate_email_logs(1, delivery_ids=[some.delivery_id]).items[0] == some


def test_campaign_audience_limit_settings_and_preview(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    add_contacts(built_db, 10)
    pro = add_contacts(built_db, 4, prefix="pro", plan="pro")
    limited = emailing.send_shoot(_shoot(emailing, now, limit=6).shoot_id)
    assert limited.shoot.recipient_count == 6
    only_pro = emailing.send_shoot(
        _shoot(emailing, now, audience_settings={"plan": "pro"}).shoot_id
    )
    assert set(ledger(built_db, only_pro.shoot.shoot_id)) == set(pro)
    preview = emailing.preview_email(
        "news", {"title": "Preview"}, EmailRecipient("u", "u@example.com", {"first_name": "Una"})
    )
    assert preview.subject == "Preview for Una" and "Hi Una" in preview.html
    with pytest.raises(TemplateSettingsMissingKeyError):
        emailing.preview_email("news", {})
