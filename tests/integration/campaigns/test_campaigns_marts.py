"""Email logs and webhooks read dbt's marts: provider events are landed, ingested and built by
dbt here, and the campaigns see them with the meaning dbt gives them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from orchestration.campaigns import Audience, CustomBlock, Emailing, Registry, Template
from orchestration.campaigns.webhooks import dispatch_webhooks
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from tests.integration.campaigns.helpers import RecordingSender, add_contacts

pytestmark = pytest.mark.integration

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ses_event(
    event_type: str,
    message_id: str,
    recipient: str,
    at: datetime,
    bounce_type: str = "Permanent",
    **tags: str,
) -> dict:
    """An SES event-publishing record of one message to one recipient, tagged as our sends are."""
    mail = {
        "timestamp": _iso(at),
        "source": "news@mail.example.com",
        "messageId": message_id,
        "destination": [recipient],
        "tags": {name: [value] for name, value in tags.items()},
    }
    detail: dict = {"timestamp": _iso(at)}
    key = {"Send": "send", "Delivery": "delivery", "Open": "open", "Click": "click"}.get(
        event_type, event_type.lower()
    )
    if event_type == "Delivery":
        detail["recipients"] = [recipient]
    elif event_type in ("Open", "Click"):
        detail |= {"ipAddress": "203.0.113.9", "userAgent": BROWSER}
        if event_type == "Click":
            detail["link"] = "https://example.com/x"
    elif event_type == "Bounce":
        detail |= {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": recipient}],
        }
    return {"eventType": event_type, "mail": mail, key: detail}


def land_events(db: psycopg.Connection, folder: Path, *records: dict) -> None:
    (folder / "ses").mkdir(parents=True, exist_ok=True)
    (folder / "ses" / "events").write_bytes(b"\n".join(json.dumps(r).encode() for r in records))
    assert ingest_objects(db, SES, list_objects(str(folder), "ses")).rejected == 0


def test_campaign_email_logs_and_webhooks_read_the_marts(
    emailing: Emailing,
    registry: Registry,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now,
) -> None:
    addresses = add_contacts(built_db, 3, account="acme")
    shoot = emailing.schedule_shoot(
        now, Audience("contacts"), "news", {"title": "x"}, campaign_name="m",
        transactional_message_id="tm-draft",
    )  # fmt: skip
    shoot = emailing.patch_shoot(shoot.shoot_id, transactional_message_id="tm-news")
    assert shoot.transactional_message_id == "tm-news"
    assert emailing.duplicate_shoot(shoot.shoot_id).transactional_message_id == "tm-news"
    emailing.send_shoot(shoot.shoot_id)
    rows = built_db.execute(
        "select email_log_id::text, message_id, recipient from app.email_sends order by recipient"
    ).fetchall()
    (log_a, msg_a, addr_a), (log_b, msg_b, addr_b), _ = rows
    tags_a = {"campaign": "m", "shoot_id": str(shoot.shoot_id), "email_log_id": log_a}
    tags_b = {**tags_a, "email_log_id": log_b}
    land_events(
        built_db,
        tmp_path,
        ses_event("Send", msg_a, addr_a, now - timedelta(seconds=1), **tags_a),
        ses_event("Delivery", msg_a, addr_a, now, **tags_a),
        ses_event("Open", msg_a, addr_a, now + timedelta(hours=1), **tags_a),
        ses_event("Click", msg_a, addr_a, now + timedelta(hours=1, minutes=1), **tags_a),
        ses_event("Bounce", msg_b, addr_b, now, **tags_b),
        ses_event("Delivery", "other", "x@example.com", now, campaign="other"),
    )
    build_marts()

    # the ledger's transactional message id and priority reach the mart, for every log
    carried = built_db.execute(
        "select distinct transactional_message_id, email_priority from marts.email_logs"
        " where shoot_id = %s",
        (str(shoot.shoot_id),),
    ).fetchall()
    assert carried == [("tm-news", "low")]

    # the third message has no provider event yet: its log is the ledger's `sent`
    metrics = emailing.get_email_log_metrics(campaign_names=["m"])
    assert (metrics.delivered_count, metrics.bounced_count, metrics.sent_count) == (1, 1, 1)
    assert (metrics.opened_count, metrics.clicked_count) == (1, 1)
    (opened,) = emailing.paginate_email_logs(1, has_been_opened=True).items
    assert opened.email_address == addr_a and opened.opened_at == now + timedelta(hours=1)
    # every log of the shoot carries its recipient's account, and the account's stats count them
    assert built_db.execute(
        "select account_ref, count(*) from marts.email_logs group by 1 order by 1"
    ).fetchall() == [("acme", 3), (None, 1)]
    assert built_db.execute(
        "select account_ref, campaign_name, email_log_count, sent_count, delivered_count,"
        " bounced_count, opened_count, clicked_count from marts.account_campaign_stats"
    ).fetchall() == [("acme", "m", 3, 3, 1, 1, 1, 1)]
    assert emailing.paginate_email_logs(1, account_refs=["acme"], has_been_opened=True).total == 1

    # a duplicate of the open, as dbt flags them (only the open tracker reports any)
    built_db.execute(
        "create temp table dup as select * from marts.fct_email_events"
        " where email_log_id = %s and event_type = 'opened'",
        (log_a,),
    )
    built_db.execute("update dup set event_id = 'dup', is_duplicate = true")
    built_db.execute("insert into marts.fct_email_events select * from dup")
    seen = []
    registry.register_webhook("m", event_types=["opened"])(
        lambda log, event_type, at: seen.append((log.email_address, log.state, event_type, at))
    )
    sent = []
    registry.register_webhook("m", event_types=["sent"], name="on_sent")(
        lambda log, event_type, at: sent.append(at)
    )
    result = dispatch_webhooks(built_db, registry=registry, now=now + timedelta(days=1))
    assert result.source == "marts.fct_email_events"
    assert result.calls == 2  # duplicates, other campaigns and our own ledger events skipped
    assert seen == [(addr_a, "delivered", "opened", now + timedelta(hours=1))]
    assert sent == [now - timedelta(seconds=1)]  # the provider's event only
    assert addresses


def test_campaign_a_send_the_mart_has_not_seen_has_its_ledger_state_until_dbt_builds_it(
    emailing: Emailing,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now,
) -> None:
    """Before the next build a log's state is its ledger status; after it, dbt's: the same for
    a log whose only events are the ledger's, dbt's precedence once the provider reported."""
    statuses = ["queued", "sent", "failed", "skipped", "dropped", "unknown", "soft"]
    for name in statuses:
        status = "sent" if name == "soft" else name
        built_db.execute(
            "insert into app.email_sends (email_log_id, recipient, status, campaign_name,"
            " template_name, message_id, sent_at, created_at, updated_at) values"
            " (gen_random_uuid(), %s, %s, 'ledger', 'news', %s, %s, %s, %s)",
            (
                f"{name}@example.com",
                status,
                f"msg-{name}" if status == "sent" else None,
                now if status == "sent" else None,
                now - timedelta(minutes=1),
                now,
            ),
        )
    # a soft bounce and no delivery: bounced for dbt (it was `sent` for the old Python rules)
    land_events(
        built_db,
        tmp_path,
        ses_event("Bounce", "msg-soft", "soft@example.com", now, bounce_type="Transient"),
    )

    def states() -> dict[str, str]:
        page = emailing.paginate_email_logs(1, campaign_names=["ledger"])
        return {log.email_address.split("@")[0]: str(log.state) for log in page.items}

    before = states()
    assert before == {
        "queued": "pending", "sent": "sent", "failed": "failed", "skipped": "skipped",
        "dropped": "dropped", "unknown": "pending", "soft": "sent",
    }  # fmt: skip
    build_marts()
    assert built_db.execute(
        "select count(*) from marts.email_logs where campaign_name = 'ledger'"
    ).fetchone()[0] == len(statuses)
    assert states() == {**before, "soft": "bounced"}


class Promo(Template):
    def get_attachments(self, recipient, settings):
        return [{"filename": "coupon.txt", "content": f"SPRING-{recipient.user_ref}"}]


PROMO = Promo(
    name="promo",
    subject="{{ blocks.headline }}",
    html='<body>{{ blocks.hero }}<a href="https://example.com/x">x</a></body>',
    custom_blocks=(CustomBlock("headline", "Spring sale"), CustomBlock("hero", "<p>Save 10%</p>")),
)


def test_campaign_content_variations_and_attachments_reach_the_marts(
    emailing: Emailing,
    registry: Registry,
    sender: RecordingSender,
    built_db: psycopg.Connection,
    build_marts: Callable[[], None],
    tmp_path: Path,
    now,
) -> None:
    """A/B: one shoot renders the default content, one variation B; each message's variation
    and attachments reach the email logs, and the variations' stats can be compared."""
    registry.register_template(PROMO)
    free = add_contacts(built_db, 2, prefix="free", plan="free")
    pro = add_contacts(built_db, 2, prefix="pro", plan="pro")
    blocks = [CustomBlock("hero", "<p>Save 20%, {{ user.first_name }}</p>", "B")]
    for plan, variation in (("free", None), ("pro", "B")):
        shoot = emailing.schedule_shoot(
            now, Audience("contacts", {"plan": plan}), "promo", campaign_name="spring",
            custom_blocks=blocks, custom_blocks_variation_id=variation,
        )  # fmt: skip
        emailing.send_shoot(shoot.shoot_id)
    html = {m.to_address: m.html for m in sender.sent}
    assert "<p>Save 10%</p>" in html[free[0]] and "<p>Save 20%, Name1</p>" in html[pro[1]]
    assert {m.subject for m in sender.sent} == {"Spring sale"}
    rows = built_db.execute(
        "select recipient, email_log_id::text, message_id, shoot_id::text from app.email_sends"
    ).fetchall()
    events = []
    for recipient, log_id, message_id, shoot_id in rows:
        tags = {"campaign": "spring", "shoot_id": shoot_id, "email_log_id": log_id}
        kinds = ["Delivery", "Open", "Click"] if recipient in pro else ["Delivery"]
        if recipient == free[0]:
            kinds.append("Open")
        later = {"Delivery": timedelta(0), "Open": timedelta(hours=1), "Click": timedelta(hours=2)}
        events += [ses_event(k, message_id, recipient, now + later[k], **tags) for k in kinds]
    land_events(built_db, tmp_path, *events)
    build_marts()

    logs = {r[0]: r[1:] for r in built_db.execute(
        "select recipient, custom_blocks_variation_id, attachment_filenames"
        " from marts.email_logs where campaign_name = 'spring'"
    )}  # fmt: skip
    assert logs == {
        **{address: (None, ["coupon.txt"]) for address in free},
        **{address: ("B", ["coupon.txt"]) for address in pro},
    }  # fmt: skip
    assert built_db.execute(
        "select custom_blocks_variation_id, unsubscribed_count, sent_count from marts.shoot_stats"
        " order by 1 nulls first"
    ).fetchall() == [(None, 0, 2), ("B", 0, 2)]
    variations = built_db.execute(
        "select custom_blocks_variation_id, shoots, sent, delivered, opened, clicked, open_rate,"
        " click_rate from marts.campaign_variation_stats where campaign_name = 'spring'"
        " order by 1 nulls first"
    ).fetchall()
    assert [tuple(float(v) if v is not None and not isinstance(v, (int, str)) else v
                  for v in row) for row in variations] == [
        (None, 1, 2, 2, 1, 0, 0.5, 0.0),
        ("B", 1, 2, 2, 2, 2, 1.0, 1.0),
    ]  # fmt: skip
    page = emailing.paginate_email_logs(1, custom_blocks_variation_ids=["B"])
    assert sorted(log.email_address for log in page.items) == sorted(pro)
    assert {(log.custom_blocks_variation_id, tuple(log.attachment_filenames))
            for log in page.items} == {("B", ("coupon.txt",))}  # fmt: skip
    default = emailing.paginate_email_logs(1, custom_blocks_variation_ids=[None])
    assert sorted(log.email_address for log in default.items) == sorted(free)
    metrics = emailing.get_email_log_metrics(custom_blocks_variation_ids=[None])
    assert (metrics.total_count, metrics.opened_count, metrics.clicked_count) == (2, 1, 0)
