"""Split a Firehose object into JSON records, in constant memory.

Kinesis Data Firehose writes the records it receives back to back: SES event publishing records
usually arrive newline-separated, but Firehose itself adds no separator, so an object can also be
``{...}{...}{...}`` on one line, sometimes several megabytes long, or a mix of both. Records may be
broken (truncated, not JSON at all). Everything read must end up either parsed or quarantined with
its raw bytes and a reason, so this module never drops bytes silently.

Design, in order of cost:

* Lines are split on ``\\n`` and each is handed to ``orjson.loads`` whole: the NDJSON fast path.
* A line that is not one JSON document is cut at ``}{`` candidates (``}`` then optional blanks then
  ``{``), and each piece is parsed with orjson. In valid JSON ``}{`` can only occur between two
  documents or inside a string, and a prefix that ends inside a string never parses, so a piece
  that parses is exactly one record.
* Only when a piece does not parse do we look closer, using orjson's own error position: a false
  boundary inside a string is skipped (the piece is extended to the next boundary), a document
  followed by non-object content (``[1]{...}``) is cut where orjson reports "content after
  document", and a genuinely broken record is quarantined up to the first boundary at or after
  the error. Before that, a ``{`` ahead of the error is tried as the start of a whole record, so
  that a record truncated mid-string (``{"a":"tru{"b":1}``) or garbage (``xyz{"b":1}``) does not
  swallow the good record that follows it. Such a record must end where a record can end - at
  the end of the line or before the next value - never before ``,`` ``:`` ``]`` or ``}``: those
  show an object nested inside the bad record, which is not a record of its own.
* A record whose JSON is well-formed but holds a value orjson refuses (a lone surrogate
  ``"\ud800"``, a number beyond a double such as ``1e400``, nesting deeper than orjson's limit)
  is quarantined whole: its extent is found by matching its brackets outside strings, so one bad
  record is one rejected document, never several pieces.
* The stream is read ``chunk_size`` bytes at a time. A line longer than a chunk is processed in the
  same concatenated mode up to its last complete boundary, so a single huge line streams too.
  Every decision depends only on bytes already read (a record that might go on is left for the
  next read), so the records found never depend on ``chunk_size``.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

import orjson

__all__ = ["Document", "iter_documents", "open_maybe_gzip"]

GZIP_MAGIC = b"\x1f\x8b"

# A record boundary in concatenated mode: the "}" closing one record, blanks, the "{" opening the
# next. Newlines never appear here because lines are split first.
_BOUNDARY = re.compile(rb"\}[ \t\r\f\v]*\{")
_BLANKS = b" \t\r\n\f\v"
_MAX_RECOVERY_TRIES = 32
# What may follow a value nested in an object or array, but never a record of its own.
_INSIDE_A_CONTAINER = b",:]}"
# orjson errors about a value, not the syntax: the record's brackets and strings are intact.
_VALUE_ERRORS = ("surrogate", "number is infinity", "depth limit", "recursion limit")
# A JSON string (escapes included), a quote that opens a string not closed, or a bracket.
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|["{}\[\]]', re.DOTALL)


class Document(NamedTuple):
    """One record of an object: parsed ``value``, or ``error`` with the raw ``text`` to quarantine."""

    ordinal: int  # 1-based position of the record in the object (blank lines not counted)
    text: bytes  # the record's raw bytes (surrounding blanks removed)
    value: Any | None
    error: str | None


_new_document = tuple.__new__  # skips NamedTuple.__new__'s argument handling on the hot path


def iter_documents(
    stream: BinaryIO,
    chunk_size: int = 1 << 20,
    *,
    max_record_bytes: int = 32 << 20,
) -> Iterator[Document]:
    """Yield every record of ``stream`` in order, good or bad, reading ``chunk_size`` at a time.

    Memory is bounded by about two chunks plus the largest single record. A run of bytes longer
    than ``max_record_bytes`` with no record boundary in it is quarantined in pieces of that size
    rather than buffered without limit.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    new = _new_document
    doc_cls = Document
    ordinal = 0
    tail = b""
    progress = [0]
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        data = tail + chunk if tail else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
        else:
            tail = data[cut + 1 :]
            for line in data[:cut].split(b"\n"):
                try:
                    value = loads(line)
                except decode_error:
                    line = line.strip(_BLANKS)
                    if not line:
                        continue
                    for text, value, error in _split_concatenated(line, True, progress):
                        ordinal += 1
                        yield new(doc_cls, (ordinal, text, value, error))
                    continue
                if line[-1:].isspace() or line[:1].isspace():
                    line = line.strip(_BLANKS)
                ordinal += 1
                yield new(doc_cls, (ordinal, line, value, None))
        if len(tail) > chunk_size:
            # A line longer than a chunk: stream it in concatenated mode up to its last boundary.
            for text, value, error in _split_concatenated(tail, False, progress):
                ordinal += 1
                yield new(doc_cls, (ordinal, text, value, error))
            tail = tail[progress[0] :]
            if len(tail) > max_record_bytes:
                ordinal += 1
                reason = f"record larger than {max_record_bytes} bytes without a boundary"
                yield new(doc_cls, (ordinal, tail, None, reason))
                tail = b""
    tail = tail.strip(_BLANKS)
    if tail:
        for text, value, error in _split_concatenated(tail, True, progress):
            ordinal += 1
            yield new(doc_cls, (ordinal, text, value, error))


Piece = tuple[bytes, Any, "str | None"]  # text, value, error


def _split_concatenated(data: bytes, final: bool, progress: list[int]) -> Iterator[Piece]:
    """Cut ``data`` (one line, no ``\\n``) into records, yielding them one at a time.

    With ``final`` False the end of ``data`` is not the end of the line: the record that reaches
    it is left for the caller to retry with more bytes. ``progress[0]`` is set to the number of
    bytes consumed when the generator finishes.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    search = _BOUNDARY.search
    end = len(data)
    pos = _skip_blanks(data, 0, end)
    while pos < end:
        match = search(data, pos)
        if match is None:
            if not final:
                break
            stop = end
            piece = data[pos:end].rstrip(_BLANKS)
        else:
            stop = match.start() + 1
            piece = data[pos:stop]
        try:
            value = loads(piece)
        except decode_error:
            step = _resolve(data, pos, stop, final)
            if step is None:  # the record runs past the bytes we have
                break
            yield from step[0]
            pos = step[1]
        else:
            yield piece, value, None
            pos = match.end() - 1 if match is not None else end
        pos = _skip_blanks(data, pos, end)
    progress[0] = pos


def _resolve(data: bytes, start: int, stop: int, final: bool) -> tuple[list[Piece], int] | None:
    """Slow path for a piece ``data[start:stop]`` that did not parse.

    Returns the records found and where to resume, or None when more bytes are needed.
    """
    end = len(data)
    window = stop
    while True:
        outcome, value, at, reason = _probe(data, start, window, final)
        if outcome is _OK:
            return [(data[start:at].rstrip(_BLANKS), value, None)], at
        if outcome is _MORE:
            # The record goes on past this window (the boundary was inside a string): extend it.
            if window < end:
                window = _next_boundary_end(data, window)
                continue
            if not final:
                return None
            return [(data[start:end].rstrip(_BLANKS), None, reason)], end
        break
    if any(kind in reason for kind in _VALUE_ERRORS):
        # Well-formed JSON with a value orjson refuses: the record ends where its brackets close.
        value_end = _value_end(data, start)
        if value_end is not None:
            return [(data[start:value_end], None, reason)], value_end
        if not final:
            return None
    # A broken record, at byte ``at``: it ends at the first boundary from there on, counting the
    # "}" just before the error (blanks skipped) as a possible boundary start.
    back = at - 1
    while back > start and data[back] in _BLANKS:
        back -= 1
    match = _BOUNDARY.search(data, max(start, back))
    if match is None:
        if not final:
            return None
        bad_end = resume = end
    else:
        bad_end, resume = match.start() + 1, match.end() - 1
    recovered = _recover_tail(data, start, at, bad_end, final)
    if recovered is _NEED_MORE:
        return None
    if recovered is not None:
        split, value, good_end = recovered
        return [
            (data[start:split].rstrip(_BLANKS), None, reason),
            (data[split:good_end].rstrip(_BLANKS), value, None),
        ], good_end
    return [(data[start:bad_end].rstrip(_BLANKS), None, reason)], resume


_NEED_MORE: Any = object()
_OK, _MORE, _BAD = "ok", "more", "bad"


def _recover_tail(
    data: bytes, start: int, error_at: int, bad_end: int, final: bool
) -> tuple[int, Any, int] | None:
    """Find a whole record inside a bad piece, starting at a ``{`` before the error.

    This is the record that followed a record truncated inside a string (``{"a":"tru{"b":1}``)
    or right after a key (``{"a":{"b":1}``, where orjson took the next record for the value).
    When the piece is not JSON from its first byte (``garbage{"b":1}``), any ``{`` may start it.
    Returns (record start, value, record end), None, or ``_NEED_MORE`` when the candidate record
    runs past the bytes we have (its strings may hold ``}{``, so it can end past ``bad_end``).
    """
    limit = bad_end if error_at == start else min(error_at + 1, bad_end)
    end = len(data)
    pos = start
    for _ in range(_MAX_RECOVERY_TRIES):
        pos = data.find(b"{", pos + 1, limit)
        if pos < 0:
            return None
        window = bad_end
        while True:
            outcome, value, stop, _ = _probe(data, pos, window, final)
            if outcome is _OK:
                follower = _skip_blanks(data, stop, end)
                if follower == end and not final:
                    return _NEED_MORE  # what follows decides whether it is a record
                if follower < end and data[follower] in _INSIDE_A_CONTAINER:
                    break  # an object nested in the bad record, not a record of its own
                return pos, value, stop
            if outcome is _BAD:
                break
            if window < end:
                window = _next_boundary_end(data, window)
            elif not final:
                return _NEED_MORE
            else:
                break
    return None


def _probe(data: bytes, start: int, window: int, final: bool) -> tuple[str, Any, int, str]:
    """Parse the record starting at ``start`` within ``data[start:window]``.

    Returns (outcome, value, position, reason): ``_OK`` with the value and the record's end
    (content may follow it), ``_MORE`` if the record may go on past ``window``, or ``_BAD`` with
    the byte position of the error. The same bytes give the same answer whatever lies after
    ``window``, which keeps the split independent of the chunk size.
    """
    more_may_come = not final and window == len(data)
    try:
        value = orjson.loads(data[start:window])
    except orjson.JSONDecodeError as exc:
        msg, char_pos = exc.msg, exc.pos
    else:
        if more_may_come and data[window - 1 : window] not in (b"}", b"]", b'"'):
            return _MORE, None, window, "incomplete"  # 42 may yet become 421
        return _OK, value, window, ""
    if msg.startswith("str is not valid UTF-8"):
        # orjson validates the whole input first and gives no position: find the bad byte.
        try:
            data[start:window].decode("utf-8")
        except UnicodeDecodeError as exc:
            at, reason = start + exc.start, f"invalid UTF-8 at byte {exc.start}"
            if exc.reason == "unexpected end of data" and more_may_come:
                return _MORE, None, at, reason  # a character split across reads
        else:
            return _BAD, None, start, "invalid UTF-8 in record"
        if at > start:  # does a whole record end before the bad byte?
            outcome, value, stop, earlier = _probe(data, start, at, True)
            if outcome is _OK:
                return _OK, value, stop, ""
            if outcome is _BAD:
                return _BAD, None, stop, earlier
        return _BAD, None, at, reason
    at = start + _byte_offset(data, start, window, char_pos)
    reason = f"invalid JSON: {msg} at char {char_pos}"
    if msg.startswith("unexpected content after document"):
        # A complete document followed by something else: typically a non-object record.
        try:
            return _OK, orjson.loads(data[start:at]), at, ""
        except orjson.JSONDecodeError:  # defensive; cannot happen with a correct position
            return _BAD, None, at, reason
    if msg.startswith("unexpected end of data") or at >= window:
        return _MORE, None, at, reason
    return _BAD, None, at, reason


def _value_end(data: bytes, start: int) -> int | None:
    """The end of the object or array starting at ``start``, by its brackets outside strings;
    None when it does not close within ``data`` (or ``data[start]`` opens neither)."""
    if data[start : start + 1] not in (b"{", b"["):
        return None
    depth = 0
    for match in _STRUCTURE.finditer(data, start):
        first = data[match.start()]
        if first == 0x22:  # a string: skipped whole, unless it is not closed in data
            if match.end() - match.start() == 1:
                return None
        elif first == 0x7B or first == 0x5B:  # { [
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return match.end()
    return None


def _next_boundary_end(data: bytes, pos: int) -> int:
    """The end of the piece that closes at the next boundary after ``pos`` (or of ``data``)."""
    match = _BOUNDARY.search(data, pos)
    return match.start() + 1 if match is not None else len(data)


def _byte_offset(data: bytes, start: int, stop: int, char_pos: int) -> int:
    """orjson reports error positions in characters; convert to a byte offset from ``start``."""
    raw = data[start : min(stop, start + char_pos * 4)]  # a character is at most 4 bytes
    if raw.isascii():
        return min(char_pos, len(raw))
    text = raw.decode("utf-8", "surrogateescape")
    return len(text[:char_pos].encode("utf-8", "surrogateescape"))


def _skip_blanks(data: bytes, pos: int, end: int) -> int:
    while pos < end and data[pos] in _BLANKS:
        pos += 1
    return pos


def open_maybe_gzip(raw: BinaryIO) -> BinaryIO:
    """Return a stream of the object's bytes, decompressing it if it starts with the gzip magic.

    Firehose adds no ``.gz`` suffix unless configured to, so the name cannot be trusted: sniff the
    first two bytes without consuming them.
    """
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(_RawAdapter(raw))
    head = buffered.peek(2)[:2]
    if len(head) == 1:  # a short peek: read the second byte and put both back in front
        first = buffered.read(1)
        second = buffered.read(1)
        head = first + second
        buffered = io.BufferedReader(_RawAdapter(buffered, prefix=head))
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    return buffered


class _RawAdapter(io.RawIOBase):
    """Expose any object with ``read(n)`` (e.g. a botocore StreamingBody) as a raw stream."""

    def __init__(self, source: Any, prefix: bytes = b"") -> None:
        self._source = source
        self._prefix = prefix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data = self._source.read(size)
        n = len(data)
        buffer[:n] = data
        return n
