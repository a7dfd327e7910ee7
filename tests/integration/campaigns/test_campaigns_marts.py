"""When dbt has built the marts, email logs and webhooks read them (tables created here with the
contract columns of DESIGN.md, as the dbt owner's models will have them)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from orchestration.campaigns import Audience, Emailing, Registry
from orchestration.campaigns.webhooks import dispatch_webhooks
from tests.integration.campaigns.helpers import add_contacts

pytestmark = pytest.mark.integration


def _create_marts(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(
        "create table marts.email_logs (email_log_id text, message_id text, provider text,"
        " campaign_name text, shoot_id text, recipient text, state text, is_dry_run boolean,"
        " queued_at timestamptz, sent_at timestamptz, delivered_at timestamptz,"
        " bounced_at timestamptz, dropped_at timestamptz, opened boolean,"
        " first_opened_at timestamptz, clicked boolean)"
    )
    conn.execute(
        "create table marts.fct_email_events (event_id text, email_log_id text, message_id text,"
        " provider text, event_type text, occurred_at timestamptz, recipient text,"
        " campaign_name text, shoot_id text, is_duplicate boolean)"
    )


def test_campaign_email_logs_and_webhooks_read_the_marts(
    emailing: Emailing, registry: Registry, db: psycopg.Connection, now
) -> None:
    addresses = add_contacts(db, 3)
    shoot = emailing.schedule_shoot(
        now, Audience("contacts"), "news", {"title": "x"}, campaign_name="m"
    )
    emailing.send_shoot(shoot.shoot_id)
    _create_marts(db)
    rows = db.execute(
        "select email_log_id::text, message_id, recipient from app.email_sends order by recipient"
    ).fetchall()
    (log_a, msg_a, addr_a), (log_b, msg_b, addr_b), _ = rows
    db.execute(
        "insert into marts.email_logs (email_log_id, message_id, recipient, campaign_name, state,"
        " delivered_at, bounced_at, opened, first_opened_at, clicked) values"
        " (%s, %s, %s, 'm', 'delivered', %s, null, true, %s, true),"
        " (%s, %s, %s, 'm', 'bounced', null, %s, false, null, false)",
        (log_a, msg_a, addr_a, now, now + timedelta(hours=1), log_b, msg_b, addr_b, now),
    )
    metrics = emailing.get_email_log_metrics(campaign_names=["m"])
    assert (metrics.delivered_count, metrics.bounced_count, metrics.sent_count) == (1, 1, 1)
    assert (metrics.opened_count, metrics.clicked_count) == (1, 1)
    (opened,) = emailing.paginate_email_logs(1, has_been_opened=True).items
    assert opened.email_address == addr_a and opened.opened_at == now + timedelta(hours=1)

    db.execute(
        "insert into marts.fct_email_events values"
        " ('e1', %s, %s, 'ses', 'delivered', %s, %s, 'm', %s, false),"
        " ('e2', %s, %s, 'ses', 'opened', %s, %s, 'm', %s, false),"
        " ('e2dup', %s, %s, 'ses', 'opened', %s, %s, 'm', %s, true),"
        " ('e3', null, 'other', 'ses', 'delivered', %s, 'x@example.com', 'other', null, false),"
        # our ledger's own event of the send, beside the provider's: not a received event
        " ('l1:outcome', %s, %s, 'mailtrail', 'sent', %s, %s, 'm', %s, false),"
        " ('e0', %s, %s, 'ses', 'sent', %s, %s, 'm', %s, false)",
        (
            log_a, msg_a, now, addr_a, str(shoot.shoot_id),
            log_a, msg_a, now + timedelta(hours=1), addr_a, str(shoot.shoot_id),
            log_a, msg_a, now + timedelta(hours=1), addr_a, str(shoot.shoot_id),
            now,
            log_a, msg_a, now - timedelta(seconds=2), addr_a, str(shoot.shoot_id),
            log_a, msg_a, now - timedelta(seconds=1), addr_a, str(shoot.shoot_id),
        ),
    )  # fmt: skip
    seen = []
    registry.register_webhook("m", event_types=["opened"])(
        lambda log, event_type, at: seen.append((log.email_address, log.state, event_type, at))
    )
    sent = []
    registry.register_webhook("m", event_types=["sent"], name="on_sent")(
        lambda log, event_type, at: sent.append(at)
    )
    result = dispatch_webhooks(db, registry=registry, now=now + timedelta(days=1))
    assert result.source == "marts.fct_email_events"
    assert result.calls == 2  # duplicates, other campaigns and our own ledger events skipped
    assert seen == [(addr_a, "delivered", "opened", now + timedelta(hours=1))]
    assert sent == [now - timedelta(seconds=1)]  # the provider's event only
    assert addresses
