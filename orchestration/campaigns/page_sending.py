"""Sending a shoot's audience page by page, with a handful of SQL statements per page.

A page of recipients goes through four steps, each one statement (or one short transaction) for
the whole page or chunk instead of one per recipient:

1. **Sort.** Recipients the shoot's ledger has already are counted and left alone; suppressed
   and invalid addresses are ``dropped``, recipients whose data breaks the template ``failed``,
   those campaign code skipped (``SkippingEmailSendingException``) ``skipped``: those rows are
   inserted together, in one statement.
2. **Claim a chunk.** ``queued`` ledger rows for a chunk of the rest are inserted with
   ``on conflict (shoot_id, recipient) do nothing`` and the frequency-limit counters reserved
   for the rows actually inserted, in one transaction committed *before* the provider sees any
   of them. A row another dispatcher (another batch, an earlier run) inserted first is not
   returned, so that recipient is not sent by this one: the unique key is the only door to the
   provider.
3. **Send the chunk** through ``concurrency`` worker threads, which take its recipients from one
   deque (a thread even at concurrency 1: the dispatcher records answers while it sends).
4. **Record the answers** of the chunk in one ``update ... from unnest(...)``, the refused
   messages' counters released and the shoot's counters incremented, in one transaction.

Step 1 of the next page (``page_sorting``) runs, on a connection of its own, while this page
goes through steps 2 to 4: rendering is the dispatcher's own CPU, claims and answers mostly its
server's, and one after the other they kept only one core busy at a time.

Chunks start at ``concurrency`` recipients on every page and grow ``GROWTH_FACTOR`` times while a
chunk takes less than ``GROWTH_WINDOW`` seconds to send, up to the rest of the page. They bound what a crash
costs: a process killed (``kill -9``) while a chunk is with the provider leaves that chunk's
rows ``queued``, and the next dispatch turns them into ``unknown`` (never sent again). So at
most one chunk - about ``GROWTH_WINDOW`` seconds of sending, or ``concurrency`` recipients when
the provider is slow - is counted unknown rather than sent; nobody is ever sent twice. A
dispatch stopped in-process (an exception, ``KeyboardInterrupt``) deletes the rows of its chunk
it had not handed to the provider yet, so a resume sends them.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING
from uuid import UUID

from orchestration.campaigns import frequency
from orchestration.campaigns.claiming import add_to_shoot_counters
from orchestration.campaigns.context import MessageSpec, SendContext
from orchestration.campaigns.entities import EmailRecipient, SendStatus
from orchestration.campaigns.ledger import (
    NewRow,
    Outcome,
    insert_rows,
    mark_skipped,
    record_outcomes,
    unclaim,
)
from orchestration.campaigns.page_sorting import Ready, SortedPage, sort_page
from orchestration.campaigns.pool import connect_dispatcher
from orchestration.campaigns.ratelimit import RateLimiter, send_with_backoff
from orchestration.campaigns.sending import RecipientCounts
from orchestration.progress import PROGRESS_SECONDS, Progress
from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    SendOutcomeUnknownError,
)

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

GROWTH_WINDOW = 0.2  # seconds: a chunk sent faster than this makes the next one larger
GROWTH_FACTOR = 4
SLOW_SEND = 0.001  # seconds: a send this slow waits for its answer to be written (see _send_chunk)
ABORT_POLL = 0.05  # seconds: how often a worker waiting for its answer's write checks for a stop


class _Abandoned(Exception):
    """Marks a recipient not handed to the provider because the dispatch was stopping."""


# A worker's answer: the recipient, its outcome (or ``_Abandoned``, or what its send raised),
# and, after a slow send, the event the worker waits on until the answer is written.
_Answer = tuple[Ready, object, "threading.Event | None"]


class PageSender:
    """Sends the pages of one claimed shoot on ``conn`` (the dispatcher's own connection)."""

    def __init__(
        self,
        ctx: SendContext,
        conn: psycopg.Connection,
        spec: MessageSpec,
        executor: ThreadPoolExecutor,
    ) -> None:
        assert spec.shoot_id is not None and spec.persist and not spec.dry_run
        self.ctx, self.conn, self.spec, self.executor = ctx, conn, spec, executor
        self.shoot_id: UUID = spec.shoot_id
        self.sender = (ctx.drafts if spec.enqueue_as_draft else None) or ctx.sender
        self.provider = "draft" if spec.enqueue_as_draft else None
        self.limiter = RateLimiter(ctx.settings.max_send_rate)
        self.counts = RecipientCounts()
        self.abort = threading.Event()
        self.recorder_failed = False

    # -- one page ------------------------------------------------------------------------------

    def send_sorted(self, page: SortedPage, previous: frozenset[str]) -> bool:
        """Steps 2-4 for a sorted page; False once the shoot is no longer sending (cancelled),
        which stops the dispatch between two chunks.

        ``previous`` holds the addresses of the page sent before this one, which was still being
        sent while this one was sorted: an address of both (two users of one address) has its row
        from that page now, and is counted as in the ledger already, as it would have been had
        the pages been sorted one after the other."""
        ready = [r for r in page.ready if r.recipient.normalized_address not in previous]
        settled = [r for r in page.settled if r.recipient.normalized_address not in previous]
        late = len(page.ready) - len(ready) + len(page.settled) - len(settled)
        for _ in range(page.already_recorded + late):
            self.counts.bump("already_recorded")
        return self._send_in_chunks(ready, settled)

    # -- chunks --------------------------------------------------------------------------------

    def _send_in_chunks(self, ready: list[Ready], settled: list[NewRow]) -> bool:
        """The page's chunks; the first one's claim also writes the page's ``settled`` rows."""
        pending = deque(ready)
        size = self.ctx.settings.concurrency
        while True:
            chunk = _take_chunk(pending, size)
            started = time.monotonic()
            if not self._send_chunk(chunk, settled):
                return False
            settled = []
            if not pending:
                return True
            if time.monotonic() - started < GROWTH_WINDOW:
                size *= GROWTH_FACTOR

    def _claim(self, chunk: list[Ready], settled: list[NewRow]) -> tuple[list[Ready], str]:
        """Commit the chunk's ``queued`` rows and frequency reservations, with the rows that
        never go to the provider (``settled``: dropped, failed to render, skipped by campaign
        code); who may be sent and the shoot's state."""
        conn = self.conn
        rows = settled + [
            NewRow(
                r.email_log_id,
                r.recipient,
                SendStatus.queued,
                subject=r.content.subject,
                attachment_filenames=tuple(r.content.attachment_filenames),
            )
            for r in chunk
        ]
        if not rows:
            return [], "sending"
        with conn.transaction():
            inserted = insert_rows(conn, self.spec, rows, now=self.ctx.clock())
            claimed = [r for r in chunk if r.email_log_id in inserted]
            refused = frequency.reserve_many(
                conn, [r.recipient.user_key for r in claimed], self.spec.message_frequency
            )
            skipped = {
                r.email_log_id: refused[r.recipient.user_key]
                for r in claimed
                if r.recipient.user_key in refused
            }
            mark_skipped(conn, skipped)
            deltas = {"recipients": len(inserted), "skipped": len(skipped), "dropped": 0}
            deltas["failed"] = 0
            for row in settled:
                if row.email_log_id in inserted:
                    deltas[str(row.status)] += 1
            state = add_to_shoot_counters(conn, self.shoot_id, deltas)
        for row in settled:
            self.counts.bump(str(row.status) if row.email_log_id in inserted else "duplicate")
        for _ in range(len(chunk) - len(claimed)):
            self.counts.bump("duplicate")  # another dispatcher claimed them first
        for _ in skipped:
            self.counts.bump("skipped")
        return [r for r in claimed if r.email_log_id not in skipped], state

    def _send_chunk(self, chunk: list[Ready], settled: list[NewRow]) -> bool:
        """Claim, send and record one chunk; False once the shoot is no longer sending.

        ``concurrency`` workers take the chunk's recipients from one deque and hand their
        answers over through a queue; this thread writes whatever has arrived in one statement
        each time (group commit). A worker whose send took at least ``SLOW_SEND`` (a provider
        over the network) waits for its answer to be written before it sends again, as each
        send used to: then what a lost database leaves ``unknown`` is at most the
        ``concurrency`` sends of that moment. Sends faster than that (no network) do not wait -
        a write would cost more than hundreds of them."""
        to_send, state = self._claim(chunk, settled)
        # Committed: from here on none of these recipients can be sent again by this shoot.
        by_id = {r.email_log_id: r for r in to_send}
        answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        work = deque(to_send)
        # One task per worker and chunk, not one per recipient: a future, its queue entry and
        # a wake-up per recipient were a fifth of the dispatcher thread's time (decision 66).
        for _ in range(min(self.ctx.settings.concurrency, len(to_send))):
            self.executor.submit(self._work_through, work, answers)
        try:
            state, abandoned, failure = self._collect(answers, len(to_send), by_id, state)
        except BaseException:
            # An interrupt of this thread (Ctrl-C lands here): no worker may send or wait any
            # more, and the recipients no worker has taken were never handed over, so their rows
            # go and the resume sends them. Only the sends in flight stay queued (unknown).
            self.abort.set()
            never_sent = _take_all(work)
            if never_sent:
                self._unclaim(never_sent)
            raise
        if abandoned:
            self._unclaim(abandoned)
        if failure is not None:
            raise failure
        return state == "sending"

    def _collect(
        self,
        answers: queue.SimpleQueue[_Answer],
        expected: int,
        by_id: dict[UUID, Ready],
        state: str,
    ) -> tuple[str, list[Ready], BaseException | None]:
        """Write the answers as they arrive; the shoot's state, the items never attempted and
        the first failure that is no provider answer."""
        abandoned: list[Ready] = []
        failure: BaseException | None = None
        received = 0
        while received < expected:
            batch = [answers.get()]
            with suppress(queue.Empty):
                while True:
                    batch.append(answers.get_nowait())
            received += len(batch)
            answered: list[Outcome] = []
            for item, result, _ in batch:
                if isinstance(result, Outcome):
                    answered.append(result)
                elif isinstance(result, _Abandoned):
                    abandoned.append(item)
                elif failure is None and isinstance(result, BaseException):
                    failure = result  # its row stays queued: the outcome is unknown
            if answered and not self.recorder_failed:
                try:
                    state = self._record(answered, by_id)
                except BaseException as exc:
                    # These answers (and those of the sends in flight) cannot be written: their
                    # rows stay queued, unknown to the next dispatch. Stop sending.
                    self.abort.set()
                    self.recorder_failed = True
                    failure = failure or exc
            for _, _, written in batch:
                if written is not None:
                    written.set()
        return state, abandoned, failure

    def _work_through(self, work: deque[Ready], answers: queue.SimpleQueue[_Answer]) -> None:
        """A worker's share of a chunk: recipients taken from ``work`` until it is empty
        (``deque.popleft`` is atomic, so no two workers take the same one)."""
        while True:
            try:
                item = work.popleft()
            except IndexError:
                return
            self._deliver_guarded(item, answers)

    def _deliver_guarded(self, item: Ready, answers: queue.SimpleQueue[_Answer]) -> None:
        """Send one item and hand over its outcome: an ``Outcome``, ``_Abandoned`` if it was
        not attempted (the dispatch is stopping), or what its send raised that is no provider
        answer (an interrupt). Then, after a slow send, wait until the answer is written."""
        if self.abort.is_set():
            answers.put((item, _Abandoned(), None))
            return
        started = time.monotonic()
        try:
            result: object = self._deliver(item)
        except BaseException as exc:  # a worker's interrupt stops the dispatch, as a crash would
            self.abort.set()
            result = exc
        if time.monotonic() - started < SLOW_SEND:
            answers.put((item, result, None))
            return
        written = threading.Event()
        answers.put((item, result, written))
        # A dispatcher interrupted while it held this answer never sets the event: ``abort`` is
        # what tells the worker to stop waiting then.
        while not written.wait(ABORT_POLL):
            if self.abort.is_set():
                return

    def _deliver(self, item: Ready) -> Outcome:
        """Hand the message to the provider and classify the answer (as ``sending._deliver``)."""
        sender = self.sender
        try:
            sent = send_with_backoff(self.ctx.settings, sender, self._outgoing(item), self.limiter)
        except (PermanentSendError, RetryableSendError) as exc:
            logger.warning("send to %s failed: %s", item.recipient.normalized_address, exc)
            return Outcome(
                item.email_log_id, SendStatus.failed, "provider_error", sender.name,
                error_type=exc.error_type, error_message=str(exc)[:2000],
            )  # fmt: skip
        except Exception as exc:
            message = (
                str(exc)
                if isinstance(exc, SendOutcomeUnknownError)
                else f"{type(exc).__name__}: {exc}"
            )
            logger.warning(
                "send to %s: outcome unknown, not re-sent: %s",
                item.recipient.normalized_address, message,
            )  # fmt: skip
            return Outcome(
                item.email_log_id, SendStatus.unknown, "provider outcome unknown", sender.name,
                error_type=SendOutcomeUnknownError.error_type, error_message=message[:2000],
            )  # fmt: skip
        return Outcome(
            item.email_log_id, SendStatus.sent, provider=self.provider or sent.provider,
            message_id=sent.message_id, sent_at=self.ctx.clock(),
        )  # fmt: skip

    def _outgoing(self, item: Ready) -> OutgoingEmail:
        spec, content = self.spec, item.content
        return OutgoingEmail(
            email_log_id=str(item.email_log_id),
            from_address=spec.from_address or self.ctx.default_from,
            to_address=item.recipient.email_address.strip(),
            subject=content.subject,
            html=content.html,
            text=content.text,
            pre_header=content.pre_header,
            campaign_name=spec.campaign_name,
            app_name=spec.app_name,
            shoot_id=str(spec.shoot_id),
            template_name=spec.template_name,
            transactional_message_id=spec.transactional_message_id,
            requested_at=self.ctx.clock(),
            tracked=spec.options.tracked,
            message_id=spec.options.message_id_for(str(item.email_log_id)),
            attachments=content.attachments,
            raw=content.raw,
        )

    def _record(self, outcomes: list[Outcome], claimed: dict[UUID, Ready]) -> str:
        """One transaction for the answers received so far: the rows, the refused messages'
        counters released, the shoot's counters. Returns the shoot's state.

        Called whenever answers have arrived, with all of them: with a slow provider that is
        one answer at a time (what a crash leaves unknown is what was in flight), with a fast
        one hundreds per statement (group commit)."""
        failed = [o for o in outcomes if o.status == SendStatus.failed]
        deltas = {"sent": 0, "failed": 0, "unknown": 0}
        for outcome in outcomes:
            deltas[str(outcome.status)] += 1
        with self.conn.transaction():
            record_outcomes(self.conn, outcomes)
            frequency.release_many(
                self.conn,
                [claimed[o.email_log_id].recipient.user_key for o in failed],
                self.spec.message_frequency,
            )
            state = add_to_shoot_counters(self.conn, self.shoot_id, deltas)
        for outcome in outcomes:
            self.counts.bump(str(outcome.status))
        return state

    def _unclaim(self, abandoned: list[Ready]) -> None:
        """Delete the claimed rows never handed to the provider, with their frequency
        reservations: a resumed dispatch sends them. On a fresh connection if the dispatcher's
        own is gone (a database restart): the rows are ours and were never sent, so deleting
        them without the shoot's lock is safe (a dispatcher that took over turned them
        ``unknown`` first, and ``unclaim`` deletes ``queued`` rows only)."""
        import psycopg

        ids = [r.email_log_id for r in abandoned]
        users = [r.recipient.user_key for r in abandoned]

        def delete(conn: psycopg.Connection) -> None:
            with conn.transaction():
                removed = unclaim(conn, ids)
                frequency.release_many(conn, users, self.spec.message_frequency)
                add_to_shoot_counters(conn, self.shoot_id, {"recipients": -removed})

        try:
            delete(self.conn)
        except psycopg.OperationalError:
            try:
                with psycopg.connect(self.ctx.database_url, autocommit=True) as fresh:
                    delete(fresh)
            except psycopg.Error as exc:
                logger.warning(
                    "shoot %s: %d claimed rows never sent stay queued (unknown to the next"
                    " dispatch): %s", self.shoot_id, len(ids), exc,
                )  # fmt: skip


def _take_all(work: deque[Ready]) -> list[Ready]:
    """Empty ``work`` as the workers do (``popleft``), so that none of them takes these after."""
    taken: list[Ready] = []
    with suppress(IndexError):
        while True:
            taken.append(work.popleft())
    return taken


def _take_chunk(pending: deque[Ready], size: int) -> list[Ready]:
    """Up to ``size`` recipients with distinct users (one counter update per user and
    statement); a second address of a user waits for the next chunk."""
    chunk: list[Ready] = []
    users: set[str] = set()
    deferred: list[Ready] = []
    while pending and len(chunk) < size:
        item = pending.popleft()
        if item.recipient.user_key in users:
            deferred.append(item)
            continue
        users.add(item.recipient.user_key)
        chunk.append(item)
    pending.extendleft(reversed(deferred))
    return chunk


def send_pages(
    ctx: SendContext,
    conn: psycopg.Connection,
    spec: MessageSpec,
    pages: Iterable[list[EmailRecipient]],
) -> RecipientCounts:
    """Send every page of a claimed shoot (see the module docstring); stops when it is
    cancelled. Exceptions propagate after the chunk in flight is recorded."""
    concurrency = ctx.settings.concurrency
    # A worker thread even at concurrency 1: the dispatcher records answers while it sends.
    executor = ThreadPoolExecutor(concurrency, thread_name_prefix="mailtrail-send")
    # The next page is sorted and rendered (Python's work) on a connection of its own while this
    # one is claimed, sent and recorded (mostly PostgreSQL's): one after the other, a dispatch
    # kept one core busy at a time, its own or its server's (decision 64).
    sorter = ThreadPoolExecutor(1, thread_name_prefix="mailtrail-sort")
    sender = PageSender(ctx, conn, spec, executor)
    progress = Progress(PROGRESS_SECONDS)
    reader = connect_dispatcher(ctx.database_url)  # last: the finally below closes it
    try:
        previous: frozenset[str] = frozenset()
        waiting: Future[SortedPage] | None = None
        for page in itertools.chain(pages, [None]):
            following = None if page is None else sorter.submit(sort_page, reader, spec, page)
            if waiting is not None:
                current = waiting.result()
                if not sender.send_sorted(current, previous):
                    break
                previous = current.addresses
                if progress.due():
                    done = sender.counts.values
                    logger.info(
                        "shoot %s: %d recipients handled so far (%s)",
                        spec.shoot_id, sum(done.values()),
                        ", ".join(f"{key} {count}" for key, count in sorted(done.items())),
                    )  # fmt: skip
            waiting = following
    finally:
        sorter.shutdown(wait=True, cancel_futures=True)
        reader.close()
        executor.shutdown(wait=True, cancel_futures=True)
        flush = getattr(ctx.sender, "flush", None)
        if flush is not None:
            flush()
    return sender.counts
