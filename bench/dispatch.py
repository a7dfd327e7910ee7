"""Dispatch throughput: recipients/s of one shoot, end to end, against the per-recipient path.

Every measurement sends one real shoot through ``Emailing.send_shoot`` on a real PostgreSQL:
audience paging over ``app.contacts``, suppression (``marts.suppression_list`` and
``app.suppressions``, 1% of the audience each), a frequency limit (1% of the users already at
it: ``skipped``), template rendering and the ledger. Two senders:

- ``null``: accepts every message without any I/O, so Mailtrail's own cost is what is measured;
- ``outbox``: an ``.eml`` file per message, fsynced (the development and drafts sender).

Two implementations, in the same run, on the same data:

- ``batched``: the dispatch of today (``page_sending``: a chunk of a page claimed in one
  statement, answers recorded in one statement, counters incremented in the same transactions);
- ``batches_x2``: the same shoot as two batches in two threads (``campaigns.batches``), which a
  multi-worker executor would run on two machines;
- ``per_recipient``: the previous approach, kept in ``sending.run_recipients`` (batch_send_email
  and dry runs use it): a ledger insert, two counter upserts and a commit, then an update, per
  recipient, and the shoot's counters recounted from the ledger after every page.

Each measurement runs in a fresh process, so its peak RSS is its own. Also measured: how close
the SES sender holds a configured send rate against a local fake SES (``bench.send_rate``).
Results go to bench/results/dispatch.json. Not a test: nothing here asserts on time.

    make bench-dispatch
    .venv/bin/python -m bench.dispatch --sizes 100000 1000000 --baseline-size 5000 \
        --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.send_rate import measure_send_rate
from orchestration.campaigns import (
    Audience,
    DispatchSettings,
    Emailing,
    MessageFrequency,
    Registry,
    SqlSegment,
    Template,
)
from orchestration.senders.base import OutgoingEmail, SendResult
from orchestration.warehouse.connection import with_database
from orchestration.warehouse.embedded import ensure_embedded_postgres
from orchestration.warehouse.migrations import migrate

RESULTS = Path(__file__).parent / "results"
LIMIT = MessageFrequency(idempotency_key="bench", message_limit=1_000_000_000)

SEGMENT = SqlSegment(
    "bench_contacts",
    "select user_id as user_ref, email_address,"
    " jsonb_build_object('first_name', first_name, 'plan', plan) as user_context"
    " from app.contacts where is_subscribed",
)
TEMPLATE = Template(
    name="bench_news",
    subject="{{ settings.title }} for {{ user.first_name }}",
    pre_header="{{ settings.title }}",
    html=(
        "<body><p>Hi {{ user.first_name }},</p><p>Your {{ user.plan }} plan news.</p>"
        '<a href="https://example.com/news">Read more</a></body>'
    ),
    required_settings=("title",),
)


class NullSender:
    """Accepts every message, no I/O: what is left is Mailtrail's own cost."""

    name = "null"

    def send(self, message: OutgoingEmail) -> SendResult:
        return SendResult(message_id=f"null-{message.email_log_id}", provider=self.name)

    def close(self) -> None:
        pass


def registry() -> Registry:
    out = Registry()
    out.register_segment(SEGMENT)
    out.register_template(TEMPLATE)
    return out


def prepare(url: str, size: int) -> None:
    """``size`` contacts, 1% suppressed by the mart, 1% by the app, 1% at their limit."""
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        conn.execute(
            "insert into app.contacts (user_id, email_address, first_name, plan)"
            " select 'user-' || lpad(i::text, 8, '0'), 'user' || i || '@example.com',"
            "  'Name' || i, case when i %% 3 = 0 then 'pro' else 'free' end"
            " from generate_series(1, %s) as i",
            (size,),
        )
        # The mart dbt builds from provider events (same columns), filled directly here.
        conn.execute("create schema if not exists marts")
        conn.execute(
            "create table marts.suppression_list as select 'user' || i || '@example.com'"
            " as recipient, 'hard_bounce'::text as reason, 'ses'::text as provider"
            " from generate_series(50, %s, 100) as i",
            (size,),
        )
        # the indexes of its dbt config (models/marts/suppression_list.sql)
        conn.execute("create index on marts.suppression_list (recipient)")
        conn.execute("create index on marts.suppression_list (lower(recipient))")
        conn.execute(
            "insert into app.suppressions (recipient, reason)"
            " select 'user' || i || '@example.com', 'manual' from generate_series(51, %s, 100) i",
            (size,),
        )
        conn.execute(
            "insert into app.message_counters (user_key, idempotency_key, message_count)"
            " select 'user-' || lpad(i::text, 8, '0'), 'bench', %s"
            " from generate_series(52, %s, 100) as i",
            (LIMIT.message_limit, size),
        )
        conn.execute("vacuum analyze")


@dataclass(frozen=True)
class Case:
    mode: str  # batched | batches_x<N> (N batches in threads) | per_recipient
    size: int
    concurrency: int
    sender: str  # null | outbox


def _run_case(url: str, case: Case, folder: str) -> dict[str, Any]:
    """In a fresh process: schedule one shoot and send it; recipients/s and peak RSS."""
    from orchestration.senders.outbox import OutboxSender

    sender: Any = NullSender() if case.sender == "null" else OutboxSender(Path(folder) / "outbox")
    now = datetime.now(UTC)
    emailing = Emailing(
        url, sender, registry(),
        DispatchSettings(concurrency=case.concurrency),
        drafts=OutboxSender(Path(folder) / "drafts"), clock=lambda: now,
    )  # fmt: skip
    shoot = emailing.schedule_shoot(
        now, Audience(SEGMENT.name, limit=case.size), TEMPLATE.name, {"title": "News"},
        campaign_name=f"bench-{uuid.uuid4().hex[:8]}", message_frequency=LIMIT,
    )  # fmt: skip
    backends = BackendCpu(url)
    cpu_before = _process_cpu()
    started = time.perf_counter()
    with backends:
        if case.mode == "batched":
            outcome = emailing.send_shoot(shoot.shoot_id)
        elif case.mode.startswith("batches_x"):
            outcome = emailing.send_shoot_in_batches(shoot.shoot_id, int(case.mode[9:]))
        else:
            outcome = _send_per_recipient(emailing, shoot.shoot_id)
    elapsed = time.perf_counter() - started
    client_cpu = _process_cpu() - cpu_before
    final = outcome.shoot
    assert final is not None
    with psycopg.connect(url, autocommit=True) as conn:
        twice = conn.execute(
            "select count(*) from (select recipient from app.email_sends where shoot_id = %s"
            " group by recipient having count(*) > 1) d",
            (shoot.shoot_id,),
        ).fetchone()[0]
    return {
        "mode": case.mode,
        "recipients": case.size,
        "concurrency": case.concurrency,
        "sender": case.sender,
        "seconds": round(elapsed, 2),
        "recipients_per_s": round(case.size / elapsed),
        "sent": final.sent_count,
        "dropped": final.dropped_count,
        "skipped": final.skipped_count,
        "ledger_rows": final.recipient_count,
        "recipients_twice": twice,
        # CPU seconds per 1,000 recipients, of this process and of its PostgreSQL backends: the
        # rate one idle core each would allow is 1000 / max of the two.
        "client_cpu_s_per_1k": round(client_cpu / case.size * 1000, 4),
        "server_cpu_s_per_1k": (
            round(backends.seconds / case.size * 1000, 4) if backends.seconds else None
        ),
        "cpu_bound_recipients_per_s": round(case.size / max(client_cpu, backends.seconds or 0)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BackendCpu:
    """CPU seconds used by the dispatch's PostgreSQL backends (``application_name``
    ``mailtrail-dispatch``), read from /proc while they live: on a shared machine the wall
    clock also measures everyone else's load, the CPU time only ours. None when the server is
    not local."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latest: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.seconds: float | None = None

    def __enter__(self) -> BackendCpu:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.seconds = sum(self.latest.values()) if self.latest else None

    def _poll(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.05):
                pids = conn.execute(
                    "select pid from pg_stat_activity where application_name ="
                    " 'mailtrail-dispatch' and datname = current_database()"
                ).fetchall()
                for (pid,) in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.latest[pid] = (int(fields[11]) + int(fields[12])) / tick


def _send_per_recipient(emailing: Emailing, shoot_id: uuid.UUID) -> Any:
    """The previous dispatch loop: ``run_recipients`` (a ledger transaction per recipient) with
    the counters recounted from the ledger after every page."""
    from orchestration.campaigns import dispatch
    from orchestration.campaigns.claiming import claim_shoot, refresh_shoot_counters, release_shoot
    from orchestration.campaigns.sending import run_recipients

    ctx = emailing.context()
    with dispatch._lease(ctx) as lease:
        shoot = claim_shoot(lease, now=ctx.clock(), shoot_id=shoot_id)
        assert shoot is not None
        spec = dispatch._shoot_spec(ctx, shoot, persist=True)
        seen = [0]
        pages = dispatch._audience_pages(ctx, lease, shoot, seen)
        try:
            run_recipients(ctx, lease, spec, pages, on_page=lambda: dispatch._still_sending(
                lease, shoot_id))  # fmt: skip
            refresh_shoot_counters(lease, shoot_id)
            return dispatch.ShootOutcome(
                shoot_id, claimed=True, shoot=dispatch._finish(ctx, lease, shoot_id,
                audience_size=seen[0]))  # fmt: skip
        finally:
            release_shoot(lease, shoot_id)


def measure(url: str, case: Case) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as folder,
        multiprocessing.get_context("spawn").Pool(1) as pool,
    ):
        result = pool.apply(_run_case, (url, case, folder))
    print(
        f"{case.mode:>13} {case.sender:>6} n={case.size:>8} c={case.concurrency:>2}:"
        f" {result['recipients_per_s']:>6}/s (CPU-bound {result['cpu_bound_recipients_per_s']}/s)"
        f"  peak {result['peak_rss_mb']} MB"
        f"  sent {result['sent']} dropped {result['dropped']} skipped {result['skipped']}"
        f"  twice {result['recipients_twice']}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--large-concurrency", type=int, nargs="+", default=[4],
        help="concurrency levels for sizes of 1M and more (concurrency barely matters without I/O)",
    )  # fmt: skip
    parser.add_argument("--baseline-size", type=int, default=5_000)
    parser.add_argument("--outbox-size", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0, help="SES send rate to hold (/s)")
    parser.add_argument("--rate-messages", type=int, default=1500)
    parser.add_argument(
        "--batches-only", action="store_true",
        help="only one shoot sent whole and as 2 batches, at the first size (concurrency 4)",
    )  # fmt: skip
    parser.add_argument(
        "--batched-only", action="store_true",
        help="only the batched dispatch at each size (no baseline, outbox or send rate)",
    )  # fmt: skip
    parser.add_argument("--rate-concurrency", type=int, default=32)
    parser.add_argument("--rate-only", action="store_true", help="only the SES send rate")
    parser.add_argument("--output", default="dispatch.json", help="file under bench/results/")
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        admin_url = args.database_url or ensure_embedded_postgres(
            Path(tmp) / "pg", "postgres", stop_at_exit=True
        )
        name = f"bench_dispatch_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        url = with_database(admin_url, name)
        try:
            if args.rate_only:
                prepare(url, args.rate_messages + args.rate_messages // 20)
                runs = []
                rate = measure_send_rate(
                    url, registry(), args.rate, args.rate_messages, args.rate_concurrency
                )
            elif args.batched_only:
                prepare(url, max(args.sizes))
                runs = [
                    measure(url, Case("batched", size, c, "null"))
                    for size in args.sizes
                    for c in (args.large_concurrency if size >= 1_000_000 else args.concurrency)
                ]
                rate = None
            elif args.batches_only:
                prepare(url, args.sizes[0])
                runs = [measure(url, Case(m, args.sizes[0], 4, "null"))
                        for m in ("batched", "batches_x2")]  # fmt: skip
                rate = None
            else:
                prepare(url, max([*args.sizes, args.baseline_size, args.outbox_size]))
                runs = _all_cases(url, args)
                rate = measure_send_rate(
                    url, registry(), args.rate, args.rate_messages, args.rate_concurrency
                )
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'drop database "{name}" with (force)')
    if rate is not None:
        _print_rate(rate)
    result = {"page_size": DispatchSettings().page_size, "runs": runs, "send_rate": rate}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.output).write_text(json.dumps(result, indent=2) + "\n")


def _all_cases(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    runs = [
        measure(url, Case("batched", size, c, "null"))
        for size in args.sizes
        for c in (args.large_concurrency if size >= 1_000_000 else args.concurrency)
    ]
    runs += [measure(url, Case("batches_x2", min(args.sizes), 4, "null"))]
    runs += [
        measure(url, Case(mode, args.baseline_size, c, "null"))
        for mode in ("batched", "per_recipient")
        for c in args.concurrency
    ]
    runs += [
        measure(url, Case(mode, args.outbox_size, c, "outbox"))
        for mode in ("batched", "per_recipient")
        for c in (1, 4)
    ]
    return runs


def _print_rate(rate: dict[str, Any]) -> None:
    steady, throttled = rate, rate["throttled"]
    print(
        f"SES send rate: configured {steady['configured_per_s']}/s, held"
        f" {steady['achieved_per_s']}/s ({steady['ratio']}); SES admitting"
        f" {throttled['provider_admits_per_s']}/s: accepted {throttled['achieved_per_s']}/s,"
        f" {throttled['throttled_answers']} throttled answers, each once: {throttled['each_once']}"
    )


if __name__ == "__main__":
    main()
