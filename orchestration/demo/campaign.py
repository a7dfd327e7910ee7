"""The demo campaign: a daily digest to ``app.contacts``, sent through the SES simulator.

``register_demo`` adds the campaign, its segment and template to a registry (the Dagster code
location registers them in the global one). ``run_demo_campaign`` is the campaign half of
``make demo``: seed the contacts, then plan and dispatch the last few days' shoots, each at its
own scheduled time on a simulated clock, so the simulator's events spread over those days the way
a real week of sends would. It is idempotent: a second run finds every shoot completed and sends
nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from orchestration.campaigns.campaign import EmailSendingOptions, RecurringCampaign
from orchestration.campaigns.clock import ReplayClock
from orchestration.campaigns.context import DispatchSettings
from orchestration.campaigns.dispatch import ShootOutcome
from orchestration.campaigns.entities import EmailLog, EmailShootConfig
from orchestration.campaigns.recurrence import Occurrence
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.registry import registry as default_registry
from orchestration.campaigns.segments import SqlSegment
from orchestration.campaigns.service import Emailing
from orchestration.campaigns.templates import Template
from orchestration.senders.base import Sender

logger = logging.getLogger(__name__)

DEMO_CAMPAIGN = "demo_daily_digest"
DEMO_SEGMENT = "demo_contacts"
DEMO_TEMPLATE = "demo_daily_digest"
DEMO_TIMEZONE = "Europe/Paris"
DEMO_SENDER = "Mailtrail Demo <digest@mail.example.com>"

DEMO_SEGMENT_SQL = """
select c.user_id as user_ref, c.email_address,
       jsonb_build_object('first_name', coalesce(c.first_name, 'there'),
                          'plan', coalesce(c.plan, 'free'), 'country', c.country) as user_context
from app.contacts c
where c.is_subscribed and (%(plan)s::text is null or c.plan = %(plan)s::text)
"""

DEMO_HTML = """<!doctype html>
<html><body>
<h1>{{ settings.headline }}</h1>
<p>Hello {{ user.first_name }},</p>
<p>Here is your digest for {{ settings.edition }}.
{% if user.plan == "pro" %}As a Pro member you also get the weekly report.{% endif %}</p>
<p><a href="https://mail.example.com/digest/{{ settings.edition }}?utm_campaign={{ campaign_name }}&amp;utm_content=cta">Read the digest</a></p>
<p><a href="https://mail.example.com/catalog?utm_campaign={{ campaign_name }}&amp;utm_content=catalog">Browse the catalog</a></p>
<p style="font-size:small"><a href="https://mail.example.com/unsubscribe?log={{ email_log_id }}">Unsubscribe</a></p>
</body></html>
"""

DEMO_TEMPLATE_OBJ = Template(
    name=DEMO_TEMPLATE,
    subject="{{ user.first_name }}, your digest for {{ settings.edition }}",
    pre_header="{{ settings.headline }}",
    html=DEMO_HTML,
    title="Daily digest (demo)",
    required_settings=("headline", "edition"),
    preview_context={"first_name": "Ada", "plan": "pro", "country": "FR"},
)


@dataclass
class DailyDigestCampaign(RecurringCampaign):
    """Every day at 09:00 Paris time; each occurrence carries its own edition date."""

    def shoot_config_for(self, occurrence: Occurrence) -> EmailShootConfig:
        config = super().shoot_config_for(occurrence)
        edition = occurrence.local.date().isoformat()
        config.template_settings = {
            **config.template_settings,
            "edition": edition,
            "headline": f"What happened on the trail - {edition}",
        }
        return config


def demo_campaign() -> DailyDigestCampaign:
    return DailyDigestCampaign(
        campaign_name=DEMO_CAMPAIGN,
        template_name=DEMO_TEMPLATE,
        segment_name=DEMO_SEGMENT,
        app_name="demo",
        tags=["demo", "digest"],
        sending_options=EmailSendingOptions(sender_email_address=DEMO_SENDER),
        cron="0 9 * * *",
        timezone=DEMO_TIMEZONE,
    )


def register_demo(registry: Registry | None = None) -> Registry:
    """Register the demo campaign, segment, template and a webhook (idempotent)."""
    target = registry or default_registry
    target.register_template(DEMO_TEMPLATE_OBJ)
    target.register_segment(SqlSegment(DEMO_SEGMENT, DEMO_SEGMENT_SQL, defaults={"plan": None}))
    target.register_recurring(demo_campaign())
    if not target.get_webhooks(DEMO_CAMPAIGN):

        @target.register_webhook(DEMO_CAMPAIGN, event_types=["bounced", "complained"])
        def _log_problem(email_log: EmailLog, event_type: str, occurred_at: datetime) -> None:
            logger.info(
                "demo webhook: %s %s at %s (log %s)",
                email_log.email_address, event_type, occurred_at, email_log.email_log_ref,
            )  # fmt: skip

    return target


_FIRST = ("ada", "grace", "linus", "margaret", "alan", "barbara", "dennis", "frances", "ken",
          "radia", "tim", "katherine", "guido", "hedy", "john", "sophie", "yann", "lea")  # fmt: skip
_LAST = ("lovelace", "hopper", "torvalds", "hamilton", "turing", "liskov", "ritchie", "allen",
         "thompson", "perlman", "lee", "johnson", "rossum", "lamarr", "backus", "wilson")  # fmt: skip
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")


def demo_contacts(count: int = 120, seed: int = 7) -> list[dict[str, object]]:
    """Deterministic contacts: mostly ordinary addresses, plus SES mailbox-simulator ones that
    bounce, complain or are on the suppression list, and a few unsubscribed contacts."""
    rng = random.Random(seed)
    contacts = []
    for index in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        pick = rng.random()
        if pick < 0.03:
            address = f"bounce+{first}{index}@simulator.amazonses.com"
        elif pick < 0.045:
            address = f"complaint+{first}{index}@simulator.amazonses.com"
        elif pick < 0.055:
            address = f"suppressionlist+{first}{index}@simulator.amazonses.com"
        else:
            address = f"{first}.{last}{index}@{rng.choice(_DOMAINS)}"
        contacts.append(
            {
                "user_id": f"demo-{index:05d}",
                "email_address": address,
                "first_name": first.title(),
                "last_name": last.title(),
                "locale": rng.choice(("en", "fr", "de")),
                "timezone": rng.choice(("Europe/Paris", "America/New_York", "Asia/Tokyo")),
                "country": rng.choice(("FR", "US", "JP", "DE", "GB")),
                "plan": rng.choices(("free", "pro"), (0.8, 0.2))[0],
                "is_subscribed": rng.random() > 0.03,
            }
        )
    return contacts


def seed_demo_contacts(conn: psycopg.Connection, count: int = 120, seed: int = 7) -> int:
    """Insert the demo contacts (existing ones are kept); returns how many demo contacts exist."""
    rows = demo_contacts(count, seed)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "insert into app.contacts (user_id, email_address, first_name, last_name, locale,"
            " timezone, country, plan, is_subscribed, attributes) values (%(user_id)s,"
            " %(email_address)s, %(first_name)s, %(last_name)s, %(locale)s, %(timezone)s,"
            " %(country)s, %(plan)s, %(is_subscribed)s, %(attributes)s)"
            " on conflict (user_id) do nothing",
            [{**row, "attributes": Jsonb({"source": "demo"})} for row in rows],
        )
        inserted = conn.execute(
            'select count(*) from app.contacts where attributes @> \'{"source": "demo"}\''
        ).fetchone()[0]
    return int(inserted)


@dataclass
class DemoResult:
    contacts: int
    outcomes: list[ShootOutcome] = field(default_factory=list)

    @property
    def messages_sent(self) -> int:
        return sum(o.counts.get("sent", 0) for o in self.outcomes)


def demo_send_times(now: datetime, days: int) -> list[datetime]:
    """The send moments (09:05 Paris, in UTC) of the last ``days`` daily shoots already due at
    ``now``, oldest first. Before 09:05 Paris, today's shoot is not due yet, so the window ends
    yesterday: the demo always sends ``days`` shoots, whatever the hour it runs at."""
    zone = ZoneInfo(DEMO_TIMEZONE)
    last = now.astimezone(zone).date()
    if datetime(last.year, last.month, last.day, 9, 5, tzinfo=zone) > now:
        last -= timedelta(days=1)
    moments = []
    for back in range(days - 1, -1, -1):
        day = last - timedelta(days=back)
        moments.append(datetime(day.year, day.month, day.day, 9, 5, tzinfo=zone).astimezone(UTC))
    return moments


def run_demo_campaign(
    database_url: str,
    landing_url: str,
    *,
    now: datetime | None = None,
    days: int = 3,
    contacts: int = 120,
    seed: int = 7,
    sender: Sender | None = None,
    registry: Registry | None = None,
    after_each_day: Callable[[], object] | None = None,
) -> DemoResult:
    """Seed contacts, then plan and dispatch the demo campaign's last ``days`` shoots
    already due at ``now`` (each at its scheduled time + 5 minutes, on a simulated clock) through the simulator,
    which writes the SES events up to ``now`` under ``<landing_url>/ses/``; ingest and build
    next. ``after_each_day`` (e.g. ingest + build) runs after each day's shoot, so the next
    day's dispatch already drops the addresses that bounced or complained. The warehouse's marts
    must have been built once (dispatch reads ``marts.suppression_list``).
    """
    from orchestration.senders.simulator import SimulatorSender

    target = register_demo(registry)
    now = now or datetime.now(UTC)
    with psycopg.connect(database_url, autocommit=True) as conn:
        seeded = seed_demo_contacts(conn, contacts, seed)
    clock = ReplayClock(now)
    emailing = Emailing(
        database_url=database_url,
        sender=sender or SimulatorSender(landing=landing_url, seed=seed, not_after=now),
        registry=target,
        settings=DispatchSettings(concurrency=4),
        default_from=DEMO_SENDER,
        clock=clock,
    )
    result = DemoResult(contacts=seeded)
    try:
        for on_date in demo_send_times(now, days):
            clock.set(on_date)
            result.outcomes.extend(
                emailing.process_pending_shoots(
                    on_date, backfill_days=0, campaign_name=DEMO_CAMPAIGN
                )
            )
            if after_each_day is not None:
                flush = getattr(emailing.sender, "flush", None)
                if flush is not None:
                    flush()
                after_each_day()
    finally:
        emailing.close()
    return result
