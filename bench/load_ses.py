"""Loader throughput against the floor of PostgreSQL itself.

Writes N realistic SES records (~1.5 KB) as one Firehose-style NDJSON object, then measures:
- baseline: ``COPY`` of the same lines into a bare ``jsonb`` column (what ``psql \\copy`` does);
- loader: ``ingest_objects`` (split, parse, fan-out, hash, COPY, dedup insert, manifest);
- parse only: the loader's Python side alone (split, parse, fan-out, hash), no database;
and prints records/s for each, their ratios and the loader's peak RSS, and writes JSON to
bench/results/load_ses.json. Not a test: nothing here asserts on time.

    make bench                      # 200k records
    .venv/bin/python -m bench.load_ses --records 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import orjson
import psycopg

from bench.databases import bench_database
from bench.generators import iter_ses_records
from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.parsers.jsonstream import iter_documents, open_maybe_gzip
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect
from orchestration.warehouse.migrations import migrate

RESULTS = Path(__file__).parent / "results"


def settle(conn: psycopg.Connection) -> None:
    """Start each measurement from a clean slate: without a checkpoint, the loader would pay
    for flushing the baseline's 300+ MB of dirty pages and WAL."""
    try:
        conn.execute("checkpoint")
    except psycopg.errors.InsufficientPrivilege:
        print("(not a superuser: no checkpoint between measurements, the loader's figure suffers)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--database-url", help="server to use (default: embedded under a tmp dir)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        data = tmp_path / "ses.ndjson"
        size = 0
        with data.open("wb") as out:
            for record in iter_ses_records(args.records, seed=1):
                chunk = orjson.dumps(record) + b"\n"
                size += len(chunk)
                out.write(chunk)
        print(f"{args.records} records, {size / args.records:.0f} bytes each, {size / 1e6:.0f} MB")

        with connect(url, autocommit=True) as conn:
            migrate(conn)
            conn.execute("create table bench_baseline (payload jsonb)")
            settle(conn)
            started = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy("copy bench_baseline (payload) from stdin") as copy,
                data.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block.replace(b"\\", b"\\\\"))
            baseline_s = time.perf_counter() - started

            settle(conn)
            started = time.perf_counter()
            counts = ingest_objects(conn, SES, list_paths([str(data)]))
            loader_s = time.perf_counter() - started

        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        started = time.perf_counter()
        with data.open("rb") as handle:
            for doc in iter_documents(open_maybe_gzip(handle)):
                SES.parse(doc.value, doc.text)
        parse_s = time.perf_counter() - started
        result = {
            "records": args.records,
            "bytes_per_record": round(size / args.records),
            "baseline_copy_records_per_s": round(args.records / baseline_s),
            "loader_records_per_s": round(args.records / loader_s),
            "loader_vs_baseline": round(baseline_s / loader_s, 3),
            "parse_only_records_per_s": round(args.records / parse_s),
            "parse_share_of_loader_time": round(parse_s / loader_s, 3),
            "rows_loaded": counts.rows_loaded,
            "records_loaded": counts.loaded,
            "peak_rss_mb": round(peak_rss_mb),
        }
    for key, value in result.items():
        print(f"{key:>28}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load_ses.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
