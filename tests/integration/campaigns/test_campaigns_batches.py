"""A shoot sent as batches side by side (threads here; steps on different workers in Dagster):
every recipient exactly once, and a batch that dies is resumed alone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import Audience, DispatchSettings, Emailing, EmailShootState, Registry
from orchestration.campaigns import registry as global_registry
from orchestration.campaigns.batches import ShootBatch, send_batch, start_batches
from orchestration.campaigns.dispatch import list_due_shoots
from orchestration.defs.campaigns.dispatch import dispatch_shoot_batches_job
from orchestration.defs.campaigns.resources import EmailingResource, SenderResource
from orchestration.defs.resources import WarehouseResource
from orchestration.demo.campaign import (
    DEMO_CAMPAIGN,
    DEMO_SEGMENT,
    DEMO_TEMPLATE,
    register_demo,
    seed_demo_contacts,
)
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, ledger

pytestmark = pytest.mark.integration


def _service(url: str, registry: Registry, sender: RecordingSender, now, **settings) -> Emailing:
    options = {"concurrency": 3, "page_size": 25, **settings}
    return Emailing(url, sender, registry, DispatchSettings(**options), clock=lambda: now)


def test_campaign_shoot_sent_as_concurrent_batches_reaches_everyone_once(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    addresses = add_contacts(built_db, 150)
    built_db.execute(
        "insert into app.suppressions (recipient, reason) values (%s, 'manual')", (addresses[3],)
    )
    sender = RecordingSender(delay=0.002)
    service = _service(built_database_url, registry, sender, now)
    shoot = service.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    outcome = service.send_shoot_in_batches(shoot.shoot_id, 3)
    assert sender.addresses() == {a: 1 for a in addresses if a != addresses[3]}
    assert ledger(built_db, shoot.shoot_id)[addresses[3]][0] == "dropped"
    final = outcome.shoot
    assert final.state == EmailShootState.completed
    assert (final.sent_count, final.dropped_count, final.recipient_count) == (149, 1, 150)
    assert outcome.counts == {"sent": 149, "dropped": 1}


def test_campaign_two_processes_running_the_same_batches_send_each_recipient_once(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    """Two workers given every batch of one shoot at once (a retried step beside the original,
    two runs): each batch runs in one of them, and nobody is sent twice."""
    addresses = add_contacts(built_db, 120)
    senders = [RecordingSender(delay=0.002), RecordingSender(delay=0.002)]
    services = [_service(built_database_url, registry, s, now) for s in senders]
    shoot = services[0].schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    batches = start_batches(services[0].context(), shoot.shoot_id, 2)
    assert [(b.index, b.count) for b in batches] == [(0, 2), (1, 2)]
    barrier = threading.Barrier(4)
    claimed: list[tuple[int, bool]] = []

    def run(service: Emailing, batch: ShootBatch) -> None:
        barrier.wait()
        claimed.append((batch.index, send_batch(service.context(), batch).claimed))

    threads = [
        threading.Thread(target=run, args=(service, batch))
        for service in services
        for batch in batches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert senders[0].addresses() + senders[1].addresses() == {a: 1 for a in addresses}
    # whatever the interleaving, every batch was sent by someone
    assert {index for index, was_claimed in claimed if was_claimed} <= {0, 1}
    rows = ledger(built_db, shoot.shoot_id)
    assert set(rows) == set(addresses) and {s for s, _ in rows.values()} == {"sent"}


def test_campaign_a_batch_that_dies_is_resumed_alone(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    addresses = add_contacts(built_db, 80)
    crashing = RecordingSender(crash_after=10)
    first = _service(built_database_url, registry, crashing, now, concurrency=1)
    shoot = first.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    with pytest.raises(KeyboardInterrupt):
        first.send_shoot_in_batches(shoot.shoot_id, 2)
    assert first.get_shoot(shoot.shoot_id).state == EmailShootState.sending
    assert [d.shoot_id for d in list_due_shoots(built_db, now)] == [shoot.shoot_id]
    before = ledger(built_db, shoot.shoot_id)
    in_flight = {a for a, (s, _) in before.items() if s == "queued"}
    assert 1 <= len(in_flight) <= 2  # one per batch at most (concurrency 1)

    resumed_sender = RecordingSender()
    resumed = _service(built_database_url, registry, resumed_sender, now)
    outcome = resumed.send_shoot_in_batches(shoot.shoot_id, 2)
    assert outcome.recovered_unknown == len(in_flight)
    sent = crashing.addresses() + resumed_sender.addresses()
    assert max(sent.values()) == 1
    assert not in_flight & set(resumed_sender.addresses())
    after = ledger(built_db, shoot.shoot_id)
    assert {a for a, (s, _) in after.items() if s == "unknown"} == in_flight
    assert set(sent) | in_flight == set(addresses) == set(after)
    assert outcome.shoot.state == EmailShootState.completed
    assert outcome.shoot.sent_count == 80 - len(in_flight)


def test_campaign_batched_dispatch_job_fans_out_one_step_per_batch(
    built_database_url: str, built_db: psycopg.Connection, tmp_path: Path
) -> None:
    """The Dagster job: a step per batch (what a multi-worker executor spreads), then the
    shoot completed; the outbox holds exactly one message per recipient."""
    register_demo()
    try:
        seed_demo_contacts(built_db, 40)
        now = datetime.now(UTC)
        scheduler = Emailing(built_database_url, RecordingSender(), global_registry,
                             clock=lambda: now)  # fmt: skip
        shoot = scheduler.schedule_shoot(
            now, Audience(DEMO_SEGMENT), DEMO_TEMPLATE, {"headline": "h", "edition": "Monday"},
            campaign_name="batched",
        )  # fmt: skip
        resources = {
            "emailing": EmailingResource(
                warehouse=WarehouseResource(database_url=built_database_url),
                sender=SenderResource(kind="outbox", landing_url=str(tmp_path / "landing"),
                                      outbox_dir=str(tmp_path / "outbox")),
                drafts_dir=str(tmp_path / "drafts"),
            ),
        }  # fmt: skip
        result = dispatch_shoot_batches_job.execute_in_process(
            run_config={"ops": {"start_shoot_batches": {"config": {
                "shoot_id": str(shoot.shoot_id), "batches": 3}}}},
            resources=resources,
        )  # fmt: skip
        assert result.success
        steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
        assert {f"send_shoot_batch[batch_{i}]" for i in range(3)} <= steps
        final = scheduler.get_shoot(shoot.shoot_id)
        assert final.state == EmailShootState.completed
        rows = ledger(built_db, shoot.shoot_id)
        sent = {a for a, (s, _) in rows.items() if s == "sent"}
        assert final.sent_count == len(sent) > 0
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == len(sent)
    finally:
        global_registry.unregister_recurring(DEMO_CAMPAIGN)


def test_campaign_batches_share_the_audience_limit(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    """An audience limit is the shoot's: its batches together send to the first ``limit``
    recipients, as a single dispatch would."""
    addresses = add_contacts(built_db, 60)
    sender = RecordingSender()
    service = _service(built_database_url, registry, sender, now)
    shoot = service.schedule_shoot(now, Audience("contacts", limit=25), "news", {"title": "x"})
    outcome = service.send_shoot_in_batches(shoot.shoot_id, 3)
    assert sender.addresses() == {a: 1 for a in addresses[:25]}
    assert outcome.shoot.sent_count == 25


def test_campaign_a_long_dispatch_logs_how_far_it_got(
    built_database_url: str,
    registry: Registry,
    built_db: psycopg.Connection,
    now,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    monkeypatch.setattr("orchestration.campaigns.page_sending.PROGRESS_SECONDS", 0.0)
    add_contacts(built_db, 60)
    service = _service(built_database_url, registry, RecordingSender(), now)
    shoot = service.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    with caplog.at_level(logging.INFO, logger="orchestration.campaigns.page_sending"):
        service.send_shoot(shoot.shoot_id)
    lines = [r.getMessage() for r in caplog.records if "handled so far" in r.getMessage()]
    # a line per page of 25 (the last page's is the whole shoot)
    assert lines[-1] == f"shoot {shoot.shoot_id}: 60 recipients handled so far (sent 60)"
    assert len(lines) == 3
