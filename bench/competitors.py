"""What users would pick instead of the loader, run on the same files into the same PostgreSQL:
a dlt pipeline (its defaults, ``max_table_nesting=0``) and pandas ``to_sql``. Each returns the
seconds it took. dlt is the ``bench`` extra: Mailtrail itself never imports it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


def _records(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                yield orjson.loads(line)


def load_with_dlt(url: str, files: list[Path], workdir: Path) -> float:
    import dlt

    dlt.config["runtime.dlthub_telemetry"] = False
    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="bench_ses",
        pipelines_dir=str(workdir),
        # dlt wants a host even for a Unix socket (libpq then takes ?host= from the query)
        destination=dlt.destinations.postgres(credentials=url.replace("@/", "@localhost/", 1)),
        dataset_name="dlt_bench",
    )
    resource = dlt.resource(_records(files), name="ses_events", max_table_nesting=0)
    info = pipeline.run(resource)
    info.raise_on_failed_jobs()
    return time.perf_counter() - started


def load_with_pandas(url: str, files: list[Path], chunk: int = 20_000) -> float:
    """Records read with ``pandas.read_json(lines=True)`` in chunks (memory stays flat), nested
    values serialised to JSON text, written with ``DataFrame.to_sql``."""
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.perf_counter()
    with engine.begin() as conn:
        for path in files:
            for frame in pd.read_json(path, lines=True, chunksize=chunk, dtype=False):
                for column in frame.columns:
                    if frame[column].dtype == object:
                        frame[column] = frame[column].map(
                            lambda v: orjson.dumps(v).decode() if isinstance(v, dict | list) else v
                        )
                frame.to_sql("pandas_ses", conn, if_exists="append", index=False)
    engine.dispose()
    return time.perf_counter() - started
