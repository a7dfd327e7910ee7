"""One recipient's data cannot stop a shoot, and one recipient's render cannot reach another's
message: real PostgreSQL, a recording provider."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    DispatchSettings,
    Emailing,
    EmailShootState,
    SqlSegment,
    Template,
)
from orchestration.campaigns.dispatch import list_due_shoots
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, make_registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)

# Recipients' data as a segment returns it: Name7 has n = 0, Name13 a string, Name21 is "big".
DATA_SEGMENT = SqlSegment(
    "with_data",
    "select user_id as user_ref, email_address, jsonb_build_object("
    " 'first_name', first_name,"
    " 'n', case first_name when 'Name7' then to_jsonb(0) when 'Name13' then to_jsonb('x'::text)"
    "      else to_jsonb(4) end,"
    " 'big', first_name = 'Name21') as user_context"
    " from app.contacts where is_subscribed",
)
ARITHMETIC = Template(
    name="arithmetic",
    subject="{{ user.first_name }}: {{ 100 // user.n }} points",
    html="{% if user.big %}{% for i in range(10**7) %}{% endfor %}{% endif %}<p>Hi</p>",
)
LEAKY = Template(
    name="leaky",
    subject="Hello {{ settings.get('name', user.first_name) }}"
    "{% set _ = settings.update({'name': user.first_name}) %}",
    html="<p>Dear {{ settings.get('name', user.first_name) }}"
    "{{ settings.update({'name': user.first_name}) or '' }}</p>",
)


def _emailing(database_url: str, sender: RecordingSender, concurrency: int) -> Emailing:
    registry = make_registry()
    registry.register_segment(DATA_SEGMENT)
    registry.register_template(ARITHMETIC)
    registry.register_template(LEAKY)
    return Emailing(
        database_url, sender, registry, DispatchSettings(concurrency=concurrency, page_size=50),
        clock=lambda: NOW,
    )  # fmt: skip


def test_a_recipient_whose_data_breaks_the_template_is_failed_and_the_shoot_completes(
    built_database_url: str, built_db: psycopg.Connection
) -> None:
    addresses = add_contacts(built_db, 200)
    sender = RecordingSender()
    emailing = _emailing(built_database_url, sender, concurrency=4)
    shoot = emailing.schedule_shoot(NOW, Audience("with_data"), "arithmetic", {})
    outcome = emailing.send_shoot(shoot.shoot_id)

    broken = {"user7@example.com": "ZeroDivisionError", "user13@example.com": "TypeError",
              "user21@example.com": "OverflowError"}  # fmt: skip
    rows = {
        r[0]: r[1:]
        for r in built_db.execute(
            "select recipient, status, reason, error_type, error_message from app.email_sends"
        )
    }
    assert set(rows) == set(addresses)
    for address, error in broken.items():
        status, reason, error_type, message = rows[address]
        assert (status, reason, error_type) == ("failed", "rendering_failed", "rendering_failed")
        assert error in message and address in message
    assert {a for a, row in rows.items() if row[0] == "sent"} == set(addresses) - set(broken)
    assert sender.addresses() == {a: 1 for a in set(addresses) - set(broken)}
    final = outcome.shoot
    assert final.state == EmailShootState.completed and final.error_type is None
    assert (final.recipient_count, final.sent_count, final.failed_count) == (200, 197, 3)
    assert list_due_shoots(built_db, NOW) == []  # not retried on the next tick


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_template_that_writes_into_the_settings_cannot_leak_one_recipient_into_another(
    built_database_url: str, built_db: psycopg.Connection, concurrency: int
) -> None:
    add_contacts(built_db, 43)
    sender = RecordingSender()
    emailing = _emailing(built_database_url, sender, concurrency=concurrency)
    shoot = emailing.schedule_shoot(NOW, Audience("contacts"), "leaky", {"title": "t"})
    outcome = emailing.send_shoot(shoot.shoot_id)

    names = re.compile(r"Name\d+")
    for message in sender.sent:
        own = f"Name{int(message.to_address.removeprefix('user').split('@')[0])}"
        assert set(names.findall(message.subject + message.html)) <= {own}, message.to_address
    assert outcome.shoot.state == EmailShootState.completed
    assert emailing.get_shoot(shoot.shoot_id).template_settings == {"title": "t"}
    # The sandbox refuses the write: every recipient is failed with the reason, none leaked.
    statuses = built_db.execute(
        "select status, error_type, count(*) from app.email_sends group by 1, 2"
    ).fetchall()
    assert statuses == [("failed", "rendering_failed", 43)]
    assert (
        "unsafe" in built_db.execute("select min(error_message) from app.email_sends").fetchone()[0]
    )
