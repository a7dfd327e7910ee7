"""One load of a landing folder in a fresh process, for its peak memory (``VmHWM``: unlike
``ru_maxrss``, it does not carry over the peak of the process that started this one).

python -m bench.load_once DATABASE_URL LANDING_FOLDER STREAMS   # prints JSON
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from orchestration.ingestion.landing import list_paths
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect


def main() -> None:
    url, folder, streams = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        counts = ingest_objects(
            conn,
            SES,
            list_paths([folder]),
            streams=streams,
            connect=lambda: connect(url, autocommit=True),
        )
        elapsed = time.perf_counter() - started
    status = Path("/proc/self/status").read_text(encoding="ascii")
    peak_mb = int(status.split("VmHWM:", 1)[1].split()[0]) / 1024
    print(
        json.dumps(
            {
                "records": counts.loaded,
                "records_per_s": round(counts.loaded / elapsed),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    main()
