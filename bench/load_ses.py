"""Loader throughput against the floor of PostgreSQL itself, and against what users pick instead.

Writes N realistic SES records (~1.8 KB) as Firehose-style NDJSON objects under a landing folder,
then, on the same PostgreSQL, measures in alternating rounds (the best round of each is kept,
so a noisy neighbour on a shared machine hurts both sides alike):

- baseline: one ``COPY`` stream of the same lines into a bare ``jsonb`` table (``psql \\copy``);
- loader: ``ingest_objects`` as the ingestion step runs it (dedup on ``event_key``, extraction of
  the columns, rejected records quarantined, manifest; ``MAILTRAIL_LOAD_STREAMS`` streams),
  and with the other choice (one stream, or two where the default is one) in the same rounds,
  each of the three taking each place in turn, with a checkpoint and a ``sync`` before each
  (without the ``sync``, a run right after the bare ``COPY`` paid for its writes still going to
  disk, and came out up to 20% slower);

then once each, for reference: a dlt pipeline on the same files (defaults,
``max_table_nesting=0``), pandas ``to_sql`` of the same records, and the loader's Python side
alone (no database). The competitors run once (minutes each), so they are compared with the
loader's *slowest* round, not its best: the noise of a shared machine never favours the loader.
Finally the loader's peak memory at two input sizes, each in a fresh process.

Next to each rate, the CPU milliseconds per 1,000 records of both sides (this process, and the
PostgreSQL server when /proc shows it: bench/cpu.py), and the load average: where the cores are
busy, the rate ratio follows the CPU ratio; only an idle core lets the loader's second stream
pay. Prints records/s and ratios, writes bench/results/load_ses.json. Not a test: nothing here
asserts on time.

    make bench                                   # 200k records, memory at 100k and 1M
    .venv/bin/python -m bench.load_ses --records 1000000 --memory-sizes ''
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.competitors import load_with_dlt, load_with_pandas
from bench.cpu import CpuMeter, CpuUsage
from bench.databases import bench_database
from bench.landing import reset_raw, write_objects
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.parsers.jsonstream import iter_documents, open_maybe_gzip
from orchestration.ingestion.sources import SES
from orchestration.settings import half_the_cores
from orchestration.warehouse.connection import connect
from orchestration.warehouse.migrations import migrate

RESULTS = Path(__file__).parent / "results"
STREAMS = half_the_cores()  # the loader's default (MAILTRAIL_LOAD_STREAMS unset)


def settle(conn: psycopg.Connection) -> None:
    """Start each measurement from a clean slate: without a checkpoint, one side would pay for
    flushing the other's hundreds of MB of dirty pages and WAL; without ``sync`` (a server on
    this machine), for the kernel writing them to disk after the checkpoint handed them over."""
    try:
        conn.execute("checkpoint")
    except psycopg.errors.InsufficientPrivilege:
        print("(not a superuser: no checkpoint between measurements, figures are noisier)")
    os.sync()


def copy_baseline(conn: psycopg.Connection, files: list[Path]) -> tuple[float, CpuUsage]:
    """One COPY stream of every line into a bare jsonb column; seconds and CPU taken."""
    conn.execute("drop table if exists bench_baseline")
    conn.execute("create table bench_baseline (payload jsonb)")
    settle(conn)
    meter = CpuMeter(conn)
    cpu = meter.read()
    started = time.perf_counter()
    with conn.cursor() as cur, cur.copy("copy bench_baseline (payload) from stdin") as copy:
        for path in files:
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block.replace(b"\\", b"\\\\"))
    return time.perf_counter() - started, meter.since(cpu)


def run_loader(url: str, landing: Path, streams: int) -> tuple[float, CpuUsage, dict[str, int]]:
    with connect(url, autocommit=True) as conn:
        reset_raw(conn)
        settle(conn)
        meter = CpuMeter(conn)
        cpu = meter.read()
        started = time.perf_counter()
        counts = ingest_objects(
            conn,
            SES,
            list_paths([str(landing)]),
            streams=streams,
            connect=lambda: connect(url, autocommit=True),
        )
        elapsed = time.perf_counter() - started
        time.sleep(0.5)  # the streams' backends have exited: let the server reap their CPU time
        used = meter.since(cpu)
    return elapsed, used, {"loaded": counts.loaded, "rows": counts.rows_loaded, "read": counts.read}


def cpu_ms_per_1000(used: list[CpuUsage], records: int) -> dict[str, float | None]:
    """Median client and server CPU milliseconds per 1,000 records over the rounds."""

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    client = median([u.client_s for u in used]) * 1e6 / records
    servers = [u.server_s for u in used if u.server_s is not None]
    server = median(servers) * 1e6 / records if len(servers) == len(used) else None
    return {
        "client": round(client, 1),
        "server": round(server, 1) if server is not None else None,
        "total": round(client + server, 1) if server is not None else None,
    }


def parse_only(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        with path.open("rb") as handle:
            for doc in iter_documents(open_maybe_gzip(handle)):
                SES.parse(doc.value, doc.text)
    return time.perf_counter() - started


def peak_memory(url: str, records: int, objects: int, tmp: Path, streams: int) -> dict[str, int]:
    """Write ``records`` as ``objects`` objects, load them in a fresh process; its peak RSS."""
    landing = tmp / f"memory-{records}"
    write_objects(landing, records, objects)
    with connect(url, autocommit=True) as conn:
        reset_raw(conn)
    done = subprocess.run(
        [sys.executable, "-m", "bench.load_once", url, str(landing), str(streams)],
        capture_output=True,
        text=True,
    )
    for path in landing.rglob("*.json"):
        path.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"load of {records} records failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--objects", type=int, default=8, help="objects the records land as")
    parser.add_argument("--streams", type=int, default=STREAMS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory-sizes", default="100000,1000000")
    parser.add_argument("--no-competitors", action="store_true")
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        landing = tmp_path / "landing"
        files, size = write_objects(landing, args.records, args.objects)
        print(
            f"{args.records} records, {size / args.records:.0f} bytes each, {size / 1e6:.0f} MB"
            f" in {len(files)} objects; loader streams: {args.streams}"
        )

        baseline_s: list[float] = []
        loader_s: list[float] = []
        other_s: list[float] = []
        baseline_cpu: list[CpuUsage] = []
        loader_cpu: list[CpuUsage] = []
        other_cpu: list[CpuUsage] = []
        other_streams = 2 if args.streams == 1 else 1
        load_before = os.getloadavg()[0]
        with connect(url, autocommit=True) as conn:
            migrate(conn)

        def baseline() -> None:
            with connect(url, autocommit=True) as conn:
                elapsed, used = copy_baseline(conn, files)
                baseline_s.append(elapsed)
                baseline_cpu.append(used)
                conn.execute("drop table bench_baseline")

        counts: dict[str, int] = {}

        def loader(streams: int, seconds: list[float], cpu: list[CpuUsage]) -> None:
            elapsed, used, loaded = run_loader(url, landing, streams)
            assert loaded["loaded"] == args.records, loaded
            counts.update(loaded)
            seconds.append(elapsed)
            cpu.append(used)

        steps = [
            baseline,
            lambda: loader(args.streams, loader_s, loader_cpu),
            lambda: loader(other_streams, other_s, other_cpu),
        ]
        for round_ in range(args.rounds):
            # each measurement takes each place in turn, so that none always follows another
            for step in steps[round_ % 3 :] + steps[: round_ % 3]:
                step()
            print(
                f"round {round_ + 1}: baseline {args.records / baseline_s[-1]:,.0f}/s,"
                f" loader {args.records / loader_s[-1]:,.0f}/s,"
                f" with {other_streams} stream(s) {args.records / other_s[-1]:,.0f}/s"
            )
        best_baseline, best_loader, best_other = min(baseline_s), min(loader_s), min(other_s)
        baseline_ms = cpu_ms_per_1000(baseline_cpu, args.records)
        loader_ms = cpu_ms_per_1000(loader_cpu, args.records)
        result: dict[str, object] = {
            "records": args.records,
            "objects": len(files),
            "bytes_per_record": round(size / args.records),
            "loader_streams": args.streams,
            "rounds": args.rounds,
            "load_average_1min_at_start": round(load_before, 2),
            "baseline_copy_records_per_s": round(args.records / best_baseline),
            "loader_records_per_s": round(args.records / best_loader),
            "loader_vs_baseline": round(best_baseline / best_loader, 3),
            "loader_other_streams": other_streams,
            "loader_other_streams_records_per_s": round(args.records / best_other),
            "loader_other_streams_vs_baseline": round(best_baseline / best_other, 3),
            "baseline_cpu_ms_per_1000_client": baseline_ms["client"],
            "baseline_cpu_ms_per_1000_server": baseline_ms["server"],
            "loader_cpu_ms_per_1000_client": loader_ms["client"],
            "loader_cpu_ms_per_1000_server": loader_ms["server"],
            "loader_other_streams_cpu_ms_per_1000": cpu_ms_per_1000(other_cpu, args.records)[
                "total"
            ],
            "loader_vs_baseline_cpu": (
                round(baseline_ms["total"] / loader_ms["total"], 3)
                if baseline_ms["total"] and loader_ms["total"]
                else None
            ),
            "parse_only_records_per_s": round(args.records / parse_only(files)),
            "rows_loaded": counts["rows"],
            "records_loaded": counts["loaded"],
        }
        if not args.no_competitors:
            with connect(url, autocommit=True) as conn:
                settle(conn)
                meter = CpuMeter(conn)
                cpu = meter.read()
                dlt_s = load_with_dlt(url, files, tmp_path / "dlt")
                dlt_ms = cpu_ms_per_1000([meter.since(cpu)], args.records)
                settle(conn)
                cpu = meter.read()
                pandas_s = load_with_pandas(url, files)
                pandas_ms = cpu_ms_per_1000([meter.since(cpu)], args.records)
            # run once each: compared with the loader's slowest round (see the docstring)
            slowest_loader = max(loader_s)
            result |= {
                "dlt_records_per_s": round(args.records / dlt_s),
                "loader_vs_dlt": round(dlt_s / slowest_loader, 1),
                "dlt_cpu_ms_per_1000_client": dlt_ms["client"],
                "dlt_cpu_ms_per_1000_server": dlt_ms["server"],
                "pandas_to_sql_records_per_s": round(args.records / pandas_s),
                "loader_vs_pandas_to_sql": round(pandas_s / slowest_loader, 1),
                "pandas_cpu_ms_per_1000_client": pandas_ms["client"],
                "pandas_cpu_ms_per_1000_server": pandas_ms["server"],
            }
        for path in files:
            path.unlink()
        sizes = [int(s) for s in args.memory_sizes.split(",") if s.strip()]
        for records in sizes:
            objects = max(1, records // (args.records // args.objects))
            figures = peak_memory(url, records, objects, tmp_path, args.streams)
            result[f"peak_rss_mb_at_{records}"] = figures["peak_rss_mb"]
            result[f"loader_records_per_s_at_{records}"] = figures["records_per_s"]
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    for key, value in result.items():
        print(f"{key:>36}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load_ses.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
