"""The demo SES generator: deterministic, parseable, and its summary is what is on disk."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.generators import iter_ses_records
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.demo.summary import METRICS, GenerationSummary
from orchestration.ingestion.parsers.jsonstream import iter_documents, open_maybe_gzip
from orchestration.ingestion.parsers.ses import SES_COLUMNS, RecordError, parse_ses_record
from orchestration.simulation.clients import MPP_USER_AGENT
from orchestration.simulation.message_life import BOT_CLICK_WINDOW
from orchestration.simulation.ses_records import (
    ses_bounce_record,
    ses_click_record,
    ses_complaint_record,
    ses_delivery_delay_record,
    ses_delivery_record,
    ses_open_record,
    ses_reject_record,
    ses_rendering_failure_record,
    ses_send_record,
    ses_subscription_record,
)

NAME = re.compile(
    r"^mailtrail-ses-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-[0-9a-f-]{36}(\.gz)?$"
)
TAGS = ("campaign_name", "app_name", "shoot_id", "email_log_id")


def read_landing(landing: Path) -> dict[str, Any]:
    """Everything a loader would see: documents per object, rows, rejects."""
    out: dict[str, Any] = {"records": 0, "rejects": [], "rows": [], "texts": defaultdict(set)}
    out["objects"] = sorted(p for p in (landing / "ses").rglob("*") if p.is_file())
    out["gzip"] = out["plain"] = out["concatenated"] = out["newlines"] = 0
    for path in out["objects"]:
        raw = path.read_bytes()
        is_gzip = raw[:2] == b"\x1f\x8b"
        out["gzip" if is_gzip else "plain"] += 1
        with path.open("rb") as handle:
            stream = open_maybe_gzip(handle)
            body = stream.read()
        out["concatenated"] += b"}{" in body  # records back to back, no separator
        out["newlines"] += b"}\n{" in body
        with path.open("rb") as handle:
            for doc in iter_documents(open_maybe_gzip(handle), chunk_size=4096):
                out["records"] += 1
                if doc.error is not None:
                    out["rejects"].append(("split", doc.error, doc.text))
                    continue
                try:
                    rows = parse_ses_record(doc.value, doc.text)
                except RecordError as exc:
                    out["rejects"].append(("parse", str(exc), doc.text))
                    continue
                for row in rows:
                    out["rows"].append(dict(zip(SES_COLUMNS, row, strict=True)))
                    out["texts"][row[0]].add(doc.text)
    return out


def truth_from_rows(rows: list[dict[str, Any]]) -> dict[tuple[date, str], dict[str, int]]:
    """Recompute the ground truth with the rules the generator documents."""
    distinct = {r["event_key"]: r for r in rows}.values()
    delivered = {
        r["message_id"]: r["occurred_at"] for r in distinct if r["event_type"] == "Delivery"
    }
    firsts: dict[tuple[str, str], tuple[datetime, str]] = {}
    simple = {
        "Send": "sent",
        "Delivery": "delivered",
        "Complaint": "complained",
        "Reject": "rejected",
        "Rendering Failure": "rendering_failed",
        "DeliveryDelay": "delivery_delayed",
        "Subscription": "unsubscribed",
    }
    for r in distinct:
        kind = r["event_type"]
        if kind == "Bounce":
            metric = "hard_bounced" if r["bounce_type"] == "Permanent" else "soft_bounced"
        elif kind == "Open":
            metric = "machine_opened" if r["user_agent"] == MPP_USER_AGENT else "opened"
        elif kind == "Click":
            is_bot = r["occurred_at"] - delivered[r["message_id"]] < BOT_CLICK_WINDOW
            metric = "bot_clicked" if is_bot else "clicked"
        else:
            metric = simple.get(kind)
        if metric is None:
            continue
        key = (r["message_id"], metric)
        if key not in firsts or r["occurred_at"] < firsts[key][0]:
            firsts[key] = (r["occurred_at"], r["campaign_name"])
    truth: dict[tuple[date, str], dict[str, int]] = {}
    for (_, metric), (moment, campaign) in firsts.items():
        counts = truth.setdefault(
            (moment.astimezone(UTC).date(), campaign), dict.fromkeys(METRICS, 0)
        )
        counts[metric] += 1
    return dict(sorted(truth.items()))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, dict[str, Any]]:
    landing = tmp_path_factory.mktemp("landing")
    summary = generate_ses_landing(landing)
    return summary, read_landing(landing)


def test_summary_counts_are_what_is_on_disk(generated: tuple[GenerationSummary, dict]) -> None:
    summary, seen = generated
    assert summary.objects_written == len(seen["objects"]) == len(summary.objects)
    assert summary.records_written == seen["records"]
    assert summary.records_written == (
        summary.distinct_records + summary.duplicates_injected + summary.malformed_injected
    )
    assert len(seen["rejects"]) == summary.malformed_injected == 3
    distinct = {r["event_key"] for r in seen["rows"]}
    assert len(distinct) == summary.distinct_records == summary.rows_expected
    assert len(seen["rows"]) - len(distinct) == summary.duplicates_injected > 0
    assert summary.duplicates_injected == round(0.02 * summary.distinct_records)
    # a duplicate is the same record bytes again, as a Firehose retry writes it
    assert all(len(texts) == 1 for texts in seen["texts"].values())
    by_type = Counter({r["event_key"]: r["event_type"] for r in seen["rows"]}.values())
    assert dict(by_type) == summary.event_counts


def test_malformed_records_are_each_rejected_for_their_own_reason(
    generated: tuple[GenerationSummary, dict],
) -> None:
    _, seen = generated
    reasons = sorted((where, reason.split(":")[0]) for where, reason, _ in seen["rejects"])
    assert reasons == [
        ("parse", "record has no mail.messageId"),
        ("parse", "record is not a JSON object but an array"),
        ("split", "invalid JSON"),
    ]


def test_ground_truth_matches_the_events_on_disk(generated: tuple[GenerationSummary, dict]) -> None:
    summary, seen = generated
    assert summary.truth == truth_from_rows(seen["rows"])
    totals = summary.totals()
    assert totals["sent"] == 3 * 5 * 200
    for metric in METRICS:
        assert totals[metric] > 0, metric
    assert totals["opened"] < totals["delivered"] and totals["clicked"] < totals["opened"]
    assert summary.totals("weekly_digest")["sent"] == 5 * 200
    assert summary.campaign_apps == {
        "weekly_digest": "community",
        "winback_offer": "shop",
        "product_launch": "shop",
    }


def test_records_look_like_production(generated: tuple[GenerationSummary, dict]) -> None:
    _, seen = generated
    rows = seen["rows"]
    assert all(all(r[c] for c in TAGS) for r in rows)
    assert {r["event_type"] for r in rows} == {
        "Send", "Delivery", "Bounce", "Complaint", "Reject", "Open", "Click",
        "Rendering Failure", "DeliveryDelay", "Subscription", "SubscriptionOptIn",
    }  # fmt: skip
    assert {(r["bounce_type"], r["bounce_subtype"]) for r in rows if r["bounce_type"]} == {
        ("Permanent", "General"),
        ("Permanent", "NoEmail"),
        ("Transient", "MailboxFull"),
    }
    opens = Counter(r["message_id"] for r in rows if r["event_type"] == "Open")
    assert max(opens.values()) >= 3  # some recipients open several times
    machine = [r for r in rows if r["event_type"] == "Open" and r["user_agent"] == MPP_USER_AGENT]
    assert machine and all(
        r["ip_address"].startswith(("17.", "172.225.", "104.28.")) for r in machine
    )
    assert any(r["link_url"] for r in rows if r["event_type"] == "Click")
    # IPv6-mapped client addresses arrive normalised; real IPv6 is kept
    assert any(":" in (r["ip_address"] or "") for r in rows)
    assert not any((r["ip_address"] or "").startswith("::ffff:") for r in rows)
    # events land in later day folders than their send
    sends = {r["message_id"]: r["occurred_at"] for r in rows if r["event_type"] == "Send"}
    late = [r for r in rows if r["occurred_at"] - sends[r["message_id"]] > timedelta(days=1)]
    assert late


def test_objects_use_firehose_naming_and_every_layout(
    generated: tuple[GenerationSummary, dict],
) -> None:
    summary, seen = generated
    suffixes = Counter()
    for path in seen["objects"]:
        match = NAME.match(path.name)
        assert match, path.name
        year, month, day, hour, suffix = match.groups()
        assert path.parent.relative_to(summary.landing / "ses").parts == (year, month, day, hour)
        suffixes[suffix] += 1
        if suffix:
            assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert suffixes[".gz"] and suffixes[None]
    assert seen["gzip"] > suffixes[".gz"]  # some gzip objects have no .gz suffix
    assert seen["plain"] and seen["newlines"] and seen["concatenated"]
    days = {p.parent.parent.name for p in seen["objects"]}
    assert len(days) > 5  # opens and clicks keep landing after the last send day


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def run(folder: str, seed: int) -> tuple[GenerationSummary, dict[str, bytes]]:
        landing = tmp_path / folder
        summary = generate_ses_landing(
            landing, seed=seed, days=2, campaigns=2, recipients_per_campaign=30
        )
        files = {str(p.relative_to(landing)): p.read_bytes() for p in summary.objects}
        return summary, files

    first, first_files = run("a", 5)
    second, second_files = run("b", 5)
    _, third_files = run("c", 6)
    assert first_files == second_files
    assert first.truth == second.truth and first.records_written == second.records_written
    assert first_files.keys() != third_files.keys()


def test_small_runs_still_have_every_kind_of_event(tmp_path: Path) -> None:
    summary = generate_ses_landing(
        tmp_path,
        seed=1,
        days=1,
        campaigns=1,
        recipients_per_campaign=12,
        duplicate_rate=0,
        malformed=0,
    )
    seen = read_landing(tmp_path)
    assert summary.duplicates_injected == summary.malformed_injected == 0
    assert not seen["rejects"]
    assert summary.truth == truth_from_rows(seen["rows"])
    totals = summary.totals()
    for metric in ("hard_bounced", "soft_bounced", "complained", "unsubscribed", "rejected",
                   "rendering_failed", "delivery_delayed", "bot_clicked", "clicked"):  # fmt: skip
        assert totals[metric] >= 1, metric
    assert summary.event_counts.get("SubscriptionOptIn") == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate_ses_landing(Path("unused"), days=0)
    with pytest.raises(ValueError):
        generate_ses_landing(Path("unused"), duplicate_rate=2)


def test_record_builders_make_records_the_parser_reads() -> None:
    sent = datetime(2026, 11, 20, 10, 0, 0, 12000, UTC)
    later = sent + timedelta(minutes=5)
    tags = {"campaign": "c", "app": "a", "shoot_id": "s", "email_log_id": "e"}
    common: dict[str, Any] = {"sent_at": sent, "tags": tags}
    mid, to = "0100019aa1b2c3d4-x-000000", "Someone <Someone@Example.com>"
    built = [
        (ses_send_record(mid, to, **common), "Send", sent),
        (ses_delivery_record(mid, to, delivered_at=later, **common), "Delivery", later),
        (ses_bounce_record(mid, to, bounced_at=later, **common), "Bounce", later),
        (ses_complaint_record(mid, to, complained_at=later, **common), "Complaint", later),
        (ses_reject_record(mid, to, **common), "Reject", sent),
        (
            ses_open_record(mid, to, opened_at=later, ip_address="::ffff:192.0.2.9", user_agent="UA", **common),
            "Open",
            later,
        ),
        (
            ses_click_record(mid, to, clicked_at=later, link="https://x.example/", ip_address="192.0.2.9",
                             user_agent="UA", **common),
            "Click",
            later,
        ),
        (ses_rendering_failure_record(mid, to, template_name="t", **common), "Rendering Failure", sent),
        (ses_delivery_delay_record(mid, to, delayed_at=later, **common), "DeliveryDelay", later),
        (ses_subscription_record(mid, to, changed_at=later, **common), "Subscription", later),
        (ses_subscription_record(mid, to, changed_at=later, opt_out=False, **common), "SubscriptionOptIn", later),
    ]  # fmt: skip
    keys = set()
    for record, event_type, occurred in built:
        text = orjson.dumps(record)
        (row,) = parse_ses_record(orjson.loads(text), text)
        got = dict(zip(SES_COLUMNS, row, strict=True))
        assert (got["event_type"], got["occurred_at"], got["recipient"]) == (
            event_type,
            occurred,
            "someone@example.com",
        )
        assert (got["campaign_name"], got["app_name"], got["shoot_id"], got["email_log_id"]) == (
            "c",
            "a",
            "s",
            "e",
        )
        keys.add(got["event_key"])
    assert len(keys) == len(built)
    two = ses_bounce_record(mid, ["a@example.com", "b@example.com"], bounced_at=later, **common)
    assert len(parse_ses_record(two, orjson.dumps(two))) == 2


def test_iter_ses_records_for_benchmarks() -> None:
    records = list(iter_ses_records(3000, seed=2))
    assert len(records) == 3000
    assert records == list(iter_ses_records(3000, seed=2))
    sizes = [len(orjson.dumps(r)) for r in records]
    assert 1200 < sum(sizes) / len(sizes) < 2500
    keys = set()
    for record in records:
        text = orjson.dumps(record)
        for row in parse_ses_record(record, text):
            keys.add(row[0])
    assert len(keys) == 3000
    assert len({r["eventType"] for r in records}) == 10
