"""Sending to recipients: one recipient (``process_recipient``) and streams of them
(``run_recipients``, for shoots and ``batch_send_email``).

One recipient goes through named steps: drop (suppressed, invalid address), render, then either
record a dry run, or reserve (ledger row ``queued`` + frequency limit, committed together) and
deliver (the provider call, its answer recorded on the row). Because the reservation is committed
before the provider is called, a recipient is sent at most once per shoot (see ``ledger``).

A stream keeps at most ``2 x concurrency`` recipients in flight, reads the audience page by page
(constant memory) and drops the suppressed ones (see ``suppression``: it needs dbt's
``marts.suppression_list``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns import frequency
from orchestration.campaigns.context import MessageSpec, SendContext
from orchestration.campaigns.entities import EmailRecipient, SendStatus, is_plausible_address
from orchestration.campaigns.errors import (
    SkippingEmailSendingException,
    TemplateRenderingError,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.ledger import (
    DRY_RUN_REASON,
    insert_ledger_row,
    recorded_recipients,
    update_ledger_row,
)
from orchestration.campaigns.pool import ConnectionPool
from orchestration.campaigns.ratelimit import RateLimiter, send_with_backoff
from orchestration.campaigns.raw_messages import raw_content
from orchestration.campaigns.suppression import suppression_reasons
from orchestration.campaigns.templates import EmailContent
from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendOutcomeUnknownError,
    SendResult,
)

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


@dataclass
class RecipientResult:
    address: str
    status: SendStatus | None  # None: the recipient was in the ledger already
    email_log_id: UUID | None = None
    reason: str | None = None
    message_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None


# ---------------------------------------------------------------------------------------------
# One recipient
# ---------------------------------------------------------------------------------------------


@dataclass
class _Attempt:
    """One recipient of one message, with the ledger identity it gets before anything is
    written."""

    conn: psycopg.Connection
    spec: MessageSpec
    recipient: EmailRecipient
    now: datetime
    email_log_id: UUID = field(default_factory=uuid.uuid4)

    @property
    def address(self) -> str:
        return self.recipient.normalized_address

    def insert(self, status: SendStatus, reason: str | None, **columns: Any) -> bool:
        return insert_ledger_row(
            self.conn, self.spec, self.recipient, email_log_id=self.email_log_id, status=status,
            reason=reason, now=self.now, **columns,
        )  # fmt: skip

    def result(
        self, status: SendStatus, reason: str | None = None, **fields: Any
    ) -> RecipientResult:
        return RecipientResult(self.address, status, self.email_log_id, reason, **fields)

    def record(
        self, status: SendStatus, reason: str | None = None, **columns: Any
    ) -> RecipientResult:
        """The outcome of a recipient the provider never sees (written unless a rehearsal)."""
        if self.spec.persist:
            with self.conn.transaction():
                inserted = self.insert(status, reason, **columns)
            if not inserted:
                return RecipientResult(self.address, None)
        errors = {k: v for k, v in columns.items() if k in ("error_type", "error_message")}
        return self.result(status, reason, **errors)


def process_recipient(
    ctx: SendContext,
    conn: psycopg.Connection,
    spec: MessageSpec,
    recipient: EmailRecipient,
    limiter: RateLimiter,
    *,
    drop_reason: str | None = None,
    email_log_id: UUID | None = None,
) -> RecipientResult:
    """Record, check, render and send one recipient - the ledger row is committed first.

    Raises TemplateSettingsMissingKeyError (the whole shoot is wrong); every other problem of the
    recipient's (rendering failed on their data, the provider refused or may have the message)
    is recorded on the recipient's row. Only infrastructure errors (the database) propagate.

    ``email_log_id``: the id the row must have (a queued send's, given to its caller when it was
    enqueued). A second call with the same id finds the row and sends nothing (status None).
    """
    attempt = _Attempt(conn, spec, recipient, now=ctx.clock())
    if email_log_id is not None:
        attempt.email_log_id = email_log_id
    if drop_reason is None and not is_plausible_address(attempt.address):
        drop_reason = "invalid_address"
    if drop_reason is not None:
        return attempt.record(SendStatus.dropped, drop_reason)
    rendered = _render(attempt)
    if isinstance(rendered, RecipientResult):
        return rendered
    if spec.dry_run or not spec.persist:
        return _record_dry_run(attempt, rendered)
    refused = _reserve(attempt, rendered)
    if refused is not None:
        return refused
    # Committed: from here on the recipient can never be sent again by this shoot.
    return _deliver(ctx, attempt, rendered, limiter)


def render_message(
    spec: MessageSpec, recipient: EmailRecipient, email_log_id: UUID
) -> EmailContent:
    """The recipient's message: the template rendered with the spec's custom blocks and
    attachments, or the spec's ready MIME message (send_email_raw) as it is."""
    if spec.raw_message is not None:
        return raw_content(spec.raw_message)
    assert spec.template is not None
    return spec.template.render(
        recipient, spec.template_settings, email_log_id=str(email_log_id),
        campaign_name=spec.campaign_name, blocks=spec.blocks,
        variation_id=spec.custom_blocks_variation_id,
    )  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """A recipient whose message is not rendered: ``skipped`` by campaign code (with its
    reason), or ``failed`` because the template raised on their data (``error_message``)."""

    status: SendStatus
    reason: str
    error_message: str | None = None

    @property
    def errors(self) -> dict[str, str]:
        """The ledger's error columns: a failure's, none for a skip."""
        if self.error_message is None:
            return {}
        return {"error_type": "rendering_failed", "error_message": self.error_message}


def render_or_refuse(
    spec: MessageSpec, recipient: EmailRecipient, email_log_id: UUID
) -> EmailContent | Refusal:
    """The recipient's message, or why it is not sent. A missing template setting is the
    shoot's fault, not this recipient's, and propagates."""
    try:
        return render_message(spec, recipient, email_log_id)
    except TemplateSettingsMissingKeyError:
        raise
    except SkippingEmailSendingException as exc:
        return Refusal(SendStatus.skipped, exc.reason[:2000])
    except Exception as exc:
        # TemplateRenderingError - or anything else a template (or a Template subclass) raised
        # on this recipient's data: their row records it, the others are still sent.
        message = (
            str(exc) if isinstance(exc, TemplateRenderingError) else f"{type(exc).__name__}: {exc}"
        )
        return Refusal(SendStatus.failed, "rendering_failed", message[:2000])


def _render(attempt: _Attempt) -> EmailContent | RecipientResult:
    """The recipient's message, or their recorded result if it cannot be rendered (``failed``)
    or campaign code skipped them (``skipped``, with its reason)."""
    rendered = render_or_refuse(attempt.spec, attempt.recipient, attempt.email_log_id)
    if isinstance(rendered, Refusal):
        return attempt.record(rendered.status, rendered.reason, **rendered.errors)
    return rendered


def _record_dry_run(attempt: _Attempt, content: EmailContent) -> RecipientResult:
    """A dry run or a rehearsal: the frequency limit is checked but not reserved, and the row
    (written for a dry-run shoot only) stays ``queued``."""
    limit = attempt.spec.message_frequency
    reason = frequency.would_exceed(attempt.conn, attempt.recipient.user_key, limit)
    files = content.attachment_filenames
    if reason:
        return attempt.record(
            SendStatus.skipped, reason, subject=content.subject, attachment_filenames=files
        )
    return attempt.record(
        SendStatus.queued, DRY_RUN_REASON, subject=content.subject, attachment_filenames=files
    )


def _reserve(attempt: _Attempt, content: EmailContent) -> RecipientResult | None:
    """Commit the ``queued`` ledger row and the frequency-limit reservation together; the
    recipient's result if they must not be sent (in the ledger already, or over their limit)."""
    conn = attempt.conn
    with conn.transaction():
        if not attempt.insert(
            SendStatus.queued, None, subject=content.subject,
            attachment_filenames=content.attachment_filenames,
        ):  # fmt: skip
            return RecipientResult(attempt.address, None)
        limit = attempt.spec.message_frequency
        reason = frequency.reserve(conn, attempt.recipient.user_key, limit)
        if reason:
            update_ledger_row(conn, attempt.email_log_id, SendStatus.skipped, reason=reason)
            return attempt.result(SendStatus.skipped, reason)
    return None


def _deliver(
    ctx: SendContext, attempt: _Attempt, content: EmailContent, limiter: RateLimiter
) -> RecipientResult:
    """Hand the message to the provider (or the drafts outbox) and record its answer."""
    drafts = ctx.drafts if attempt.spec.enqueue_as_draft else None
    sender = drafts or ctx.sender
    try:
        sent = send_with_backoff(ctx.settings, sender, _outgoing(ctx, attempt, content), limiter)
    except (PermanentSendError, RetryableSendError) as exc:
        # Refused, or turned away until the retries ran out: the provider does not have it.
        return _record_failure(attempt, sender, exc)
    except Exception as exc:
        # SendOutcomeUnknownError - or a sender error that does not say whether the provider
        # took the message: it may have, so the outcome is unknown and it is never sent again.
        return _record_unknown(attempt, sender, exc)
    return _record_sent(ctx, attempt, sent)


def _outgoing(ctx: SendContext, attempt: _Attempt, content: EmailContent) -> OutgoingEmail:
    spec = attempt.spec
    return OutgoingEmail(
        email_log_id=str(attempt.email_log_id),
        from_address=spec.from_address or ctx.default_from,
        to_address=attempt.recipient.email_address.strip(),
        subject=content.subject,
        html=content.html,
        text=content.text,
        pre_header=content.pre_header,
        campaign_name=spec.campaign_name,
        app_name=spec.app_name,
        shoot_id=str(spec.shoot_id) if spec.shoot_id else None,
        template_name=spec.template_name,
        transactional_message_id=spec.transactional_message_id,
        requested_at=attempt.now,
        tracked=spec.options.tracked,
        message_id=spec.options.message_id_for(str(attempt.email_log_id)),
        attachments=content.attachments,
        raw=content.raw,
    )


def _record_unknown(attempt: _Attempt, sender: Sender, exc: Exception) -> RecipientResult:
    """The provider may or may not have the message: ``unknown``, never re-sent, and its
    frequency-limit reservation is kept (the user may have received it)."""
    error_type = SendOutcomeUnknownError.error_type
    message = (
        str(exc) if isinstance(exc, SendOutcomeUnknownError) else f"{type(exc).__name__}: {exc}"
    )
    update_ledger_row(
        attempt.conn, attempt.email_log_id, SendStatus.unknown, reason="provider outcome unknown",
        provider=sender.name, error_type=error_type, error_message=message[:2000],
    )  # fmt: skip
    logger.warning("send to %s: outcome unknown, not re-sent: %s", attempt.address, message)
    return attempt.result(SendStatus.unknown, error_type=error_type, error_message=message[:2000])


def _record_failure(
    attempt: _Attempt, sender: Sender, exc: PermanentSendError | RetryableSendError
) -> RecipientResult:
    """The provider refused the message: ``failed``, and it does not count against the limit."""
    error_type = exc.error_type
    conn = attempt.conn
    with conn.transaction():
        update_ledger_row(
            conn, attempt.email_log_id, SendStatus.failed, reason="provider_error",
            provider=sender.name, error_type=error_type, error_message=str(exc)[:2000],
        )  # fmt: skip
        frequency.release(conn, attempt.recipient.user_key, attempt.spec.message_frequency)
    logger.warning("send to %s failed: %s", attempt.address, exc)
    return attempt.result(
        SendStatus.failed, "provider_error", error_type=error_type, error_message=str(exc)
    )


def _record_sent(ctx: SendContext, attempt: _Attempt, sent: SendResult) -> RecipientResult:
    provider = "draft" if attempt.spec.enqueue_as_draft else sent.provider
    update_ledger_row(
        attempt.conn, attempt.email_log_id, SendStatus.sent, provider=provider,
        message_id=sent.message_id, sent_at=ctx.clock(),
    )  # fmt: skip
    return attempt.result(SendStatus.sent, message_id=sent.message_id)


# ---------------------------------------------------------------------------------------------
# Streams of recipients (shoots and batch_send_email)
# ---------------------------------------------------------------------------------------------


@dataclass
class RecipientCounts:
    """Recipients of one run by outcome (``duplicate``: in the ledger already)."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, result: RecipientResult) -> None:
        self.bump("duplicate" if result.status is None else str(result.status))

    def bump(self, key: str) -> None:
        self.values[key] = self.values.get(key, 0) + 1


def dedupe_page(page: list[EmailRecipient]) -> list[EmailRecipient]:
    """The page without repeated addresses (the first one stays)."""
    seen: set[str] = set()
    out = []
    for recipient in page:
        address = recipient.normalized_address
        if address not in seen:
            seen.add(address)
            out.append(recipient)
    return out


class _Stream:
    """Recipients handed to a thread pool, at most ``2 x concurrency`` in flight."""

    def __init__(
        self,
        ctx: SendContext,
        spec: MessageSpec,
        executor: ThreadPoolExecutor,
        pool: ConnectionPool,
        on_result: Callable[[RecipientResult], None] | None,
    ) -> None:
        self.ctx, self.spec, self.executor, self.pool = ctx, spec, executor, pool
        self.on_result = on_result
        self.limiter = RateLimiter(ctx.settings.max_send_rate)
        self.counts = RecipientCounts()
        self.inflight: set[Future[RecipientResult | None]] = set()
        # Set when a worker fails hard: queued work is abandoned at once, as a dead process would.
        self.abort = threading.Event()

    def submit_page(self, reader: psycopg.Connection, page: list[EmailRecipient]) -> None:
        """Submit one (deduplicated) page: recipients in the ledger already are only counted."""
        addresses = [r.normalized_address for r in page]
        already: set[str] = set()
        if self.spec.shoot_id is not None and self.spec.persist:
            already = recorded_recipients(reader, self.spec.shoot_id, addresses)
        suppressed = suppression_reasons(
            reader, addresses, send_to_unsubscribed=self.spec.options.send_to_unsubscribed
        )
        for recipient in page:
            address = recipient.normalized_address
            if address in already:
                self.counts.bump("already_recorded")
                continue
            self._submit(recipient, suppressed.get(address))

    def _submit(self, recipient: EmailRecipient, drop: str | None) -> None:
        while len(self.inflight) >= 2 * self.ctx.settings.concurrency:
            done, self.inflight = wait(self.inflight, return_when=FIRST_COMPLETED)
            self._collect(done)
        self.inflight.add(self.executor.submit(self._work, recipient, drop))

    def _work(self, recipient: EmailRecipient, drop: str | None) -> RecipientResult | None:
        if self.abort.is_set():
            return None  # not attempted: no ledger row, a resume will take it
        try:
            with self.pool.connection() as conn:
                return process_recipient(
                    self.ctx, conn, self.spec, recipient, self.limiter, drop_reason=drop
                )
        except BaseException:
            self.abort.set()
            raise

    def _collect(self, done: Iterable[Future[RecipientResult | None]]) -> None:
        """Report every finished recipient, then re-raise the first worker's exception: a
        caller recording the others' failures must know who has a ledger row already."""
        failure: BaseException | None = None
        for future in done:
            if future.cancelled():
                continue
            error = future.exception()
            if error is not None:
                failure = failure or error
                continue
            result = future.result()
            if result is None:
                continue
            self.counts.add(result)
            if self.on_result is not None:
                self.on_result(result)
        if failure is not None:
            raise failure

    def drain(self) -> None:
        finished = wait(self.inflight).done
        self.inflight = set()
        self._collect(finished)

    def cancel(self) -> None:
        """Stop: recipients not started are dropped, those in flight finish and are reported."""
        for future in self.inflight:
            future.cancel()
        finished = wait(self.inflight).done
        self.inflight = set()
        with suppress(BaseException):
            self._collect(finished)


def run_recipients(
    ctx: SendContext,
    reader: psycopg.Connection,
    spec: MessageSpec,
    pages: Iterable[list[EmailRecipient]],
    *,
    on_page: Callable[[], bool] | None = None,
    on_result: Callable[[RecipientResult], None] | None = None,
) -> RecipientCounts:
    """Send every recipient of ``pages`` with bounded concurrency.

    ``on_page`` is called after each page; returning False stops (a cancelled shoot). The first
    exception of a worker (including KeyboardInterrupt/SystemExit) stops submission, lets the
    messages in flight finish, and propagates.
    """
    concurrency = ctx.settings.concurrency
    pool = ConnectionPool(ctx.database_url, concurrency)
    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="mailtrail-send") as executor:
            stream = _Stream(ctx, spec, executor, pool, on_result)
            try:
                for page in pages:
                    stream.submit_page(reader, dedupe_page(page))
                    if on_page is not None and not on_page():
                        break
                stream.drain()
            except BaseException:
                stream.cancel()
                raise
    finally:
        pool.close()
        flush = getattr(ctx.sender, "flush", None)
        if flush is not None:
            flush()
    return stream.counts
