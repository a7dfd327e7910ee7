"""Provider APIs -> ``raw.*``: incremental, exactly-once loading of the Emailit and tracker APIs,
and of files of saved API responses (``mailtrail load emailit|tracker PATH...``).

Same guarantees as the landing path (:mod:`orchestration.ingestion.objects`), with an API response page
in place of a landing object: each page is one :func:`load_documents` transaction, under an object
key naming the request and an etag hashing the events loaded from it, so the manifest, the
rejected-records quarantine and the ``read = loaded + duplicate + rejected`` counts work the same.

Where a run stopped is kept in ``raw.api_cursors``. The cursor only ever moves in the transaction
that loads the last page it covers, so a crash between pages leaves it behind the pages already
committed; the next run reads them again and the ``event_key`` constraint turns them into counted
duplicates. Two runs of the same source never interleave: each holds a session advisory lock on
its source for its whole duration.

Neither API lists its events in the order they become visible (an event or an id can commit after
a newer one), so a cursor is a window, not a point: each run re-reads a lookback before the newest
event loaded and loads what in it was not loaded yet (the ids seen in the window are kept in the
cursor). See :class:`~orchestration.ingestion.clients.emailit.EmailitCursor` and
:class:`~orchestration.ingestion.clients.tracker.TrackerCursor`.

The connection must be in autocommit mode: in psycopg a ``transaction()`` block opened inside an
implicit transaction is only a savepoint, and pages would then not commit one by one.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

import orjson

from orchestration.ingestion.clients.emailit import (
    EVENTS_PATH,
    EmailitClient,
    EmailitCursor,
    listing_order,
)
from orchestration.ingestion.clients.emailit import updated_at as emailit_updated_at
from orchestration.ingestion.clients.tracker import TrackerClient, TrackerCursor, open_event_id
from orchestration.ingestion.landing import LandingObject
from orchestration.ingestion.loader import (
    LoadCounts,
    load_documents,
    require_autocommit,
)
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.parsers.jsonstream import Document, iter_documents, open_maybe_gzip
from orchestration.ingestion.sources import EMAILIT, TRACKER, RecordSource
from orchestration.ingestion.tracker_emails import EmailPolling, emails_to_poll, record_poll

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

# Emailit pages are read until the old cursor or an empty page; this only stops an API that
# ignores ``page`` from looping forever.
MAX_PAGES_PER_RUN = 100_000


def read_cursor(conn: psycopg.Connection, source: str) -> dict[str, Any] | None:
    row = conn.execute("select cursor from raw.api_cursors where source = %s", (source,)).fetchone()
    return row[0] if row else None


def write_cursor(conn: psycopg.Connection, source: str, cursor: dict[str, Any]) -> None:
    from psycopg.types.json import Jsonb

    conn.execute(
        "insert into raw.api_cursors (source, cursor, updated_at) values (%s, %s, now())"
        " on conflict (source) do update set cursor = excluded.cursor, updated_at = now()",
        (source, Jsonb(cursor)),
    )


@contextmanager
def source_lock(conn: psycopg.Connection, source: str) -> Iterator[None]:
    """Serialise runs of one API source (a second run waits, then sees the first one's cursor)."""
    require_autocommit(conn)
    key = f"mailtrail-api:{source}"
    conn.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    try:
        yield
    finally:
        conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


def ingest_emailit(
    conn: psycopg.Connection, client: EmailitClient, log: logging.Logger | None = None
) -> LoadCounts:
    """Load every Emailit event newer than the saved cursor, page by page (see
    :mod:`orchestration.ingestion.clients.emailit` for why this skips and repeats nothing), and
    load again every event listed with a later ``updated_at`` than the one loaded
    (:func:`reload_updated_emailit_events`). Pages are read down to the cursor's window or
    ``client.revisit`` before its newest event, whichever is older."""
    log = log or logger
    cursor_name = "emailit" + (f"?filter[type]={client.event_type}" if client.event_type else "")
    total = LoadCounts()
    with source_lock(conn, cursor_name):
        cursor = EmailitCursor.from_json(read_cursor(conn, cursor_name), client.lookback)
        reached = cursor
        order = None
        for number in range(1, MAX_PAGES_PER_RUN + 1):
            page = client.events_page(number)
            updated = updated_emailit_events(conn, page.events)
            new = [
                (i, e)
                for i, e in enumerate(page.events, 1)
                if cursor.is_new(e) and i not in updated
            ]
            if order is None and (order := listing_order(page.events)) == "oldest_first":
                log.info("emailit lists events oldest first: reading every page")
            # Newest first (the default): a page reaching past the window is the last to read.
            reached_old = order != "oldest_first" and any(
                cursor.is_past(e, client.revisit) for e in page.events
            )
            last = not page.events or reached_old
            reached = reached.advanced(
                [e for _, e in new] + list(updated.values()), client.lookback
            )
            log.info(
                "emailit page %d: %d events, %d not loaded yet, %d updated since loaded%s",
                number,
                len(page.events),
                len(new),
                len(updated),
                " (last page of this run)" if last else "",
            )
            with conn.transaction():  # the last page and the cursor commit together
                if new:
                    total.add(load_events(conn, EMAILIT, client.page_key(number), new))
                if updated:
                    total.add(reload_updated_emailit_events(conn, updated))
                if last and reached != cursor:
                    write_cursor(conn, cursor_name, reached.to_json())
            if last:
                return total
    raise RuntimeError(
        f"Emailit listed more than {MAX_PAGES_PER_RUN} pages without an empty one: "
        "does the API honour the page parameter?"
    )


def updated_emailit_events(
    conn: psycopg.Connection, events: Sequence[Any]
) -> dict[int, dict[str, Any]]:
    """The listed events (by 1-based position) already in ``raw.emailit_events`` with an older
    ``updated_at`` than the listing's: Emailit changed them after they were loaded."""
    listed: dict[str, tuple[int, dict[str, Any], datetime]] = {}
    for ordinal, event in enumerate(events, 1):
        changed_at = emailit_updated_at(event)
        if changed_at is not None and type(event.get("id")) in (str, int):
            listed[str(event["id"])] = (ordinal, event, changed_at)
    if not listed:
        return {}
    rows = conn.execute(
        "select event_id, max(updated_at), bool_or(updated_at is null)"
        " from raw.emailit_events where event_id = any(%s) group by event_id",
        (list(listed),),
    ).fetchall()
    updated = {}
    for event_id, loaded_updated_at, some_without in rows:
        ordinal, event, changed_at = listed[event_id]
        if some_without or loaded_updated_at is None or changed_at > loaded_updated_at:
            updated[ordinal] = event
    return updated


def reload_updated_emailit_events(
    conn: psycopg.Connection, updated: dict[int, dict[str, Any]]
) -> LoadCounts:
    """Replace the raw rows of events Emailit updated with rows of their new version, in one
    transaction: the superseded rows are kept in ``raw.emailit_event_versions``, then deleted,
    and the new version is loaded as one object per event and version
    (``emailit:/v1/events/<id>@<updated_at>``). The new rows carry this transaction's
    ``load_xid``, so the next incremental build re-processes their email logs. A new version
    that does not load (the parser rejects it) leaves the old rows in place and is quarantined
    in ``raw.rejected_records`` with its reason, once (the manifest skips it afterwards)."""
    total = LoadCounts()
    for ordinal, event in sorted(updated.items()):
        event_id = str(event["id"])
        key = f"emailit:{EVENTS_PATH}/{event_id}@{event.get('updated_at')}"
        try:
            with conn.transaction():
                conn.execute(
                    "insert into raw.emailit_event_versions (event_key, event_id, updated_at,"
                    " payload, payload_hash, source_object, source_line, loaded_at)"
                    " select event_key, event_id, updated_at, payload, payload_hash,"
                    " source_object, source_line, loaded_at"
                    " from raw.emailit_events where event_id = %s",
                    (event_id,),
                )
                conn.execute("delete from raw.emailit_events where event_id = %s", (event_id,))
                counts = load_events(conn, EMAILIT, key, [(ordinal, event)])
                if not counts.loaded:
                    raise _VersionNotLoaded
        except _VersionNotLoaded:
            # rejected (or quarantined before): the replacement is rolled back, the old rows
            # stay, and the new version is quarantined with its reason
            counts = load_events(conn, EMAILIT, key, [(ordinal, event)])
        total.add(counts)
    return total


class _VersionNotLoaded(Exception):
    """Rolls back the replacement of an event whose new version did not load."""


def ingest_tracker(
    conn: psycopg.Connection,
    client: TrackerClient,
    *,
    email_ids: Sequence[str] = (),
    batch_size: int = 1000,
    polling: EmailPolling | None = None,
    log: logging.Logger | None = None,
) -> LoadCounts:
    """Load the tracker's open events not loaded yet (:class:`TrackerCursor`: every id above the
    lookback window, and those in it not seen), then every open of the emails named in
    ``email_ids`` and, with ``polling``, of the emails it has opens for that may have new ones
    (:mod:`orchestration.ingestion.tracker_emails`): the only way the API returns duplicate and
    suppressed opens.

    New events are loaded in id order, ``batch_size`` per transaction, each batch moving the
    cursor (its ids added to the window) as it commits.
    """
    log = log or logger
    total = LoadCounts()
    lookback = client.lookback_ids
    with source_lock(conn, "tracker"):
        cursor = TrackerCursor.from_json(read_cursor(conn, "tracker"), lookback)
        events, _ = client.open_events()
        key = client.object_key()
        without_id = [(i, e) for i, e in enumerate(events, 1) if open_event_id(e) is None]
        new = sorted(
            (
                (event_id, i, e)
                for i, e in enumerate(events, 1)
                if (event_id := open_event_id(e)) is not None and cursor.is_new(event_id)
            ),
            key=lambda item: item[0],
        )
        late = sum(1 for event_id, _, _ in new if event_id <= cursor.last_id)
        log.info(
            "tracker: %d open events listed, %d not loaded yet (%d of them at or below id %d, "
            "committed late), %d without an id",
            len(events),
            len(new),
            late,
            cursor.last_id,
            len(without_id),
        )
        if without_id:  # rejected by the parser; the content etag loads them only once
            total.add(load_events(conn, TRACKER, f"{key}#without-id", without_id))
        size = max(1, batch_size)
        for start in range(0, len(new), size):
            batch = new[start : start + size]
            first, last = batch[0][0], batch[-1][0]
            cursor = cursor.advanced((event_id for event_id, _, _ in batch), lookback)
            with conn.transaction():
                total.add(
                    load_events(
                        conn, TRACKER, f"{key}#ids={first}-{last}", [(i, e) for _, i, e in batch]
                    )
                )
                write_cursor(conn, "tracker", cursor.to_json())
        polled = list(dict.fromkeys(email_ids))
        if polling is not None:
            polled += [e for e in emails_to_poll(conn, polling) if e not in set(email_ids)]
            log.info("tracker: %d emails with opens to ask for every open", len(polled))
        for email_id in polled:
            per_email, _ = client.open_events(email_id)
            log.debug("tracker: %d open events for email %s", len(per_email), email_id)
            with conn.transaction():  # the email's opens and its poll record commit together
                if per_email:
                    total.add(
                        load_events(
                            conn,
                            TRACKER,
                            client.object_key(email_id),
                            list(enumerate(per_email, 1)),
                        )
                    )
                record_poll(conn, email_id, len(per_email))
    return total


def load_events(
    conn: psycopg.Connection,
    source: RecordSource,
    object_key: str,
    events: Sequence[tuple[int, Any]],
) -> LoadCounts:
    """Load API event objects (with their 1-based position in the response) as one object.

    The etag hashes exactly what is loaded, so the same events under the same key are skipped by
    the manifest, and anything different is loaded (its known events counted as duplicates).
    """
    documents = [Document(ordinal, orjson.dumps(event), event, None) for ordinal, event in events]
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(doc.text)
        digest.update(b"\n")
    return load_documents(
        conn,
        source,
        object_key=object_key,
        etag=digest.hexdigest()[:32],
        size=sum(len(doc.text) + 1 for doc in documents),
        documents=documents,
    )


# --- files of saved API responses -------------------------------------------------------------


def emailit_page_events(value: Any) -> list[Any] | None:
    """The events of a saved ``/v1/events`` page (``{"data": [...]}``), or of a bare array."""
    if type(value) is dict and type(value.get("data")) is list:
        return value["data"]
    return value if type(value) is list else None


def tracker_response_events(value: Any) -> list[Any] | None:
    """The open events of a saved ``/dashboard/api/open-events`` response (a JSON array)."""
    return emailit_page_events(value)


SAVED_RESPONSE_SHAPES: dict[str, tuple[Callable[[Any], list[Any] | None], str]] = {
    EMAILIT.name: (emailit_page_events, 'an Emailit events page {"data": [...]}'),
    TRACKER.name: (tracker_response_events, "a JSON array of open events"),
}


def saved_response_documents(
    body: bytes, extract: Callable[[Any], list[Any] | None], expected: str
) -> Iterator[Document]:
    """The events of a file of saved responses: one JSON response (pretty-printed or not), or
    several concatenated / one per line. A response of the wrong shape, or bytes that are not
    JSON, become one rejected record each, so nothing read is dropped silently."""
    try:
        responses: Iterable[Document] = [Document(1, body.strip(), orjson.loads(body), None)]
    except orjson.JSONDecodeError:
        responses = iter_documents(io.BytesIO(body))
    ordinal = 0
    for response in responses:
        events = extract(response.value) if response.error is None else None
        if events is None:
            ordinal += 1
            reason = response.error or f"not {expected}"
            yield Document(ordinal, response.text, None, reason)
            continue
        for event in events:
            ordinal += 1
            yield Document(ordinal, orjson.dumps(event), event, None)


def ingest_saved_responses(
    conn: psycopg.Connection,
    source: RecordSource,
    objects: Iterable[LandingObject],
    log: logging.Logger | None = None,
) -> LoadCounts:
    """Load files of saved API responses; each file is one object (manifest, counts) as usual.

    The API cursor is not touched: a file says nothing about what the API has or has not
    delivered since.
    """
    extract, expected = SAVED_RESPONSE_SHAPES[source.name]

    def documents_of(raw: IO[bytes]) -> Iterator[Document]:
        return saved_response_documents(open_maybe_gzip(raw).read(), extract, expected)

    return ingest_objects(conn, source, objects, log, documents_of=documents_of)
