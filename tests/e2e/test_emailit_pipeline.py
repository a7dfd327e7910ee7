"""Emailit's events through the whole analytics path: the local Emailit API (tests/fakes) ->
raw.emailit_events -> dbt -> fct_email_events and email_logs, every documented event type mapped
to the canonical taxonomy, an undocumented one kept visible as ``unknown``, and an event Emailit
updates after it was loaded shown in its new version by the next poll and build."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster_dbt import DbtCliResource

from orchestration.defs.ingestion.api_resources import EmailitResource
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.transform.project import DBT_EXECUTABLE, dbt_project
from tests.fakes.emailit_server import EmailitFake, make_event

pytestmark = pytest.mark.e2e

# email (by its number) -> the Emailit event types it receives, and the email log state expected
EMAILS: dict[int, tuple[tuple[str, ...], str]] = {
    1: (
        ("email.delivery.sent", "email.delivery.delivered", "email.loaded", "email.link.clicked"),
        "delivered",
    ),
    2: (("email.delivery.sent", "email.delivery.hardfail"), "bounced"),
    3: (("email.delivery.softfail", "email.delivery.delayed"), "sent"),
    4: (("email.delivery.error",), "failed"),
    5: (("email.delivery.held",), "pending"),
    6: (("email.delivery.sent", "email.delivery.bounce"), "bounced"),
    7: (("email.delivery.sent", "email.complained", "email.unsubscribed"), "delivered"),
    # a type the API may add one day: kept as unknown, it decides nothing
    8: (("email.delivery.sent", "email.delivery.quarantined"), "sent"),
}
CANONICAL = {
    "email.delivery.sent": "sent",
    "email.delivery.delivered": "delivered",
    "email.delivery.delayed": "delivery_delayed",
    "email.delivery.softfail": "delivery_delayed",
    "email.delivery.hardfail": "bounced",
    "email.delivery.bounce": "bounced",
    "email.delivery.error": "failed",
    "email.delivery.held": "queued",
    "email.loaded": "opened",
    "email.link.clicked": "clicked",
    "email.complained": "complained",
    "email.unsubscribed": "unsubscribed",
    "email.delivery.quarantined": "unknown",
}


def emailit_events() -> list[dict[str, Any]]:
    """The events of EMAILS, newest first as the API lists them; each email's events carry the
    same ``email`` object (its Message-ID, recipient and campaign tag)."""
    events, seq = [], 0
    for number, (types, _) in EMAILS.items():
        email = make_event(2 * number - 1, "email.delivery.sent")["data"]["email"]
        for event_type in types:
            seq += 1
            event = make_event(seq, event_type)
            event["data"]["email"] = copy.deepcopy(email)
            events.append(event)
    return events[::-1]


@pytest.fixture
def emailit() -> Iterator[EmailitFake]:
    with EmailitFake() as fake:
        fake.events[:0] = emailit_events()
        yield fake


def test_every_emailit_event_type_reaches_the_marts(
    dbt_database_env: str, db: psycopg.Connection, emailit: EmailitFake
) -> None:
    from orchestration.defs.ingestion.emailit import defs as emailit_defs
    from orchestration.defs.transform.dbt import mailtrail_dbt_models

    def poll_and_build() -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            [
                emailit_defs.get_assets_def(dg.AssetKey(["raw", "emailit_events"])),
                mailtrail_dbt_models,
            ],
            resources={
                "warehouse": WarehouseResource(database_url=dbt_database_env),
                "emailit": EmailitResource(
                    base_url=emailit.url, api_key=emailit.token, per_page=5, backoff_seconds=0.01
                ),
                "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            },
            raise_on_error=False,
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        return result

    result = poll_and_build()

    # every event is in the fact table, with its canonical type; the unknown one too
    rows = db.execute(
        "select provider_event_type, event_type, count(*) from marts.fct_email_events"
        " where provider = 'emailit' group by 1, 2"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == CANONICAL
    assert sum(r[2] for r in rows) == sum(len(types) for types, _ in EMAILS.values())

    # one email log per email, in the state its events decide, attributed to the tag's campaign
    logs = dict(
        db.execute(
            "select email_log_id, state from marts.email_logs"
            " where provider = 'emailit' and campaign_name = 'weekly_digest'"
        ).fetchall()
    )
    expected = {f"el-{3_131_350_000 + n}": state for n, (_, state) in EMAILS.items()}
    assert logs == expected

    # the unmapped type is a warning (the build goes on), every other check passes
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    unmapped = checks["unmapped_provider_event_types"]
    assert not unmapped.passed and unmapped.severity == dg.AssetCheckSeverity.WARN
    failed = [name for name, c in checks.items() if not c.passed and name != unmapped.check_name]
    assert failed == []

    # Emailit updates an event in place (email 4's error gets its final details): the next poll
    # and incremental build show the new version, with no event added
    error_event = next(e for e in emailit.events if e["type"] == "email.delivery.error")
    emailit.update(error_event["id"], details="error: 554 5.7.1 relay denied (final)")
    poll_and_build()
    (message,) = db.execute(
        "select error_message from marts.email_logs where email_log_id = %s",
        (f"el-{3_131_350_000 + 4}",),
    ).fetchone()
    assert message == "error: 554 5.7.1 relay denied (final)"
    (events,) = db.execute(
        "select count(*) from marts.fct_email_events where provider = 'emailit'"
    ).fetchone()
    assert events == sum(len(types) for types, _ in EMAILS.values())
