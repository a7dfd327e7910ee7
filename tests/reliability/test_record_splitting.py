"""One bad record is one rejected record - one row in quarantine, counted once in ``read`` - even
when what makes it bad (10k-level nesting, a lone surrogate, a number beyond double) is deep
inside a record whose nested objects would parse on their own."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest

from orchestration.ingestion.parsers.jsonstream import iter_documents
from tests.integration.ses_records import delivery, line
from tests.reliability.helpers import load, message_ids, rejected, write

CHUNK_SIZES = (1, 2, 7, 64, 4096, 1 << 20)


def deep(levels: int) -> bytes:
    return b'{"n":' * levels + b"1" + b"}" * levels


BAD = {
    "deep-nesting": (
        b'{"eventType":"Delivery","mail":{"messageId":"m-x","tags":{"a":["b"]}},"deep":'
        + deep(10_000)
        + b',"after":{"k":1}}'
    ),
    "lone-surrogate": (
        b'{"eventType":"Delivery","mail":{"messageId":"m-x","tags":{"a":["b"]}},'
        b'"delivery":{"smtpResponse":"250 \\ud800 ok","extra":{"k":"}{"}},"tail":{"k":1}}'
    ),
    "number-beyond-double": (
        b'{"eventType":"Delivery","mail":{"messageId":"m-x","size":{"v":1}},'
        b'"delivery":{"processingTimeMillis":1e400,"x":{"y":2}},"tail":[{"k":1}]}'
    ),
    "low-surrogate-first": b'{"a":{"b":1},"s":"\\udc00","c":{"d":[{"e":1}]}}',
}


@pytest.mark.parametrize("name", BAD)
@pytest.mark.parametrize("layout", ["ndjson", "concatenated"])
def test_the_splitter_returns_a_bad_record_whole(name: str, layout: str) -> None:
    bad = BAD[name]
    good_1, good_2 = b'{"good":1}', b'{"good":2,"s":"}{"}'
    glue = b"\n" if layout == "ndjson" else b""
    data = good_1 + glue + bad + glue + good_2 + b"\n"
    for size in CHUNK_SIZES:
        documents = list(iter_documents(io.BytesIO(data), chunk_size=size))
        assert [(d.text, d.error is None) for d in documents] == [
            (good_1, True),
            (bad, False),
            (good_2, True),
        ], f"chunk_size={size}"
        assert [d.ordinal for d in documents] == [1, 2, 3]


def test_a_loaded_object_quarantines_each_such_record_in_one_row(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    parts = [line(delivery("m-1", ["a@example.com"]))]
    for bad in BAD.values():
        parts.append(bad)
    parts.append(line(delivery("m-2", ["b@example.com"])))
    path = write(tmp_path / "obj", b"\n".join(parts) + b"\n")
    counts = load(database_url, paths=[path])
    assert (counts.read, counts.loaded, counts.rejected) == (len(BAD) + 2, 2, len(BAD))
    assert message_ids(db) == ["m-1", "m-2"]
    rows = rejected(db)
    assert [(line_, text.encode()) for _, line_, _, text in rows] == [
        (i, bad) for i, bad in enumerate(BAD.values(), start=2)
    ]
