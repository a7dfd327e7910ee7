"""Senders without a network: MIME, configuration, the simulator's SES events (pure)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from orchestration.ingestion.parsers.ses import parse_ses_record
from orchestration.senders import SenderConfig, make_sender
from orchestration.senders.base import OutgoingEmail
from orchestration.senders.outbox import OutboxSender
from orchestration.senders.simulator import SimulatorSender, simulator_behaviour
from orchestration.settings import ConfigError, load_settings

SENT_AT = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def message(to: str, log_id: str = "1b4e28ba-2fa1-11d2-883f-0016d3cca427") -> OutgoingEmail:
    return OutgoingEmail(
        email_log_id=log_id,
        from_address="News <news@mail.example.com>",
        to_address=to,
        subject="Hello",
        html='<p>Hi</p><a href="https://example.com/a">a</a><a href="https://example.com/b">b</a>',
        text="Hi",
        campaign_name="weekly",
        app_name="shop",
        shoot_id="5d2f6c1e-0000-4000-8000-000000000001",
        requested_at=SENT_AT,
    )


def test_campaign_mime_carries_tracking_headers_and_both_parts() -> None:
    mime = email.message_from_bytes(message("a@example.com").to_mime("<id@x>").as_bytes())
    assert mime["X-Email-Log-Id"] == "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert mime["X-Campaign"] == "weekly" and mime["Message-ID"] == "<id@x>"
    assert [p.get_content_type() for p in mime.walk()][1:] == ["text/plain", "text/html"]


def test_campaign_sender_config_from_settings_and_factory(tmp_path: Path) -> None:
    config = SenderConfig.from_settings(
        load_settings(
            {
                "MAILTRAIL_HOME": str(tmp_path),
                "MAILTRAIL_SENDER": "outbox",
                "MAILTRAIL_SMTP_PORT": "2525",
            }
        )
    )
    assert config.kind == "outbox" and config.smtp_port == 2525
    assert config.outbox_dir == str(tmp_path / "outbox")
    assert isinstance(make_sender(config), OutboxSender)
    assert SenderConfig.from_settings(load_settings({})).kind == "simulator"
    with pytest.raises(ConfigError, match="MAILTRAIL_SENDER must be one of"):
        make_sender(SenderConfig(landing_url="x", outbox_dir="y", kind="pigeon"))


def test_campaign_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    result = OutboxSender(tmp_path).send(message("a@example.com"))
    (eml,) = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes())
    assert parsed["Message-ID"].strip("<>") == result.message_id


def test_campaign_simulator_addresses_follow_the_ses_mailbox_simulator() -> None:
    assert simulator_behaviour("bounce@simulator.amazonses.com") == "bounce"
    assert simulator_behaviour("Complaint+label@simulator.amazonses.com") == "complaint"
    assert simulator_behaviour("bounce@example.com") is None


def _events(sender: SimulatorSender, to: str) -> list[tuple[str, dict]]:
    msg = message(to)
    records = sender.events_for(msg, "0100-test-000000", SENT_AT)
    return [(record["eventType"], record) for _, record in records]


def test_campaign_simulator_bounce_complaint_and_suppression_list() -> None:
    sim = SimulatorSender(landing="/unused", seed=1)
    assert [t for t, _ in _events(sim, "bounce@simulator.amazonses.com")] == ["Send", "Bounce"]
    kinds = [t for t, _ in _events(sim, "complaint@simulator.amazonses.com")]
    assert kinds == ["Send", "Delivery", "Complaint"]
    (_, bounce) = _events(sim, "suppressionlist@simulator.amazonses.com")[1]
    assert bounce["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    assert [t for t, _ in _events(sim, "success@simulator.amazonses.com")] == ["Send", "Delivery"]


def test_campaign_simulator_is_deterministic_and_opens_some_recipients() -> None:
    first = SimulatorSender(landing="/unused", seed=3)
    second = SimulatorSender(landing="/unused", seed=3)
    addresses = [f"person{i}@example.com" for i in range(200)]
    runs = [[_events(sim, a) for a in addresses] for sim in (first, second)]
    assert runs[0] == runs[1]
    kinds = [t for events in runs[0] for t, _ in events]
    assert kinds.count("Send") == 200
    assert 150 < kinds.count("Delivery") <= 200
    assert kinds.count("Open") > 40 and kinds.count("Click") > 10
    for events in runs[0]:
        times = [
            r.get("open", r.get("click", r.get("delivery", {}))).get("timestamp") for _, r in events
        ]
        assert all(t is None or t >= "2024-05-06T07:08:09" for t in times)


def test_campaign_simulator_records_parse_with_the_ses_parser_and_join_back(tmp_path: Path) -> None:
    sim = SimulatorSender(landing=str(tmp_path), seed=5)
    for i in range(30):
        sim.send(message(f"p{i}@example.com", log_id=f"00000000-0000-4000-8000-{i:012d}"))
    sim.send(
        message("bounce@simulator.amazonses.com", log_id="00000000-0000-4000-8000-999999999999")
    )
    sim.close()
    files = sorted(p for p in (tmp_path / "ses").rglob("*") if p.is_file())
    assert files and all(not p.name.startswith(".") for p in files)
    # Firehose layout: ses/YYYY/MM/DD/HH/<object>
    assert all(len(p.relative_to(tmp_path / "ses").parts) == 5 for p in files)
    rows = []
    for path in files:
        for line in path.read_bytes().splitlines():
            rows.extend(parse_ses_record(orjson.loads(line), line))
    assert len(rows) == sim.records_written
    by_type = {}
    for row in rows:
        by_type.setdefault(row[2], []).append(row)
    assert len(by_type["Send"]) == 31
    bounce = by_type["Bounce"][-1]
    assert bounce[4] == "bounce@simulator.amazonses.com" and bounce[10] == "Permanent"
    for row in rows:  # campaign, app, shoot_id and email_log_id travel as tags
        assert row[6] == "weekly" and row[7] == "shop"
        assert row[8] == "5d2f6c1e-0000-4000-8000-000000000001"
        assert row[9].startswith("00000000-0000-4000-8000-")


def test_campaign_simulator_complaint_address_complains_within_a_minute() -> None:
    sim = SimulatorSender(landing="/unused", seed=2)
    events = dict(_events(sim, "complaint+x@simulator.amazonses.com"))
    delivered = events["Delivery"]["delivery"]["timestamp"]
    complained = events["Complaint"]["complaint"]["timestamp"]
    gap = datetime.fromisoformat(complained) - datetime.fromisoformat(delivered)
    assert timedelta(0) < gap <= timedelta(minutes=1)
