"""Real senders against real servers on loopback: SES on moto_server, SMTP on aiosmtpd, and the
simulator's events through the SES ingestion into the warehouse."""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    DispatchSettings,
    Emailing,
    EmailRecipient,
    Registry,
    SendFailedError,
)
from orchestration.campaigns.webhooks import dispatch_webhooks
from orchestration.senders.ses import SesSender
from orchestration.senders.simulator import SimulatorSender
from orchestration.senders.smtp import SmtpSender
from tests.fakes.smtp_server import smtp_server
from tests.integration.campaigns.helpers import add_contacts, ledger, moto_sent_messages

pytestmark = pytest.mark.integration

FROM = "News <news@mail.example.com>"


def _raw_messages_for(endpoint: str, addresses: set[str]) -> list[email.message.Message]:
    out = []
    for entry in moto_sent_messages(endpoint):
        raw = entry.get("raw_data") or entry.get("RawData")
        if not raw:
            continue
        message = email.message_from_string(raw)
        if message["To"] and message["To"].lower() in addresses:
            out.append(message)
    return out


def test_campaign_ses_sender_against_moto_server(
    aws_env: str, built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    addresses = add_contacts(built_db, 3, prefix="ses")
    ses = SesSender(configuration_set="mailtrail-events")
    ses.verify_identity("news@mail.example.com")  # SES refuses mail from unverified senders
    requests: list[dict] = []  # moto ignores tags: check what went on the wire instead
    ses.client.meta.events.register(
        "before-send.sesv2.SendEmail",
        lambda request, **_: requests.append(json.loads(request.body)),
    )
    emailing = Emailing(
        built_database_url,
        ses,
        registry,
        DispatchSettings(concurrency=2),
        default_from=FROM,
        clock=lambda: now,
    )
    shoot = emailing.schedule_shoot(
        now, Audience("contacts"), "news", {"title": "SES"}, campaign_name="ses_test"
    )
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert outcome.shoot.sent_count == 3
    rows = built_db.execute(
        "select recipient, email_log_id::text, message_id, provider from app.email_sends"
    ).fetchall()
    messages = {m["To"].lower(): m for m in _raw_messages_for(aws_env, set(addresses))}
    assert set(messages) == set(addresses)
    for recipient, email_log_id, message_id, provider in rows:
        assert provider == "ses" and message_id
        mime = messages[recipient]
        assert mime["X-Email-Log-Id"] == email_log_id
        assert mime["X-Shoot-Id"] == str(shoot.shoot_id) and mime["X-Campaign"] == "ses_test"
        assert mime["Subject"].startswith("SES for Name")
    assert len(requests) == 3
    for request in requests:
        assert request["ConfigurationSetName"] == "mailtrail-events"
        tags = {t["Name"]: t["Value"] for t in request["EmailTags"]}
        assert tags["campaign"] == "ses_test" and tags["shoot_id"] == str(shoot.shoot_id)
        assert tags["email_log_id"] in {r[1] for r in rows} and tags["app"] == "mailtrail"
    emailing.close()


def test_campaign_ses_sender_unverified_sender_is_a_failed_send(
    aws_env: str, built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    emailing = Emailing(
        built_database_url,
        SesSender(),
        registry,
        default_from="x@unverified.example.org",
        clock=lambda: now,
    )
    ada = EmailRecipient("ada", "ada@example.com", {"first_name": "Ada"})
    with pytest.raises(SendFailedError, match="MessageRejected"):
        emailing.send_email(ada, "news", {"title": "x"})
    status, error_type = built_db.execute(
        "select status, error_type from app.email_sends"
    ).fetchone()
    assert (status, error_type) == ("failed", "MessageRejected")


def test_campaign_smtp_sender_against_a_local_smtp_server(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now
) -> None:
    add_contacts(built_db, 4, prefix="smtp")
    add_contacts(built_db, 1, prefix="reject")
    add_contacts(built_db, 1, prefix="busy")
    with smtp_server() as (host, port, handler):
        handler.busy_remaining = 2  # two 451s, then accepted: retried with back-off
        sender = SmtpSender(host=host, port=port)
        emailing = Emailing(
            built_database_url, sender, registry,
            DispatchSettings(concurrency=2, backoff_initial=0.01), default_from=FROM, clock=lambda: now,
        )  # fmt: skip
        shoot = emailing.schedule_shoot(now, Audience("contacts"), "news", {"title": "SMTP"})
        outcome = emailing.send_shoot(shoot.shoot_id)
        emailing.close()
    assert (outcome.shoot.sent_count, outcome.shoot.failed_count) == (5, 1)
    rows = {r[0]: r[1:] for r in built_db.execute(
        "select recipient, status, error_type, message_id, email_log_id::text from app.email_sends"
    )}  # fmt: skip
    assert rows["reject0@example.com"][:2] == ("failed", "recipient_refused")
    received = {r.rcpt_tos[0].lower(): r.message for r in handler.received}
    assert set(received) == {a for a, row in rows.items() if row[0] == "sent"}
    for address, message in received.items():
        _, _, message_id, email_log_id = rows[address]
        assert message["Message-ID"].strip("<>") == message_id
        assert message["X-Email-Log-Id"] == email_log_id
        assert message.is_multipart()


def test_campaign_simulator_events_are_ingested_and_join_back_to_the_ledger(
    built_database_url: str,
    registry: Registry,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now,
) -> None:
    from orchestration.ingestion.landing import list_objects
    from orchestration.ingestion.objects import ingest_objects
    from orchestration.ingestion.sources import SES

    addresses = add_contacts(built_db, 40, prefix="sim")
    built_db.execute(
        "insert into app.contacts (user_id, email_address, first_name) values"
        " ('b1', 'bounce+b1@simulator.amazonses.com', 'Bob'),"
        " ('c1', 'complaint+c1@simulator.amazonses.com', 'Cat')"
    )
    landing = tmp_path / "landing"
    calls: list[tuple[str, str]] = []

    @registry.register_webhook("sim_campaign")
    def _hook(email_log, event_type, occurred_at) -> None:
        calls.append((email_log.email_address, event_type))

    emailing = Emailing(
        built_database_url,
        SimulatorSender(landing=str(landing), seed=11),
        registry,
        clock=lambda: now,
    )
    shoot = emailing.schedule_shoot(
        now, Audience("contacts"), "news", {"title": "Sim"}, campaign_name="sim_campaign"
    )
    assert emailing.send_shoot(shoot.shoot_id).shoot.sent_count == 42
    emailing.close()

    counts = ingest_objects(built_db, SES, list_objects(str(landing), "ses"))
    assert counts.rejected == 0 and counts.loaded == counts.read > 84
    joined = built_db.execute(
        "select count(*) from raw.ses_events e join app.email_sends s"
        " on s.email_log_id::text = e.email_log_id and s.message_id = e.message_id"
        " and s.recipient = e.recipient"
    ).fetchone()[0]
    assert joined == built_db.execute("select count(*) from raw.ses_events").fetchone()[0]
    assert built_db.execute(
        "select count(distinct shoot_id), min(campaign_name), min(app_name) from raw.ses_events"
    ).fetchone() == (1, "sim_campaign", "mailtrail")
    bounce = built_db.execute(
        "select bounce_type from raw.ses_events where event_type = 'Bounce'"
        " and recipient = 'bounce+b1@simulator.amazonses.com'"
    ).fetchone()
    assert bounce == ("Permanent",)

    # Once dbt has built the marts, email logs see the provider events.
    build_marts()
    metrics = emailing.get_email_log_metrics(campaign_names=["sim_campaign"])
    assert metrics.total_count == 42 and metrics.bounced_count >= 1
    assert metrics.delivered_count + metrics.bounced_count + metrics.sent_count == 42
    assert metrics.opened_count > 5
    (bounced,) = emailing.paginate_email_logs(
        1, email_addresses=["bounce+b1@simulator.amazonses.com"]
    ).items
    assert bounced.state == "bounced" and bounced.bounced_at is not None
    assert emailing.paginate_email_logs(1, has_been_delivered=True).total == metrics.delivered_count

    # Webhooks: each event of the campaign once, to the handler registered for it.
    result = dispatch_webhooks(built_db, registry=registry, now=now + timedelta(days=6))
    assert result.source == "marts.fct_email_events" and result.errors == 0
    (events, repeats) = built_db.execute(
        "select count(*), count(*) filter (where is_duplicate) from marts.fct_email_events"
        " where provider = 'ses'"
    ).fetchone()
    # every SES event loaded, once, except repeats (the same open or click again within the
    # duplicate window: docs/engagement.md), which handlers are not given
    assert events == built_db.execute("select count(*) from raw.ses_events").fetchone()[0]
    assert result.calls == events - repeats
    assert ("bounce+b1@simulator.amazonses.com", "bounced") in calls
    assert ("complaint+c1@simulator.amazonses.com", "complained") in calls
    assert sum(1 for _, t in calls if t == "sent") == 42
    assert set(addresses) <= {a for a, _ in calls}
    again = dispatch_webhooks(built_db, registry=registry, now=now + timedelta(days=6))
    assert again.calls == 0  # each event handed over once (app.webhook_deliveries)


def test_campaign_bounced_recipients_are_dropped_by_the_next_shoot(
    built_database_url: str,
    registry: Registry,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now,
) -> None:
    """The loop closed: a hard bounce, ingested and built into marts.suppression_list by dbt,
    keeps the next shoot away."""
    from orchestration.ingestion.landing import list_objects
    from orchestration.ingestion.objects import ingest_objects
    from orchestration.ingestion.sources import SES
    from tests.integration.campaigns.helpers import RecordingSender
    from tests.integration.ses_records import bounce, line

    addresses = add_contacts(built_db, 3)
    (tmp_path / "ses").mkdir()
    (tmp_path / "ses" / "bounce").write_bytes(line(bounce("m-1", [addresses[0]])))
    assert ingest_objects(built_db, SES, list_objects(str(tmp_path), "ses")).loaded == 1
    build_marts()
    sender = RecordingSender()
    emailing = Emailing(built_database_url, sender, registry, clock=lambda: now)
    shoot = emailing.schedule_shoot(now, Audience("contacts"), "news", {"title": "x"})
    emailing.send_shoot(shoot.shoot_id)
    assert ledger(built_db, shoot.shoot_id)[addresses[0]] == (
        "dropped",
        "suppressed:hard_bounce (ses)",
    )
    assert addresses[0] not in sender.addresses()


def test_campaign_ses_untracked_message_has_no_tracked_link(aws_env: str) -> None:
    """EmailSendingOptions(tracked=False) as SES gets it: every link marked ses:no-track."""
    from orchestration.senders.base import OutgoingEmail

    ses = SesSender()
    ses.verify_identity("news@mail.example.com")
    html = (
        '<p><a href="https://example.com/a">a</a> <a class="b" href="https://example.com/b">b</a>'
    )
    for address, tracked in (("untracked@example.com", False), ("tracked@example.com", True)):
        ses.send(
            OutgoingEmail(
                email_log_id=f"log-{address}", from_address=FROM, to_address=address,
                subject="Receipt", html=html, text="a b", tracked=tracked,
            )
        )  # fmt: skip
    bodies = {}
    for mime in _raw_messages_for(aws_env, {"untracked@example.com", "tracked@example.com"}):
        part = next(p for p in mime.walk() if p.get_content_type() == "text/html")
        bodies[mime["To"].lower()] = part.get_payload(decode=True).decode()
    assert bodies["untracked@example.com"].count("<a ses:no-track ") == 2
    assert "ses:no-track" not in bodies["tracked@example.com"]
