"""Test doubles and builders for the campaign tests: real PostgreSQL, fake providers only."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import psycopg
from psycopg.types.json import Jsonb

from orchestration.campaigns import Registry, SqlSegment, Template
from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.senders.base import OutgoingEmail, SendResult

# user_context: the first name and the contact's attributes (``account_ref`` for B2B contacts)
SEGMENT_SQL = (
    "select user_id as user_ref, email_address,"
    " jsonb_build_object('first_name', first_name) || attributes as user_context"
    " from app.contacts where is_subscribed and (%(plan)s::text is null or plan = %(plan)s::text)"
    " and (%(account)s::text is null or attributes ->> 'account_ref' = %(account)s::text)"
)

NEWS = Template(
    name="news",
    subject="{{ settings.title }} for {{ user.first_name }}",
    pre_header="{{ settings.title }}",
    html='<body><p>Hi {{ user.first_name }}</p><a href="https://example.com/x">x</a></body>',
    required_settings=("title",),
)


def make_registry() -> Registry:
    registry = Registry()
    registry.register_template(NEWS)
    registry.register_segment(
        SqlSegment("contacts", SEGMENT_SQL, defaults={"plan": None, "account": None})
    )
    registry.register_recurring(
        RecurringCampaign(
            campaign_name="daily_news",
            template_name="news",
            segment_name="contacts",
            cron="0 9 * * *",
            timezone="Europe/Paris",
            template_settings={"title": "Daily news"},
        )
    )
    return registry


def add_contacts(
    conn: psycopg.Connection,
    count: int,
    *,
    prefix: str = "user",
    plan: str = "free",
    start: int = 0,
    account: str | None = None,
) -> list[str]:
    attributes = Jsonb({"account_ref": account} if account else {})
    rows = [
        (f"{prefix}-{i:05d}", f"{prefix}{i}@example.com", f"Name{i}", plan, attributes)
        for i in range(start, start + count)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into app.contacts (user_id, email_address, first_name, plan, attributes)"
            " values (%s, %s, %s, %s, %s)",
            rows,
        )
    return [row[1] for row in rows]


@dataclass
class RecordingSender:
    """Accepts everything and remembers it; optionally slow, failing or crashing."""

    carries_mime: ClassVar[bool] = True  # attachments and raw messages too
    name: str = "recording"
    delay: float = 0.0
    crash_after: int | None = None  # raise ``crash_with`` on send number crash_after + 1
    crash_with: type[BaseException] = KeyboardInterrupt
    fail_for: set[str] = field(default_factory=set)
    throttle_first: int = 0
    sent: list[OutgoingEmail] = field(default_factory=list)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutgoingEmail) -> SendResult:
        from orchestration.senders.base import PermanentSendError, ThrottledError

        with self._lock:
            self.calls += 1
            call = self.calls
            if self.crash_after is not None and len(self.sent) >= self.crash_after:
                raise self.crash_with()
            if call <= self.throttle_first:
                raise ThrottledError("slow down", retry_after=0.01)
        if message.to_address.lower() in self.fail_for:
            raise PermanentSendError("MessageRejected: address blacklisted", "MessageRejected")
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.sent.append(message)
        return SendResult(message_id=f"msg-{message.email_log_id}", provider=self.name)

    def close(self) -> None:
        pass

    def addresses(self) -> Counter[str]:
        return Counter(m.to_address.lower() for m in self.sent)


def ledger(
    conn: psycopg.Connection, shoot_id: object | None = None
) -> dict[str, tuple[str, str | None]]:
    """recipient -> (status, reason) of one shoot (or of every send)."""
    rows = conn.execute(
        "select recipient, status, reason from app.email_sends"
        " where %(s)s::uuid is null or shoot_id = %(s)s::uuid",
        {"s": str(shoot_id) if shoot_id else None},
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def moto_sent_messages(endpoint: str) -> list[dict]:
    """What moto_server's SES recorded as sent (each entry's ``raw_data`` is the MIME text)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as response:
        data = json.load(response)
    return (
        data["ses"]["sent_messages"]
        if "sent_messages" in data.get("ses", {})
        else [m for group in data.get("ses", {}).values() if isinstance(group, list) for m in group]
    )
