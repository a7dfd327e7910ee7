"""How well Mailtrail tells people from machines: precision and recall of each engagement rule
on generated opens and clicks whose truth is known (bench/engagement_data.py).

The run: N delivered messages (default 80,000: ~106k labelled opens and clicks, ~186k events)
written as SES records, loaded by the loader, enriched (distinct user agents parsed, IP addresses
validated) and built by dbt into marts.fct_email_events, exactly as production does; then each
event's flags are compared with its label. Measured in the same run, on the same rows:
- ``previous``: the rules Mailtrail had before (Apple's 'Mozilla/5.0', within 2 s of delivery,
  scanner user-agent regex; no duplicate detection for providers that do not flag them);
- ``count_all``: counting every open and click, as most tools report them.
Prints a table and writes JSON to bench/results/engagement.json. Not a test: nothing asserts.

    make bench-engagement
    .venv/bin/python -m bench.engagement --messages 200000 --database-url postgresql://...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson
import psycopg

from bench.databases import bench_database
from bench.engagement_data import DEFAULT_MIX, iter_labelled_engagement
from orchestration.enrichment.store import enrich_ip_addresses, enrich_user_agents
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect, dbt_env
from orchestration.warehouse.migrations import migrate

RESULTS = Path(__file__).parent / "results"
DBT_PROJECT = Path(__file__).parents[1] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))

# Each classifier: which events it judges, what the truth is, what Mailtrail and the previous
# rules say (SQL over bench_judged, one row per labelled event).
CLASSIFIERS = {
    "is_machine_open": {
        "events": "event_type = 'opened'",
        "truth": "label = 'machine'",
        "mailtrail": "is_machine_open",
        "previous": "prev_machine_open",
    },
    "is_bot_click": {
        "events": "event_type = 'clicked'",
        "truth": "label = 'machine'",
        "mailtrail": "is_bot_click",
        "previous": "prev_bot_click",
    },
    "is_duplicate": {
        "events": "true",
        "truth": "label = 'duplicate'",
        "mailtrail": "is_duplicate",
        "previous": "false",
    },
    # what the marts count: an open / click by a person, once
    "human_open": {
        "events": "event_type = 'opened'",
        "truth": "label = 'human'",
        "mailtrail": "not is_machine_open and not is_duplicate",
        "previous": "not prev_machine_open",
        "count_all": "true",
    },
    "human_click": {
        "events": "event_type = 'clicked'",
        "truth": "label = 'human'",
        "mailtrail": "not is_bot_click and not is_duplicate",
        "previous": "not prev_bot_click",
        "count_all": "true",
    },
}


def run_dbt(url: str, target: Path, *args: str) -> None:
    command = [DBT, *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    command += ["--target-path", str(target), "--log-path", str(target / "logs")]
    done = subprocess.run(
        command, env={**os.environ, **dbt_env(url)}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}{done.stderr}")


def generate(path: Path, messages: int, seed: int) -> list[tuple]:
    """Write the SES records to ``path``; return the labels (never written to the warehouse)."""
    labels = []
    with path.open("wb") as out:
        for event in iter_labelled_engagement(messages, seed=seed):
            out.write(orjson.dumps(event.record) + b"\n")
            if event.label:
                labels.append((event.message_id, event.event_type, event.at, event.link,
                               event.label, event.actor))  # fmt: skip
    return labels


JUDGED = """
create table bench_judged as
with deliveries as (
    select email_log_id, min(occurred_at) as first_delivered_at
    from marts.fct_email_events where event_type = 'delivered' group by email_log_id
)
select
    labels.label, labels.actor, events.event_type, events.is_machine_open, events.is_bot_click,
    events.is_duplicate, events.machine_open_reason, events.bot_click_reason,
    -- the rules before this change, on the same rows
    events.event_type = 'opened' and (
        events.user_agent = 'Mozilla/5.0'
        or abs(extract(epoch from events.occurred_at - deliveries.first_delivered_at)) <= 2
    ) as prev_machine_open,
    events.event_type = 'clicked' and (
        coalesce(events.user_agent ~* %(bot_pattern)s, false)
        or abs(extract(epoch from events.occurred_at - deliveries.first_delivered_at)) <= 2
    ) as prev_bot_click
from bench_labels as labels
inner join marts.fct_email_events as events
    on events.message_id = labels.message_id
    and events.event_type = labels.event_type
    and events.occurred_at = labels.at
    and coalesce(events.link_url, '') = labels.link
left join deliveries on events.email_log_id = deliveries.email_log_id
"""
BOT_PATTERN = "bot|crawler|spider|python-requests|curl|wget|barracuda|proofpoint|mimecast|scanner"


def scores(conn: psycopg.Connection, events: str, truth: str, predicted: str) -> dict[str, float]:
    tp, fp, fn, tn = conn.execute(
        f"select count(*) filter (where ({predicted}) and ({truth})),"
        f" count(*) filter (where ({predicted}) and not ({truth})),"
        f" count(*) filter (where not ({predicted}) and ({truth})),"
        f" count(*) filter (where not ({predicted}) and not ({truth}))"
        f" from bench_judged where {events}"
    ).fetchone()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if tp else 0.0,
        "counted": tp + fp,
        "true": tp + fn,
        "counted_vs_true": round((tp + fp) / (tp + fn), 3) if tp + fn else 0.0,
        "events": tp + fp + fn + tn,
    }


def rule_precision(conn: psycopg.Connection, column: str, events: str) -> dict[str, dict]:
    rows = conn.execute(
        f"select {column}, count(*), count(*) filter (where label = 'machine')"
        f" from bench_judged where {events} and {column} is not null group by 1 order by 2 desc"
    ).fetchall()
    return {rule: {"flagged": n, "precision": round(ok / n, 4)} for rule, n, ok in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=80_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()
    timings: dict[str, float] = {}

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        started = time.perf_counter()
        data = tmp_path / "ses.ndjson"
        labels = generate(data, args.messages, args.seed)
        timings["generate_s"] = time.perf_counter() - started
        with connect(url, autocommit=True) as conn:
            migrate(conn)
            started = time.perf_counter()
            loaded = ingest_objects(conn, SES, list_paths([str(data)]))
            timings["load_s"] = time.perf_counter() - started
            started = time.perf_counter()
            agents = enrich_user_agents(conn)
            addresses = enrich_ip_addresses(conn, None)
            timings["enrich_s"] = time.perf_counter() - started
        started = time.perf_counter()
        run_dbt(url, tmp_path / "dbt", "seed")
        run_dbt(url, tmp_path / "dbt", "run", "--select", "+fct_email_events")
        timings["dbt_s"] = time.perf_counter() - started
        with connect(url, autocommit=True) as conn:
            conn.execute(
                "create table bench_labels (message_id text, event_type text,"
                " at timestamptz, link text, label text, actor text)"
            )
            with conn.cursor() as cur, cur.copy("copy bench_labels from stdin") as copy:
                for row in labels:
                    copy.write_row(row)
            conn.execute(JUDGED, {"bot_pattern": BOT_PATTERN})
            judged = conn.execute("select count(*) from bench_judged").fetchone()[0]
            results = {}
            for classifier, spec in CLASSIFIERS.items():
                results[classifier] = {
                    rules: scores(conn, spec["events"], spec["truth"], spec[rules])
                    for rules in ("mailtrail", "previous", "count_all")
                    if rules in spec
                }
            machine_open_rules = rule_precision(
                conn, "machine_open_reason", "event_type = 'opened'"
            )
            bot_click_rules = rule_precision(conn, "bot_click_reason", "event_type = 'clicked'")
            missed = conn.execute(
                "select actor, count(*) from bench_judged where label = 'machine'"
                " and not is_machine_open and not is_bot_click group by 1 order by 2 desc"
            ).fetchall()

    label_counts = Counter((row[1], row[4]) for row in labels)
    result = {
        "messages": args.messages,
        "seed": args.seed,
        "labelled_events": len(labels),
        "events_loaded": loaded.rows_loaded,
        "labelled_events_matched": judged,
        "labels": {f"{kind}/{label}": n for (kind, label), n in sorted(label_counts.items())},
        "mix": DEFAULT_MIX.__dict__,
        "distinct_user_agents": agents.distinct_new,
        "distinct_ip_addresses": addresses.distinct_new,
        "classifiers": results,
        "machine_open_rules": machine_open_rules,
        "bot_click_rules": bot_click_rules,
        "machines_missed_by_actor": dict(missed),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    print(f"{len(labels)} labelled opens and clicks ({judged} matched in the warehouse)")
    print(f"{'classifier':<16} {'rules':<10} {'precision':>9} {'recall':>7} {'counted/true':>13}")
    for classifier, by_rules in results.items():
        for rules, s in by_rules.items():
            print(
                f"{classifier:<16} {rules:<10} {s['precision']:>9.3f} {s['recall']:>7.3f}"
                f" {s['counted_vs_true']:>13.3f}"
            )
    print("machine-open rules (precision):", machine_open_rules)
    print("bot-click rules (precision):", bot_click_rules)
    print("machines counted as people, by actor:", dict(missed))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engagement.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
