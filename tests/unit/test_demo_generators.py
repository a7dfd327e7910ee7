"""The demo's Pinpoint and open-tracker generators: deterministic, parseable by the real parsers,
attributed to our campaigns and messages, and their summaries are what is on disk."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.demo.pinpoint_generator import PINPOINT_CAMPAIGNS, generate_pinpoint_landing
from orchestration.demo.ses_generator import campaign_specs as ses_campaigns
from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.demo.summary import METRICS, GenerationSummary
from orchestration.demo.tracker_generator import (
    SUPPRESSION_REASON,
    TrackerSummary,
    device_type,
    generate_tracker_pages,
)
from orchestration.ingestion.apis import saved_response_documents, tracker_response_events
from orchestration.ingestion.parsers.jsonstream import iter_documents, open_maybe_gzip
from orchestration.ingestion.parsers.pinpoint import (
    EVENT_OBJECTS,
    PINPOINT_COLUMNS,
    RecordError,
    parse_pinpoint_record,
)
from orchestration.ingestion.parsers.tracker import TRACKER_COLUMNS, parse_tracker_record
from orchestration.simulation.clients import MPP_USER_AGENT
from orchestration.simulation.message_life import BOT_CLICK_WINDOW
from orchestration.simulation.pinpoint_records import (
    PinpointMessage,
    pinpoint_bounce_record,
    pinpoint_click_record,
    pinpoint_complaint_record,
    pinpoint_delivered_record,
    pinpoint_open_record,
    pinpoint_rejected_record,
    pinpoint_rendering_failure_record,
    pinpoint_send_record,
    pinpoint_unsubscribe_record,
)

NAME = re.compile(
    r"^mailtrail-pinpoint-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-[0-9a-f-]{36}(\.gz)?$"
)
TAGS = ("campaign_name", "app_name", "shoot_id", "email_log_id")
SES_SEED = 4  # a small SES demo for the tracker tests


# --- Pinpoint ---------------------------------------------------------------------------------


def read_pinpoint(landing: Path) -> dict[str, Any]:
    """Everything the loader would see: documents per object, rows, rejects."""
    out: dict[str, Any] = {"records": 0, "rejects": [], "rows": [], "texts": defaultdict(set)}
    out["objects"] = sorted(p for p in (landing / "pinpoint").rglob("*") if p.is_file())
    out["gzip"] = out["plain"] = out["concatenated"] = out["newlines"] = 0
    for path in out["objects"]:
        out["gzip" if path.read_bytes()[:2] == b"\x1f\x8b" else "plain"] += 1
        with path.open("rb") as handle:
            body = open_maybe_gzip(handle).read()
        out["concatenated"] += b"}{" in body
        out["newlines"] += b"}\n{" in body
        with path.open("rb") as handle:
            for doc in iter_documents(open_maybe_gzip(handle), chunk_size=4096):
                out["records"] += 1
                if doc.error is not None:
                    out["rejects"].append(("split", doc.error))
                    continue
                try:
                    rows = parse_pinpoint_record(doc.value, doc.text)
                except RecordError as exc:
                    out["rejects"].append(("parse", str(exc)))
                    continue
                for row in rows:
                    out["rows"].append(dict(zip(PINPOINT_COLUMNS, row, strict=True)))
                    out["texts"][row[0]].add(doc.text)
    return out


def pinpoint_truth(rows: list[dict[str, Any]]) -> dict[tuple[date, str], dict[str, int]]:
    """The ground truth recomputed from parsed rows, with the rules the generator documents."""
    distinct = {r["event_key"]: r for r in rows}.values()
    delivered = {
        r["message_id"]: r["occurred_at"] for r in distinct if r["event_type"] == "_email.delivered"
    }
    simple = {
        "_email.send": "sent",
        "_email.delivered": "delivered",
        "_email.hardbounce": "hard_bounced",
        "_email.softbounce": "soft_bounced",
        "_email.complaint": "complained",
        "_email.rejected": "rejected",
        "_email.rendering_failure": "rendering_failed",
        "_email.unsubscribe": "unsubscribed",
    }
    firsts: dict[tuple[str, str], tuple[datetime, str]] = {}
    for r in distinct:
        kind = r["event_type"]
        if kind == "_email.open":
            metric = "machine_opened" if r["user_agent"] == MPP_USER_AGENT else "opened"
        elif kind == "_email.click":
            is_bot = r["occurred_at"] - delivered[r["message_id"]] < BOT_CLICK_WINDOW
            metric = "bot_clicked" if is_bot else "clicked"
        else:
            metric = simple[kind]
        key = (r["message_id"], metric)
        if key not in firsts or r["occurred_at"] < firsts[key][0]:
            firsts[key] = (r["occurred_at"], r["campaign_name"])
    truth: dict[tuple[date, str], dict[str, int]] = {}
    for (_, metric), (moment, campaign) in firsts.items():
        day = moment.astimezone(UTC).date()
        truth.setdefault((day, campaign), dict.fromkeys(METRICS, 0))[metric] += 1
    return dict(sorted(truth.items()))


@pytest.fixture(scope="module")
def pinpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, dict]:
    landing = tmp_path_factory.mktemp("landing")
    summary = generate_pinpoint_landing(landing)
    return summary, read_pinpoint(landing)


def test_pinpoint_summary_is_what_is_on_disk(pinpoint: tuple[GenerationSummary, dict]) -> None:
    summary, seen = pinpoint
    assert summary.objects_written == len(seen["objects"]) == len(summary.objects)
    assert (
        summary.records_written
        == seen["records"]
        == (summary.distinct_records + summary.duplicates_injected + summary.malformed_injected)
    )
    assert summary.malformed_injected == 1
    # the one truncated record
    assert [(where, reason.split(":")[0]) for where, reason in seen["rejects"]] == [
        ("split", "invalid JSON")
    ]
    distinct = {r["event_key"] for r in seen["rows"]}
    assert len(distinct) == summary.distinct_records == summary.rows_expected
    assert len(seen["rows"]) - len(distinct) == summary.duplicates_injected == 3
    assert all(len(texts) == 1 for texts in seen["texts"].values())  # retries are byte-equal
    by_type = Counter({r["event_key"]: r["event_type"] for r in seen["rows"]}.values())
    assert dict(by_type) == summary.event_counts
    assert set(by_type) == set(EVENT_OBJECTS)  # every _email.* type


def test_pinpoint_ground_truth_matches_the_events_on_disk(
    pinpoint: tuple[GenerationSummary, dict],
) -> None:
    summary, seen = pinpoint
    assert summary.truth == pinpoint_truth(seen["rows"])
    totals = summary.totals()
    assert totals["sent"] == 2 * 5 * 150
    assert totals["delivery_delayed"] == 0  # Pinpoint has no such event
    for metric in set(METRICS) - {"delivery_delayed"}:
        assert totals[metric] > 0, metric
    assert totals["opened"] < totals["delivered"] and totals["clicked"] < totals["opened"]
    assert summary.campaign_apps == {
        "spring_sale_pinpoint": "shop",
        "onboarding_journey": "community",
    }
    assert PINPOINT_CAMPAIGNS == ("spring_sale_pinpoint", "onboarding_journey")
    assert not {c.name for c in ses_campaigns(5)} & set(summary.campaign_apps)


def test_pinpoint_events_are_attributed_and_timed_like_pinpoint(
    pinpoint: tuple[GenerationSummary, dict],
) -> None:
    _, seen = pinpoint
    rows = seen["rows"]
    assert all(all(r[c] for c in TAGS) for r in rows)  # our X-* headers on every event
    assert {r["campaign_name"] for r in rows} == {"spring_sale_pinpoint", "onboarding_journey"}
    campaign = [r for r in rows if r["campaign_name"] == "spring_sale_pinpoint"]
    journey = [r for r in rows if r["campaign_name"] == "onboarding_journey"]
    assert all(r["campaign_id"] and r["campaign_activity_id"] for r in campaign)
    assert {r["treatment_id"] for r in campaign} == {"0", "1"}  # an A/B test
    assert not any(r["journey_id"] for r in campaign)
    assert all(
        r["journey_id"] and r["journey_run_id"] and r["journey_activity_id"] for r in journey
    )
    assert not any(r["campaign_id"] for r in journey)
    # one campaign activity per daily run of the campaign
    assert len({r["campaign_activity_id"] for r in campaign}) == 5
    # event_timestamp is the send time on every event; arrival_timestamp (occurred_at) is later
    sends = {
        r["message_id"]: r["event_timestamp"] for r in rows if r["event_type"] == "_email.send"
    }
    assert all(r["event_timestamp"] == sends[r["message_id"]] for r in rows)
    assert all(r["occurred_at"] > r["event_timestamp"] for r in rows)
    assert any(r["occurred_at"] - r["event_timestamp"] > timedelta(days=1) for r in rows)
    clicks = [r for r in rows if r["event_type"] == "_email.click"]
    assert all(
        r["link_url"] == r["feedback"] and r["link_url"].startswith("https://") for r in clicks
    )
    bounces = {
        (r["event_type"], r["bounce_type"], r["bounce_subtype"]) for r in rows if r["bounce_type"]
    }
    assert bounces == {
        ("_email.hardbounce", "Permanent", "General"),
        ("_email.hardbounce", "Permanent", "NoEmail"),
        ("_email.softbounce", "Transient", "MailboxFull"),
    }
    machine = [
        r for r in rows if r["event_type"] == "_email.open" and r["user_agent"] == MPP_USER_AGENT
    ]
    assert machine and all(
        r["ip_address"].startswith(("17.", "172.225.", "104.28.")) for r in machine
    )
    assert all(
        r["error_message"]
        for r in rows
        if r["event_type"] in ("_email.rejected", "_email.rendering_failure")
    )
    assert all(
        r["complaint_type"] == "abuse" for r in rows if r["event_type"] == "_email.complaint"
    )
    # Pinpoint leaves the subject out of a campaign's send events only
    assert not any(r["subject"] for r in campaign if r["event_type"] == "_email.send")
    assert all(r["subject"] for r in journey)
    # the journey writes to new people every day, the campaign to the same segment
    days = defaultdict(set)
    for r in rows:
        if r["event_type"] == "_email.send":
            days[r["campaign_name"], r["event_timestamp"].date()].add(r["recipient"])
    first, second = (days["onboarding_journey", date(2026, 11, 16 + i)] for i in range(2))
    assert not first & second
    assert (
        days["spring_sale_pinpoint", date(2026, 11, 16)]
        == days["spring_sale_pinpoint", date(2026, 11, 17)]
    )
    # no address in common with the SES demo (its people are numbered from 0)
    assert all(int(re.search(r"(\d+)@", r["recipient"]).group(1)) >= 50_000 for r in rows)


def test_pinpoint_objects_use_firehose_naming_and_every_layout(
    pinpoint: tuple[GenerationSummary, dict],
) -> None:
    summary, seen = pinpoint
    suffixes: Counter[str | None] = Counter()
    for path in seen["objects"]:
        match = NAME.match(path.name)
        assert match, path.name
        *folders, suffix = match.groups()
        assert path.parent.relative_to(summary.landing / "pinpoint").parts == tuple(folders)
        suffixes[suffix] += 1
    assert suffixes[".gz"] and suffixes[None]
    assert seen["gzip"] > suffixes[".gz"]  # some gzip objects have no .gz suffix
    assert seen["plain"] and seen["newlines"] and seen["concatenated"]


def test_pinpoint_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    def run(folder: str, seed: int) -> tuple[GenerationSummary, dict[str, bytes]]:
        landing = tmp_path / folder
        summary = generate_pinpoint_landing(landing, seed=seed, days=2, recipients_per_campaign=20)
        return summary, {str(p.relative_to(landing)): p.read_bytes() for p in summary.objects}

    first, first_files = run("a", 5)
    second, second_files = run("b", 5)
    _, third_files = run("c", 6)
    assert first_files == second_files and first.truth == second.truth
    assert first_files.keys() != third_files.keys()


def test_pinpoint_small_run_and_every_kind_of_broken_record(tmp_path: Path) -> None:
    summary = generate_pinpoint_landing(
        tmp_path, days=1, campaigns=3, recipients_per_campaign=10, duplicates=0, malformed=3
    )
    seen = read_pinpoint(tmp_path)
    assert summary.truth == pinpoint_truth(seen["rows"])
    reasons = sorted(
        re.sub(r"^_email\.\w+ record", "record", reason).split(":")[0]
        for _, reason in seen["rejects"]
    )
    assert reasons == ["invalid JSON", "not an email event", "record has no mail.message_id"]
    totals = summary.totals()
    for metric in ("hard_bounced", "soft_bounced", "complained", "unsubscribed", "rejected",
                   "rendering_failed", "bot_clicked", "clicked"):  # fmt: skip
        assert totals[metric] >= 1, metric
    assert set(summary.campaign_apps) == {*PINPOINT_CAMPAIGNS, "pinpoint_campaign_3"}
    with pytest.raises(ValueError):
        generate_pinpoint_landing(tmp_path, days=0)


def test_pinpoint_record_builders_make_records_the_parser_reads() -> None:
    sent = datetime(2026, 11, 20, 10, 0, 0, 12000, UTC)
    later = sent + timedelta(minutes=5)
    message = PinpointMessage(
        message_id="0200019aa1b2c3d4-x-000000",
        recipient="Someone@Example.com",
        sent_at=sent,
        sender="Shop <sale@shop.example.com>",
        subject="Hello",
        tags={"campaign": "c", "app": "a", "shoot_id": "s", "email_log_id": "e"},
        attributes={"campaign_id": "cid", "campaign_activity_id": "act", "treatment_id": "0"},
        client_id="client",
    )
    ua, ip = "Mozilla/5.0 (X11; Linux x86_64)", "::ffff:192.0.2.9"
    built = [
        pinpoint_send_record(message, arrived_at=later),
        pinpoint_delivered_record(message, delivered_at=later),
        pinpoint_bounce_record(message, bounced_at=later),
        pinpoint_bounce_record(message, bounced_at=later, bounce_type="Transient", bounce_subtype="MailboxFull"),
        pinpoint_complaint_record(message, complained_at=later),
        pinpoint_open_record(message, opened_at=later, ip_address=ip, user_agent=ua),
        pinpoint_click_record(message, clicked_at=later, link="https://x.example/a", ip_address=ip, user_agent=ua),
        pinpoint_unsubscribe_record(message, unsubscribed_at=later, link="https://x.example/u", ip_address=ip, user_agent=ua),
        pinpoint_rejected_record(message, rejected_at=later),
        pinpoint_rendering_failure_record(message, failed_at=later, template_name="t"),
    ]  # fmt: skip
    seen = set()
    for record in built:
        text = orjson.dumps(record)
        (row,) = parse_pinpoint_record(orjson.loads(text), text)
        got = dict(zip(PINPOINT_COLUMNS, row, strict=True))
        assert (got["occurred_at"], got["event_timestamp"], got["recipient"]) == (
            later,
            sent,
            "someone@example.com",
        )
        assert tuple(got[c] for c in TAGS) == ("c", "a", "s", "e")
        assert (got["campaign_id"], got["sender"]) == ("cid", "sale@shop.example.com")
        seen.add(got["event_type"])
        if got["ip_address"]:
            assert got["ip_address"] == "192.0.2.9"
    assert seen == set(EVENT_OBJECTS)


# --- open tracker -----------------------------------------------------------------------------


def _events(body: bytes) -> list[dict[str, Any]]:
    """The events of a saved-responses file, split as the loader splits it."""
    docs = list(saved_response_documents(body, tracker_response_events, "a JSON array"))
    assert all(doc.error is None for doc in docs)
    return [doc.value for doc in docs]


def read_tracker(folder: Path) -> dict[str, Any]:
    """Every saved response as `mailtrail load tracker` reads it, through the tracker parser."""
    files = sorted(folder.iterdir(), key=lambda p: int(re.sub(r"\D", "", p.name)))
    out: dict[str, Any] = {"files": files, "events": [], "rows": [], "by_file": {}}
    for path in files:
        out["by_file"][path.name] = events = _events(path.read_bytes())
        for event in events:
            text = orjson.dumps(event)
            (row,) = parse_tracker_record(orjson.loads(text), text)
            out["events"].append(event)
            out["rows"].append(dict(zip(TRACKER_COLUMNS, row, strict=True)))
    return out


@pytest.fixture(scope="module")
def tracker(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[GenerationSummary, TrackerSummary, dict]:
    landing = tmp_path_factory.mktemp("landing")
    ses = generate_ses_landing(landing, seed=SES_SEED, days=3, recipients_per_campaign=120)
    summary = generate_tracker_pages(landing / "tracker", messages=ses)
    return ses, summary, read_tracker(landing / "tracker")


def test_tracker_summary_is_what_is_on_disk(
    tracker: tuple[GenerationSummary, TrackerSummary, dict],
) -> None:
    _, summary, seen = tracker
    assert [p.name for p in seen["files"]] == [p.name for p in summary.pages]
    assert [p.name for p in summary.pages] == [
        f"open-events-{n}.json" for n in range(1, len(summary.pages) + 1)
    ]
    assert (
        len(seen["rows"])
        == summary.events_written
        == summary.distinct_events + summary.repeated_events
    )
    by_id = {r["tracker_event_id"]: r for r in seen["rows"]}
    assert len(by_id) == summary.distinct_events
    assert len({r["event_key"] for r in seen["rows"]}) == summary.distinct_events
    assert sorted(by_id) == list(range(summary.first_id, summary.last_id + 1))
    rows = list(by_id.values())
    assert sum(r["is_duplicate"] for r in rows) == summary.duplicate_opens > 0
    assert sum(r["is_sender_suppressed"] for r in rows) == summary.suppressed_opens > 0
    assert sum(r["user_agent"] == MPP_USER_AGENT for r in rows) == summary.machine_opens > 0
    assert dict(Counter(r["device_type"] for r in rows)) == summary.device_counts
    assert set(summary.device_counts) == {"phone", "computer", "other"}
    assert {r["email_id"] for r in rows} == summary.email_ids
    assert (
        sum(
            e["ip_address"].startswith("::ffff:")
            for e in {e["id"]: e for e in seen["events"]}.values()
        )
        == summary.ipv6_mapped
        > 0
    )
    # ids grow with opened_at, as the service's autoincrement assigns them
    ordered = [by_id[i]["opened_at"] for i in sorted(by_id)]
    assert ordered == sorted(ordered)
    # pages of the plain listing hold neither duplicates nor suppressed opens (the API's rule);
    # the last file has the per-email responses, one JSON array per line, one email each
    *listing, per_email = summary.pages
    for page in listing:
        events = seen["by_file"][page.name]
        assert events and not any(e["is_duplicate"] or e["is_sender_suppressed"] for e in events)
    lines = per_email.read_bytes().splitlines()
    assert all(len({e["email_id"] for e in orjson.loads(line)}) == 1 for line in lines)
    special = seen["by_file"][per_email.name]
    assert all(
        any(e["is_duplicate"] or e["is_sender_suppressed"] for e in orjson.loads(line))
        for line in lines
    )
    assert (
        sum(not e["is_duplicate"] and not e["is_sender_suppressed"] for e in special)
        == summary.repeated_events
    )


def test_tracker_truth_matches_the_events_on_disk(
    tracker: tuple[GenerationSummary, TrackerSummary, dict],
) -> None:
    ses, summary, seen = tracker
    rows = {r["tracker_event_id"]: r for r in seen["rows"]}.values()
    campaign = {m.email_log_id: m.campaign for m in ses.delivered_messages}
    firsts: dict[tuple[str, str], datetime] = {}
    for r in rows:
        if r["is_duplicate"]:
            continue
        machine = r["is_sender_suppressed"] or r["user_agent"] == MPP_USER_AGENT
        key = (r["email_id"], "machine_opened" if machine else "opened")
        firsts[key] = min(firsts.get(key, r["opened_at"]), r["opened_at"])
    truth: dict[tuple[date, str], dict[str, int]] = {}
    for (email_id, metric), moment in firsts.items():
        counts = truth.setdefault(
            (moment.date(), campaign[email_id]), {"opened": 0, "machine_opened": 0}
        )
        counts[metric] += 1
    assert summary.truth == dict(sorted(truth.items()))


def test_tracker_opens_are_of_the_ses_demo_messages(
    tracker: tuple[GenerationSummary, TrackerSummary, dict],
) -> None:
    ses, summary, seen = tracker
    messages = {m.email_log_id: m for m in ses.delivered_messages}
    assert summary.email_ids <= set(messages)
    # the same email_log_ids as the SES records on disk carry, with the same recipients
    ses_logs: dict[str, str] = {}
    for path in ses.objects:
        with path.open("rb") as handle:
            for doc in iter_documents(open_maybe_gzip(handle)):
                tags = (
                    (doc.value or {}).get("mail", {}).get("tags", {})
                    if type(doc.value) is dict
                    else {}
                )
                if tags.get("email_log_id"):
                    ses_logs[tags["email_log_id"][0]] = doc.value["mail"]["destination"][0].lower()
    for r in seen["rows"]:
        message = messages[r["email_id"]]
        assert ses_logs[r["email_id"]] == r["recipient"] == message.recipient.lower()
        assert r["user_id"] == f"mailtrail-{message.app}"
        # the tracker never sees an open before SES's first one of its kind
        machine = r["is_sender_suppressed"] or r["user_agent"] == MPP_USER_AGENT
        first = message.first_machine_opened_at if machine else message.first_opened_at
        assert first is not None and r["opened_at"] > first
        assert r["opened_at"] - message.delivered_at > timedelta(seconds=2)
    # a subset of the delivered messages: those SES saw opened
    opened = {
        m.email_log_id
        for m in ses.delivered_messages
        if m.first_opened_at or m.first_machine_opened_at
    }
    assert summary.email_ids < opened and len(summary.email_ids) > 0.7 * len(opened)


def test_tracker_events_look_like_the_service(
    tracker: tuple[GenerationSummary, TrackerSummary, dict],
) -> None:
    _, _, seen = tracker
    events = list({e["id"]: e for e in seen["events"]}.values())
    assert set(events[0]) == set(TRACKER_COLUMNS) - {"event_key", "tracker_event_id", "payload"} | {
        "id"
    }
    for e in events:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["opened_at"])
        assert e["device_type"] == device_type(e["user_agent"])
        assert e["suppression_reason"] == (
            SUPPRESSION_REASON if e["is_sender_suppressed"] else None
        )
        if e["geo_city"]:
            assert e["geo_country"] and e["latitude"] is not None and e["longitude"] is not None
    suppressed = [e for e in events if e["is_sender_suppressed"]]
    assert all(e["user_agent"] == MPP_USER_AGENT for e in suppressed)
    machine = [e for e in events if e["user_agent"] == MPP_USER_AGENT]
    assert all(e["geo_city"] is None and e["device_type"] == "other" for e in machine)
    assert any(e["geo_city"] is None and e["user_agent"] != MPP_USER_AGENT for e in events)
    assert len({e["geo_city"] for e in events}) > 8
    # a duplicate is a re-fetch from the same IP and user agent, seconds after an open
    by_email = defaultdict(list)
    for e in events:
        by_email[e["email_id"]].append(e)
    for e in events:
        if e["is_duplicate"]:
            assert any(
                o["id"] < e["id"]
                and not o["is_duplicate"]
                and (o["ip_address"], o["user_agent"]) == (e["ip_address"], e["user_agent"])
                for o in by_email[e["email_id"]]
            )
    assert (
        device_type(
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
        )
        == "other"
    )
    assert device_type(None) == "other"


def test_tracker_is_deterministic_and_follows_the_ses_seed(tmp_path: Path) -> None:
    def run(folder: str, ses_seed: int, seed: int = 23) -> dict[str, bytes]:
        landing = tmp_path / folder
        ses = generate_ses_landing(
            landing, seed=ses_seed, days=1, campaigns=1, recipients_per_campaign=60
        )
        summary = generate_tracker_pages(
            landing / "tracker", messages=ses.delivered_messages, seed=seed, page_size=40
        )
        assert len(summary.pages) > 1
        return {p.name: p.read_bytes() for p in summary.pages}

    assert run("a", 3) == run("b", 3)
    assert run("c", 3) != run("d", 3, seed=24)
    # the same SES seed gives the same email_log_ids; another seed other ones
    ids = {
        seed: {e["email_id"] for p in run(f"s{seed}", seed).values() for e in _events(p)}
        for seed in (3, 5)
    }
    assert ids[3] and not ids[3] & ids[5]


def test_delivered_messages_of_the_ses_generator(tmp_path: Path) -> None:
    ses = generate_ses_landing(tmp_path, seed=2, days=1, campaigns=2, recipients_per_campaign=40)
    messages = ses.delivered_messages
    assert len(messages) == ses.totals()["delivered"]
    assert len({m.email_log_id for m in messages}) == len(messages)
    assert {m.campaign for m in messages} == set(ses.campaign_apps)
    assert sum(m.first_opened_at is not None for m in messages) == ses.totals()["opened"]
    assert (
        sum(m.first_machine_opened_at is not None for m in messages)
        == ses.totals()["machine_opened"]
    )
