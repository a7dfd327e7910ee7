"""The Firehose record splitter: every layout, every chunk boundary, bad records, bounded memory."""

from __future__ import annotations

import gzip
import io
import random
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestration.ingestion.parsers.jsonstream import Document, iter_documents, open_maybe_gzip

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ses"
CHUNK_SIZES = (1, 2, 7, 64, 1 << 20)


def docs(data: bytes, chunk_size: int = 1 << 20) -> list[Document]:
    return list(iter_documents(io.BytesIO(data), chunk_size=chunk_size))


def summary(documents: list[Document]) -> list[tuple[int, bytes, Any, bool]]:
    return [(d.ordinal, d.text, d.value, d.error is not None) for d in documents]


def same_at_every_chunk_size(data: bytes) -> list[Document]:
    """Split ``data`` at several chunk sizes; the result must never depend on the chunking."""
    reference = docs(data)
    for size in CHUNK_SIZES:
        assert docs(data, size) == reference, f"chunk_size={size}"
    return reference


def test_ndjson_records_in_order_with_1_based_ordinals() -> None:
    result = same_at_every_chunk_size(b'{"a":1}\n{"b":2}\n{"c":3}\n')
    assert summary(result) == [
        (1, b'{"a":1}', {"a": 1}, False),
        (2, b'{"b":2}', {"b": 2}, False),
        (3, b'{"c":3}', {"c": 3}, False),
    ]


def test_crlf_blank_lines_and_missing_final_newline() -> None:
    data = b'\r\n{"a":1}\r\n\r\n   \n{"b":2}\r\n\n{"c":3}'
    result = same_at_every_chunk_size(data)
    # blank lines are neither records nor counted; text has no CR or surrounding blanks
    assert summary(result) == [
        (1, b'{"a":1}', {"a": 1}, False),
        (2, b'{"b":2}', {"b": 2}, False),
        (3, b'{"c":3}', {"c": 3}, False),
    ]


def test_concatenated_without_separator() -> None:
    result = same_at_every_chunk_size(b'{"a":1}{"b":{"c":[1,{"d":2}]}}{"e":"x"}')
    assert [d.value for d in result] == [{"a": 1}, {"b": {"c": [1, {"d": 2}]}}, {"e": "x"}]
    assert [d.text for d in result] == [b'{"a":1}', b'{"b":{"c":[1,{"d":2}]}}', b'{"e":"x"}']
    assert all(d.error is None for d in result)


def test_mixed_layouts_and_blanks_between_concatenated_records() -> None:
    data = b'{"a":1}{"b":2}\n{"c":3}\n{"d":4} {"e":5}\t{"f":6}\r\n{"g":7}'
    result = same_at_every_chunk_size(data)
    assert [d.value for d in result] == [{k: v} for v, k in enumerate("abcdefg", start=1)]
    assert [d.ordinal for d in result] == list(range(1, 8))


def test_braces_inside_strings_are_not_boundaries() -> None:
    records = [{"subject": "}{"}, {"t": "{{name}}{{x}}"}, {"s": '}\\"{'}, {"u": "é}{ü"}]
    data = b"".join(orjson.dumps(r) for r in records)
    result = same_at_every_chunk_size(data)
    assert [d.value for d in result] == records
    line_result = same_at_every_chunk_size(b"\n".join(orjson.dumps(r) for r in records))
    assert [d.value for d in line_result] == records


def test_malformed_line_between_good_ones() -> None:
    data = b'{"a":1}\n{"b":\n{"c":3}\n[1,2\n{"d":4}\n'
    result = same_at_every_chunk_size(data)
    assert summary(result) == [
        (1, b'{"a":1}', {"a": 1}, False),
        (2, b'{"b":', None, True),
        (3, b'{"c":3}', {"c": 3}, False),
        (4, b"[1,2", None, True),
        (5, b'{"d":4}', {"d": 4}, False),
    ]
    assert result[1].error == "invalid JSON: unexpected end of data at char 5"


def test_malformed_record_inside_a_concatenated_run_does_not_swallow_the_next() -> None:
    data = b'{"a":1}{"b":1,,"x":2}{"c":3}{"d":4}'
    result = same_at_every_chunk_size(data)
    assert summary(result) == [
        (1, b'{"a":1}', {"a": 1}, False),
        (2, b'{"b":1,,"x":2}', None, True),
        (3, b'{"c":3}', {"c": 3}, False),
        (4, b'{"d":4}', {"d": 4}, False),
    ]
    assert result[1].error is not None and result[1].error.startswith("invalid JSON: ")
    assert result[1].error.endswith("at char 7")


def test_record_truncated_inside_a_string_then_a_good_record() -> None:
    # without recovery, the string "tru{" would make the next record part of the bad one
    data = b'{"a":"tru{"b":"x"}{"c":1}'
    result = same_at_every_chunk_size(data)
    assert summary(result) == [
        (1, b'{"a":"tru', None, True),
        (2, b'{"b":"x"}', {"b": "x"}, False),
        (3, b'{"c":1}', {"c": 1}, False),
    ]


def test_non_object_values_and_garbage_are_their_own_records() -> None:
    data = b'[1,2]{"a":1}42{"b":"x"}"s"{"c":1}null\ngarbage{"d":1}'
    result = same_at_every_chunk_size(data)
    assert summary(result) == [
        (1, b"[1,2]", [1, 2], False),
        (2, b'{"a":1}', {"a": 1}, False),
        (3, b"42", 42, False),
        (4, b'{"b":"x"}', {"b": "x"}, False),
        (5, b'"s"', "s", False),
        (6, b'{"c":1}', {"c": 1}, False),
        (7, b"null", None, False),
        (8, b"garbage", None, True),
        (9, b'{"d":1}', {"d": 1}, False),
    ]


def test_invalid_utf8_rejects_only_that_record() -> None:
    result = same_at_every_chunk_size(b'{"a":"\xff"}{"b":2}\n{"c":"\xc3"}\n{"d":4}')
    assert summary(result) == [
        (1, b'{"a":"\xff"}', None, True),
        (2, b'{"b":2}', {"b": 2}, False),
        (3, b'{"c":"\xc3"}', None, True),
        (4, b'{"d":4}', {"d": 4}, False),
    ]
    assert result[0].error == "invalid UTF-8 at byte 6"


def test_error_position_counts_characters_of_the_bad_record() -> None:
    (bad,) = docs('{"é":"ü",,}'.encode())
    assert bad.error == "invalid JSON: unexpected character, expected a string key at char 9"


def test_empty_and_blank_objects_have_no_records() -> None:
    assert docs(b"") == []
    assert docs(b"\n\r\n  \n") == []


def test_firehose_fixture_splits_into_the_individual_records() -> None:
    names = ("send", "delivery", "open", "click", "bounce")
    expected = [orjson.loads((FIXTURES / f"event_{n}.json").read_bytes()) for n in names]
    result = same_at_every_chunk_size((FIXTURES / "firehose_concatenated.json").read_bytes())
    assert [d.value for d in result] == expected
    assert [orjson.loads(d.text) for d in result] == expected


def test_a_record_longer_than_a_chunk() -> None:
    big = {"eventType": "Send", "blob": "x" * 300_000, "nested": [{"k": i} for i in range(2000)]}
    data = orjson.dumps({"a": 1}) + orjson.dumps(big) + b"\n" + orjson.dumps(big) + b'{"z":0}'
    result = docs(data, chunk_size=4096)
    assert [d.value for d in result] == [{"a": 1}, big, big, {"z": 0}]


def test_a_run_without_any_boundary_is_quarantined_in_bounded_pieces() -> None:
    garbage = b"x" * 1000
    result = list(iter_documents(io.BytesIO(garbage), chunk_size=16, max_record_bytes=100))
    assert all(d.error is not None for d in result)
    assert b"".join(d.text for d in result) == garbage  # nothing lost
    assert max(len(d.text) for d in result) <= 100 + 2 * 16


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        list(iter_documents(io.BytesIO(b"{}"), chunk_size=0))


@pytest.mark.parametrize("seed", range(12))
def test_random_mixtures_lose_nothing_and_find_every_good_record(seed: int) -> None:
    """Good and bad records, random separators, random chunk sizes: the records come back in
    order, good ones parsed, bad ones with their exact bytes; joined texts equal the input."""
    rng = random.Random(seed)
    bad_kinds = (b'{"bad":1,,"x":2}', b'{"cut":"tru', b"[1,2", b'{"k":nul}')
    expected: list[tuple[bytes, Any]] = []
    parts: list[bytes] = []
    for index in range(rng.randint(20, 60)):
        if (expected and expected[-1][1] is _BAD) or rng.random() > 0.2:
            value = {"i": index, "s": rng.choice(["plain", "}{", "{{x}}", "é", 'q"uote']), "n": [1]}
            text = orjson.dumps(value)
        else:
            value, text = _BAD, rng.choice(bad_kinds)
        expected.append((text, value))
        parts.append(text)
        parts.append(rng.choice([b"", b"", b"\n", b"\r\n", b" ", b"\n\n"]))
    data = b"".join(parts)
    for size in (rng.randint(1, 40), rng.randint(41, 3000), 1 << 20):
        result = docs(data, size)
        assert b"".join(d.text for d in result) == b"".join(text for text, _ in expected)
        assert [(d.text, _BAD if d.error else d.value) for d in result] == expected
        assert [d.ordinal for d in result] == list(range(1, len(expected) + 1))


_BAD = object()


def test_gzip_detected_by_magic_and_plain_passed_through() -> None:
    data = b'{"a":1}\n{"b":2}{"c":3}'
    for raw in (io.BytesIO(gzip.compress(data)), io.BytesIO(data)):
        assert [d.value for d in iter_documents(open_maybe_gzip(raw), 3)] == [
            {"a": 1},
            {"b": 2},
            {"c": 3},
        ]


def test_open_maybe_gzip_does_not_consume_and_accepts_read_only_objects(tmp_path: Path) -> None:
    class ReadOnly:  # like botocore's StreamingBody: read() only, and short reads
        def __init__(self, data: bytes) -> None:
            self._data = data

        def read(self, size: int = -1) -> bytes:
            size = 1 if size is None or size < 0 else min(size, 1)
            out, self._data = self._data[:size], self._data[size:]
            return out

    data = b'{"a":1}\n'
    assert open_maybe_gzip(ReadOnly(gzip.compress(data))).read() == data  # type: ignore[arg-type]
    assert open_maybe_gzip(ReadOnly(data)).read() == data  # type: ignore[arg-type]
    assert open_maybe_gzip(ReadOnly(b"")).read() == b""  # type: ignore[arg-type]
    path = tmp_path / "object"
    path.write_bytes(gzip.compress(data))
    with path.open("rb") as handle:
        assert open_maybe_gzip(handle).read() == data


def test_a_20_mb_single_line_object_streams_in_bounded_memory(tmp_path: Path) -> None:
    template = (FIXTURES / "firehose_concatenated.json").read_bytes()
    path = tmp_path / "mailtrail-ses-1-2026-11-20-10-15-00-big"
    copies = 20_000_000 // len(template) + 1
    with path.open("wb") as out:  # one line, no separator anywhere
        for _ in range(copies):
            out.write(template)
    size = path.stat().st_size
    assert size >= 20_000_000

    chunk_size = 256 * 1024
    count = errors = 0
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            for document in iter_documents(handle, chunk_size=chunk_size):
                count += 1
                errors += document.error is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, errors) == (copies * 5, 0)
    # a few chunks of buffer plus one record at a time: far below the object's size
    assert peak < 8 * chunk_size, peak
    assert peak < size / 10


_FRAGMENTS = (
    b'{"a":1}', b'{"s":"}{"}', b'{"x":[1,{"y":2}]}', b"[1,2]", b"42", b'"str"', b"null",
    b'{"a":"tru', b'{"k":', b"}", b"{", b'{"e":"\xc3\xa9"}', b"\xc3", b"\xff", b"garbage",
    b'{"q":"a\\"}{b"}', b'{"n":nul}', b"  ", b"\n", b"\r\n", b"{}", b"[]", b'{"d":{"e":{}}}',
)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_any_bytes_split_the_same_at_every_chunk_size_and_lose_nothing(seed: int) -> None:
    """Arbitrary mixtures of good, broken and binary pieces: no exception, the same documents
    whatever the chunk size, and every non-blank byte in exactly one document's text."""
    rng = random.Random(seed)
    blanks = bytes.maketrans(b"", b"")
    for _ in range(150):
        parts = [rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 25))]
        if rng.random() < 0.3:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 30))))
        data = b"".join(parts)
        reference = same_at_every_chunk_size(data)
        joined = b"".join(d.text for d in reference)
        assert joined.translate(blanks, b" \t\r\n\f\v") == data.translate(blanks, b" \t\r\n\f\v")
        for document in reference:
            assert document.text and document.text == document.text.strip(b" \t\r\n\f\v")
            if document.error is None:
                assert orjson.loads(document.text) == document.value
