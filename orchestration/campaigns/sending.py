"""Sending: claim due shoots, stream their audience, and send each recipient at most once.

The guarantees, and what provides each:

* **One dispatcher per shoot.** A shoot is claimed in a short transaction that selects due
  shoots ``FOR UPDATE SKIP LOCKED`` and takes a *session* advisory lock on the one it claims.
  That lock is held by the dispatcher's connection for the whole dispatch and vanishes with it
  (a killed process, a lost connection), so a second dispatcher skips a shoot in progress and
  picks up a crashed one.
* **At most once per recipient per shoot.** Each recipient gets its ledger row
  (``app.email_sends``, status ``queued``) inserted and *committed* before the provider is
  called; ``unique (shoot_id, recipient)`` makes that insert the only door to the provider. The
  provider's message id is recorded after. A dispatcher resuming a crashed shoot first turns
  rows still ``queued`` into ``unknown``: they may or may not have reached the provider and are
  never sent again.
* **Frequency limits under concurrency.** The limit is a conditional upsert on
  ``app.message_counters`` in the same transaction as the ledger row (see ``frequency``).
* **Constant memory.** The audience is read in keyset pages and at most ``2 x concurrency``
  recipients are in flight.
* **Provider limits.** A shared rate limiter spaces provider calls to ``max_send_rate`` per
  second; a throttling error pauses every worker with exponential back-off and is retried (the
  provider did not take the message, so retrying cannot duplicate it).

Suppressed recipients (``marts.suppression_list`` built by dbt from provider events, and
``app.suppressions``) are recorded as ``dropped``, recipients over their frequency limit as
``skipped``, each with the reason.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestration.campaigns import frequency
from orchestration.campaigns.entities import (
    EmailRecipient,
    EmailShoot,
    EmailShootState,
    MessageFrequency,
    SendStatus,
    is_plausible_address,
)
from orchestration.campaigns.errors import (
    EmailingError,
    TemplateRenderingError,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.shoots import get_shoot, set_shoot_error
from orchestration.campaigns.templates import Template, TemplateSettings
from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SendOutcomeUnknownError,
    ThrottledError,
)

logger = logging.getLogger(__name__)

UNKNOWN_REASON = "dispatch interrupted before the provider answered; not re-sent"
DRY_RUN_REASON = "dry_run"


@dataclass(frozen=True)
class DispatchSettings:
    """How hard dispatch pushes the provider."""

    concurrency: int = 4  # provider calls in flight
    max_send_rate: float | None = None  # messages per second across workers; None: unlimited
    page_size: int = 500  # audience keyset page
    max_retries: int = 6  # per message, on throttling/retryable errors
    backoff_initial: float = 0.5  # seconds, doubled per retry
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_send_rate is not None and self.max_send_rate <= 0:
            raise ValueError("max_send_rate must be positive (or None for no limit)")


class RateLimiter:
    """Spaces calls ``1/rate`` seconds apart across threads; ``pause`` delays everyone."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()
        self._sleep = sleep

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


@dataclass
class SendContext:
    """Everything a dispatch needs; built by the ``Emailing`` service."""

    database_url: str
    registry: Registry
    sender: Sender
    settings: DispatchSettings = field(default_factory=DispatchSettings)
    default_from: str = "Mailtrail <hello@mailtrail.example>"
    drafts: Sender | None = None  # where enqueue_as_draft messages go
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class MessageSpec:
    """What every recipient of one shoot (or one batch_send_email call) shares."""

    template: Template
    template_settings: TemplateSettings
    shoot_id: UUID | None = None
    campaign_name: str | None = None
    app_name: str | None = None
    message_frequency: MessageFrequency | None = None
    from_address: str = ""
    dry_run: bool = False
    enqueue_as_draft: bool = False
    message_metadata: dict[str, Any] = field(default_factory=dict)
    account_ref: str | None = None
    persist: bool = True  # False: rehearsal, nothing written


@dataclass
class RecipientResult:
    address: str
    status: SendStatus | None  # None: the recipient was in the ledger already
    email_log_id: UUID | None = None
    reason: str | None = None
    message_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None


@dataclass
class ShootOutcome:
    """The result of one dispatch of one shoot (counts are this run's, ``shoot`` the totals)."""

    shoot_id: UUID
    claimed: bool
    shoot: EmailShoot | None = None
    counts: dict[str, int] = field(default_factory=dict)
    recovered_unknown: int = 0
    rehearsal: bool = False
    note: str = ""

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"run_{name}": value for name, value in sorted(self.counts.items())}
        out["recovered_unknown"] = self.recovered_unknown
        if self.shoot is not None:
            out.update(self.shoot.counts())
            out["state"] = str(self.shoot.state)
        return out


# ---------------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------------


class ConnectionPool:
    """A few autocommit connections for the worker threads (psycopg connections are not meant
    for concurrent use); created on demand, closed together."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._size = size
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(
                self._url, autocommit=True, application_name="mailtrail-dispatch"
            )
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()


# ---------------------------------------------------------------------------------------------
# Suppression and ledger helpers
# ---------------------------------------------------------------------------------------------


def _relation_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def suppression_reasons(
    conn: psycopg.Connection, addresses: list[str], *, include_marts: bool | None = None
) -> dict[str, str]:
    """Suppressed addresses among ``addresses`` -> reason (``suppressed:<reason>``)."""
    if not addresses:
        return {}
    if include_marts is None:
        include_marts = _relation_exists(conn, "marts.suppression_list")
    query = "select recipient, reason, 'app' from app.suppressions where recipient = any(%(a)s)"
    if include_marts:
        query += (
            " union all select lower(recipient), reason, coalesce(provider, 'provider')"
            " from marts.suppression_list where lower(recipient) = any(%(a)s)"
        )
    out: dict[str, str] = {}
    for recipient, reason, source in conn.execute(query, {"a": addresses}):
        out.setdefault(recipient, f"suppressed:{reason} ({source})")
    return out


def _insert_ledger_row(
    conn: psycopg.Connection,
    spec: MessageSpec,
    recipient: EmailRecipient,
    *,
    email_log_id: UUID,
    status: SendStatus,
    reason: str | None,
    now: datetime,
    subject: str | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Insert the recipient's ledger row; False if the shoot already has one for them."""
    row = conn.execute(
        "insert into app.email_sends (email_log_id, shoot_id, campaign_name, app_name,"
        " template_name, user_id, account_ref, recipient, status, reason, provider, subject,"
        " error_type, error_message, is_dry_run, message_metadata, user_context,"
        " template_settings, created_at, updated_at)"
        " values (%(id)s, %(shoot)s, %(campaign)s, %(app)s, %(template)s, %(user)s, %(account)s,"
        " %(recipient)s, %(status)s, %(reason)s, null, %(subject)s, %(etype)s, %(emsg)s,"
        " %(dry)s, %(meta)s, %(context)s, %(settings)s, %(now)s, %(now)s)"
        " on conflict (shoot_id, recipient) do nothing returning email_log_id",
        {
            "id": email_log_id,
            "shoot": spec.shoot_id,
            "campaign": spec.campaign_name,
            "app": spec.app_name,
            "template": spec.template.name,
            "user": recipient.user_ref,
            "account": spec.account_ref,
            "recipient": recipient.normalized_address,
            "status": str(status),
            "reason": reason,
            "subject": subject,
            "etype": error_type,
            "emsg": error_message,
            "dry": spec.dry_run,
            "meta": Jsonb(spec.message_metadata),
            "context": Jsonb(recipient.user_context),
            "settings": None if spec.shoot_id else Jsonb(dict(spec.template_settings)),
            "now": now,
        },
    ).fetchone()
    return row is not None


def _update_ledger_row(
    conn: psycopg.Connection, email_log_id: UUID, status: SendStatus, **values: Any
) -> None:
    columns = ["status = %(status)s", "updated_at = now()"]
    columns += [f"{name} = %({name})s" for name in values]
    conn.execute(
        f"update app.email_sends set {', '.join(columns)} where email_log_id = %(id)s",
        {"status": str(status), "id": email_log_id, **values},
    )


def mark_in_flight_unknown(conn: psycopg.Connection, shoot_id: UUID) -> int:
    """Rows a dead dispatcher left ``queued``: their outcome is unknown; never re-send them.

    Only call while holding the shoot's dispatch lock (no live dispatcher owns those rows).
    """
    cur = conn.execute(
        "update app.email_sends set status = 'unknown', reason = %s, updated_at = now()"
        " where shoot_id = %s and status = 'queued' and not is_dry_run",
        (UNKNOWN_REASON, shoot_id),
    )
    return cur.rowcount


def recover_orphan_sends(conn: psycopg.Connection, older_than_seconds: float = 3600) -> int:
    """Direct sends (no shoot) still ``queued`` long after their creation died with their
    process: mark them ``unknown``."""
    cur = conn.execute(
        "update app.email_sends set status = 'unknown', reason = %s, updated_at = now()"
        " where shoot_id is null and status = 'queued' and not is_dry_run"
        " and created_at < now() - make_interval(secs => %s)",
        (UNKNOWN_REASON, older_than_seconds),
    )
    return cur.rowcount


# ---------------------------------------------------------------------------------------------
# One recipient
# ---------------------------------------------------------------------------------------------


def _send_with_backoff(
    ctx: SendContext, sender: Sender, message: OutgoingEmail, limiter: RateLimiter
) -> Any:
    settings = ctx.settings
    attempt = 0
    while True:
        limiter.acquire()
        try:
            return sender.send(message)
        except RetryableSendError as exc:
            attempt += 1
            if attempt > settings.max_retries:
                raise
            delay = min(settings.backoff_max, settings.backoff_initial * 2 ** (attempt - 1))
            delay = max(delay * random.uniform(0.5, 1.0), exc.retry_after or 0.0)
            logger.info("%s; retry %d in %.2fs", exc, attempt, delay)
            if isinstance(exc, ThrottledError):
                limiter.pause(delay)  # everyone slows down
                continue
            time.sleep(delay)


def process_recipient(
    ctx: SendContext,
    conn: psycopg.Connection,
    spec: MessageSpec,
    recipient: EmailRecipient,
    limiter: RateLimiter,
    *,
    drop_reason: str | None = None,
) -> RecipientResult:
    """Record, check, render and send one recipient - the ledger row is committed first.

    Raises TemplateSettingsMissingKeyError (the whole shoot is wrong); every other problem is
    recorded on the recipient's row.
    """
    address = recipient.normalized_address
    email_log_id = uuid.uuid4()
    now = ctx.clock()

    def record(status: SendStatus, reason: str | None = None, **extra: Any) -> RecipientResult:
        if spec.persist:
            with conn.transaction():
                inserted = _insert_ledger_row(
                    conn, spec, recipient, email_log_id=email_log_id, status=status,
                    reason=reason, now=now, **extra,
                )  # fmt: skip
            if not inserted:
                return RecipientResult(address, None)
        return RecipientResult(address, status, email_log_id, reason, **_result_extra(extra))

    if drop_reason is None and not is_plausible_address(address):
        drop_reason = "invalid_address"
    if drop_reason is not None:
        return record(SendStatus.dropped, drop_reason)
    try:
        content = spec.template.render(
            recipient,
            spec.template_settings,
            email_log_id=str(email_log_id),
            campaign_name=spec.campaign_name,
        )
    except TemplateSettingsMissingKeyError:
        raise
    except TemplateRenderingError as exc:
        return record(
            SendStatus.failed, "rendering_failed", error_type="rendering_failed",
            error_message=str(exc)[:2000],
        )  # fmt: skip

    user_key = recipient.user_key
    if spec.dry_run or not spec.persist:
        reason = frequency.would_exceed(conn, user_key, spec.message_frequency)
        if reason:
            return record(SendStatus.skipped, reason, subject=content.subject)
        return record(SendStatus.queued, DRY_RUN_REASON, subject=content.subject)

    with conn.transaction():
        inserted = _insert_ledger_row(
            conn, spec, recipient, email_log_id=email_log_id, status=SendStatus.queued,
            reason=None, now=now, subject=content.subject,
        )  # fmt: skip
        if not inserted:
            return RecipientResult(address, None)
        reason = frequency.reserve(conn, user_key, spec.message_frequency)
        if reason:
            _update_ledger_row(conn, email_log_id, SendStatus.skipped, reason=reason)
            return RecipientResult(address, SendStatus.skipped, email_log_id, reason)
    # Committed: from here on the recipient can never be sent again by this shoot.

    message = OutgoingEmail(
        email_log_id=str(email_log_id),
        from_address=spec.from_address or ctx.default_from,
        to_address=recipient.email_address.strip(),
        subject=content.subject,
        html=content.html,
        text=content.text,
        pre_header=content.pre_header,
        campaign_name=spec.campaign_name,
        app_name=spec.app_name,
        shoot_id=str(spec.shoot_id) if spec.shoot_id else None,
        template_name=spec.template.name,
        requested_at=now,
    )
    sender = ctx.drafts if spec.enqueue_as_draft and ctx.drafts is not None else ctx.sender
    try:
        result = _send_with_backoff(ctx, sender, message, limiter)
    except SendOutcomeUnknownError as exc:
        _update_ledger_row(
            conn, email_log_id, SendStatus.unknown, reason="provider outcome unknown",
            provider=sender.name, error_type=exc.error_type, error_message=str(exc)[:2000],
        )  # fmt: skip
        return RecipientResult(address, SendStatus.unknown, email_log_id, error_type=exc.error_type)
    except Exception as exc:
        error_type = (
            exc.error_type
            if isinstance(exc, PermanentSendError | RetryableSendError)
            else type(exc).__name__
        )
        with conn.transaction():
            _update_ledger_row(
                conn, email_log_id, SendStatus.failed, reason="provider_error",
                provider=sender.name, error_type=error_type, error_message=str(exc)[:2000],
            )  # fmt: skip
            frequency.release(conn, user_key, spec.message_frequency)
        logger.warning("send to %s failed: %s", address, exc)
        return RecipientResult(
            address, SendStatus.failed, email_log_id, "provider_error", None, error_type, str(exc)
        )
    sent_status = SendStatus.sent
    _update_ledger_row(
        conn, email_log_id, sent_status, provider="draft" if spec.enqueue_as_draft else result.provider,
        message_id=result.message_id, sent_at=ctx.clock(),
    )  # fmt: skip
    return RecipientResult(address, sent_status, email_log_id, message_id=result.message_id)


def _result_extra(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k in ("error_type", "error_message")}


# ---------------------------------------------------------------------------------------------
# Streams of recipients (shoots and batch_send_email)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Counts:
    values: dict[str, int] = field(default_factory=dict)

    def add(self, result: RecipientResult) -> None:
        key = "duplicate" if result.status is None else str(result.status)
        self.values[key] = self.values.get(key, 0) + 1


def _dedupe(page: list[EmailRecipient]) -> list[EmailRecipient]:
    seen: set[str] = set()
    out = []
    for recipient in page:
        address = recipient.normalized_address
        if address not in seen:
            seen.add(address)
            out.append(recipient)
    return out


def run_recipients(
    ctx: SendContext,
    reader: psycopg.Connection,
    spec: MessageSpec,
    pages: Iterable[list[EmailRecipient]],
    *,
    on_page: Callable[[], bool] | None = None,
    on_result: Callable[[RecipientResult], None] | None = None,
) -> _Counts:
    """Send every recipient of ``pages`` with bounded concurrency.

    ``on_page`` is called after each page; returning False stops (a cancelled shoot). The first
    exception of a worker (including KeyboardInterrupt/SystemExit) stops submission, lets the
    messages in flight finish, and propagates.
    """
    counts = _Counts()
    limiter = RateLimiter(ctx.settings.max_send_rate)
    concurrency = ctx.settings.concurrency
    pool = ConnectionPool(ctx.database_url, concurrency)
    include_marts = _relation_exists(reader, "marts.suppression_list")

    # Set when a worker fails hard: queued work is abandoned at once, as a dead process would.
    abort = threading.Event()

    def work(recipient: EmailRecipient, drop: str | None) -> RecipientResult | None:
        if abort.is_set():
            return None  # not attempted: no ledger row, a resume will take it
        try:
            with pool.connection() as conn:
                return process_recipient(ctx, conn, spec, recipient, limiter, drop_reason=drop)
        except BaseException:
            abort.set()
            raise

    def collect(done: Iterable[Future[RecipientResult | None]]) -> None:
        for future in done:
            result = future.result()  # re-raises the worker's exception
            if result is None:
                continue
            counts.add(result)
            if on_result is not None:
                on_result(result)

    try:
        with ThreadPoolExecutor(concurrency, thread_name_prefix="mailtrail-send") as executor:
            inflight: set[Future[RecipientResult | None]] = set()
            try:
                for raw_page in pages:
                    page = _dedupe(raw_page)
                    addresses = [r.normalized_address for r in page]
                    already: set[str] = set()
                    if spec.shoot_id is not None and spec.persist:
                        already = {
                            row[0]
                            for row in reader.execute(
                                "select recipient from app.email_sends"
                                " where shoot_id = %s and recipient = any(%s)",
                                (spec.shoot_id, addresses),
                            )
                        }
                    suppressed = suppression_reasons(reader, addresses, include_marts=include_marts)
                    for recipient in page:
                        address = recipient.normalized_address
                        if address in already:
                            counts.values["already_recorded"] = (
                                counts.values.get("already_recorded", 0) + 1
                            )
                            continue
                        while len(inflight) >= 2 * concurrency:
                            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                            collect(done)
                        inflight.add(executor.submit(work, recipient, suppressed.get(address)))
                    if on_page is not None and not on_page():
                        break
                finished = wait(inflight).done
                inflight = set()
                collect(finished)
            except BaseException:
                for future in inflight:
                    future.cancel()
                raise
    finally:
        pool.close()
        flush = getattr(ctx.sender, "flush", None)
        if flush is not None:
            flush()
    return counts


# ---------------------------------------------------------------------------------------------
# Shoots
# ---------------------------------------------------------------------------------------------

_LOCK_SQL = "hashtextextended('mailtrail.shoot:' || %s::text, 0)"


def claim_shoot(
    lease: psycopg.Connection,
    *,
    now: datetime,
    shoot_id: UUID | str | None = None,
    campaign_name: str | None = None,
    scheduled_after: datetime | None = None,
    shoot_ids: list[UUID | str] | None = None,
    campaign_names: list[str] | None = None,
    include_manual: bool = False,
) -> EmailShoot | None:
    """Claim one shoot for dispatch (see the module docstring); None if nothing is claimable.

    Without ``shoot_id``: a due (``scheduled_at <= now``), automatic, error-free shoot that is
    scheduled, or sending with no live dispatcher (a crashed one). With ``shoot_id``: that shoot
    whatever its time (seed 004's ``send_shoot`` sends now).
    """
    where = ["state in ('scheduled', 'sending')"]
    params: dict[str, Any] = {"now": now}
    if shoot_id is not None:
        where.append("shoot_id = %(id)s")
        params["id"] = str(shoot_id)
    else:
        where += ["scheduled_at <= %(now)s", "error_type is null"]
        if not include_manual:
            where.append("not manual_send_only")
    if campaign_name is not None:
        where.append("campaign_name = %(campaign)s")
        params["campaign"] = campaign_name
    if scheduled_after is not None:
        where.append("scheduled_at >= %(after)s")
        params["after"] = scheduled_after
    if shoot_ids is not None:
        where.append("shoot_id = any(%(ids)s::uuid[])")
        params["ids"] = [str(s) for s in shoot_ids]
    if campaign_names is not None:
        where.append("campaign_name = any(%(campaigns)s)")
        params["campaigns"] = list(campaign_names)
    with lease.transaction():
        candidates = lease.execute(
            f"select shoot_id from app.shoots where {' and '.join(where)}"
            " order by scheduled_at, shoot_id limit 20 for update skip locked",
            params,
        ).fetchall()
        for (candidate,) in candidates:
            locked = lease.execute(
                f"select pg_try_advisory_lock({_LOCK_SQL})", (str(candidate),)
            ).fetchone()[0]
            if not locked:
                continue  # another dispatcher is sending it right now
            with lease.cursor(row_factory=dict_row) as cur:
                row = cur.execute(
                    "update app.shoots set state = 'sending',"
                    " started_at = coalesce(started_at, %(now)s), error_type = null,"
                    " error_message = null, updated_at = now()"
                    " where shoot_id = %(id)s returning *",
                    {"now": now, "id": candidate},
                ).fetchone()
            return EmailShoot.from_row(row)
    return None


def release_shoot(lease: psycopg.Connection, shoot_id: UUID) -> None:
    if not lease.closed:
        lease.execute(f"select pg_advisory_unlock({_LOCK_SQL})", (str(shoot_id),))


def refresh_shoot_counters(conn: psycopg.Connection, shoot_id: UUID) -> None:
    """Recompute the shoot's counters from its ledger (idempotent, crash-proof)."""
    conn.execute(
        "update app.shoots s set"
        " recipient_count = c.total, sent_count = c.sent, failed_count = c.failed,"
        " skipped_count = c.skipped, dropped_count = c.dropped, unknown_count = c.unknown,"
        " pending_count = c.pending, updated_at = now()"
        " from (select count(*) as total,"
        "  count(*) filter (where status = 'sent' and not is_dry_run) as sent,"
        "  count(*) filter (where status = 'failed') as failed,"
        "  count(*) filter (where status = 'skipped') as skipped,"
        "  count(*) filter (where status = 'dropped') as dropped,"
        "  count(*) filter (where status = 'unknown') as unknown,"
        "  count(*) filter (where status = 'queued' and is_dry_run) as pending"
        "  from app.email_sends where shoot_id = %(id)s) c"
        " where s.shoot_id = %(id)s",
        {"id": shoot_id},
    )


def _shoot_spec(ctx: SendContext, shoot: EmailShoot, *, persist: bool) -> MessageSpec:
    template = ctx.registry.get_template(shoot.template_name)
    settings = template.validate_settings(shoot.template_settings)
    return MessageSpec(
        template=template,
        template_settings=settings,
        shoot_id=shoot.shoot_id,
        campaign_name=shoot.campaign_name,
        app_name=shoot.app_name,
        message_frequency=shoot.message_frequency,
        from_address=shoot.sender_email_address or "",
        dry_run=shoot.dry_run or not persist,
        enqueue_as_draft=shoot.enqueue_as_draft,
        message_metadata={"shoot_id": str(shoot.shoot_id), **shoot.metadata},
        persist=persist,
    )


def _audience_pages(
    ctx: SendContext, reader: psycopg.Connection, shoot: EmailShoot, seen: list[int]
) -> Iterator[list[EmailRecipient]]:
    segment = ctx.registry.get_segment(shoot.audience.segment)
    for page in segment.paginate_recipients(
        reader,
        shoot.audience.settings,
        page_size=ctx.settings.page_size,
        limit=shoot.audience.limit,
    ):
        seen[0] += len(page)
        yield page


def dispatch_claimed_shoot(
    ctx: SendContext, lease: psycopg.Connection, shoot: EmailShoot
) -> ShootOutcome:
    """Send a shoot this process has claimed (holding its lock on ``lease``) to completion."""
    assert shoot.shoot_id is not None
    shoot_id = shoot.shoot_id
    recovered = mark_in_flight_unknown(lease, shoot_id)
    if recovered:
        logger.warning(
            "shoot %s: %d in-flight sends of a crashed dispatch marked unknown", shoot_id, recovered
        )
    try:
        spec = _shoot_spec(ctx, shoot, persist=True)
    except EmailingError as exc:
        set_shoot_error(lease, shoot_id, exc.code, str(exc))
        raise

    def still_sending() -> bool:
        refresh_shoot_counters(lease, shoot_id)
        state = lease.execute(
            "select state from app.shoots where shoot_id = %s", (shoot_id,)
        ).fetchone()[0]
        return state == EmailShootState.sending

    seen = [0]
    try:
        counts = run_recipients(
            ctx, lease, spec, _audience_pages(ctx, lease, shoot, seen), on_page=still_sending
        )
    except TemplateSettingsMissingKeyError as exc:
        refresh_shoot_counters(lease, shoot_id)
        set_shoot_error(lease, shoot_id, exc.code, str(exc))
        raise
    refresh_shoot_counters(lease, shoot_id)
    now = ctx.clock()
    lease.execute(
        "update app.shoots set state = case"
        "   when recipient_count = 0 and %(seen)s = 0 then 'skipped' else 'completed' end,"
        " completed_at = %(now)s, updated_at = now()"
        " where shoot_id = %(id)s and state = 'sending'",
        {"seen": seen[0], "now": now, "id": shoot_id},
    )
    final = get_shoot(lease, shoot_id)
    _call_hook(ctx, final)
    return ShootOutcome(
        shoot_id=shoot_id,
        claimed=True,
        shoot=final,
        counts=dict(counts.values),
        recovered_unknown=recovered,
    )


def _call_hook(ctx: SendContext, shoot: EmailShoot) -> None:
    campaign = ctx.registry.campaigns.get(shoot.campaign_name)
    if campaign is None:
        return
    try:
        if shoot.state == EmailShootState.completed:
            campaign.on_shoot_completed(shoot)
        elif shoot.state == EmailShootState.skipped:
            campaign.on_shoot_skipped(shoot)
    except Exception:  # a hook must not fail a sent shoot
        logger.exception("campaign hook failed for shoot %s", shoot.shoot_id)


def send_shoot(
    ctx: SendContext, shoot_id: UUID | str, *, dry_run: bool = False, is_retry: bool = False
) -> ShootOutcome:
    """Send one shoot now, whatever its scheduled time (seed 004's ``send_shoot``).

    ``dry_run`` on a shoot that is not itself a dry run is a rehearsal: the audience is read,
    suppression, limits and rendering are checked and counted, nothing is written or sent and
    the shoot's state does not change. ``is_retry`` puts a completed shoot back to scheduled
    first: recipients already in its ledger are not sent again, new audience members are.
    """
    shoot_uuid = UUID(str(shoot_id))
    with psycopg.connect(
        ctx.database_url, autocommit=True, application_name="mailtrail-dispatch"
    ) as lease:
        if dry_run:
            shoot = get_shoot(lease, shoot_uuid)
            if not shoot.dry_run:
                return _rehearse(ctx, lease, shoot)
        if is_retry:
            lease.execute(
                "update app.shoots set state = 'scheduled', completed_at = null, updated_at = now()"
                " where shoot_id = %s and state in ('completed', 'skipped')",
                (shoot_uuid,),
            )
        claimed = claim_shoot(lease, now=ctx.clock(), shoot_id=shoot_uuid)
        if claimed is None:
            current = get_shoot(lease, shoot_uuid)
            return ShootOutcome(
                shoot_uuid, claimed=False, shoot=current,
                note=f"not claimable: {current.state}"
                + (" (another dispatcher holds it)" if current.state == EmailShootState.sending else ""),
            )  # fmt: skip
        try:
            return dispatch_claimed_shoot(ctx, lease, claimed)
        finally:
            release_shoot(lease, shoot_uuid)


def _rehearse(ctx: SendContext, reader: psycopg.Connection, shoot: EmailShoot) -> ShootOutcome:
    spec = _shoot_spec(ctx, shoot, persist=False)
    seen = [0]
    counts = run_recipients(ctx, reader, spec, _audience_pages(ctx, reader, shoot, seen))
    return ShootOutcome(
        shoot.shoot_id, claimed=False, shoot=shoot, counts=dict(counts.values), rehearsal=True,
        note="rehearsal: nothing written or sent",
    )  # fmt: skip


def dispatch_due_shoots(
    ctx: SendContext,
    *,
    now: datetime | None = None,
    campaign_name: str | None = None,
    scheduled_after: datetime | None = None,
    shoot_ids: list[UUID | str] | None = None,
    campaign_names: list[str] | None = None,
    max_shoots: int | None = None,
    silent_failure: bool = True,
) -> list[ShootOutcome]:
    """Claim and send due shoots one after the other until none is left (or ``max_shoots``).

    Safe to run in several processes at once: each shoot goes to exactly one of them.
    """
    outcomes: list[ShootOutcome] = []
    while max_shoots is None or len(outcomes) < max_shoots:
        with psycopg.connect(
            ctx.database_url, autocommit=True, application_name="mailtrail-dispatch"
        ) as lease:
            claimed = claim_shoot(
                lease,
                now=now or ctx.clock(),
                campaign_name=campaign_name,
                scheduled_after=scheduled_after,
                shoot_ids=shoot_ids,
                campaign_names=campaign_names,
            )
            if claimed is None:
                break
            assert claimed.shoot_id is not None
            try:
                outcomes.append(dispatch_claimed_shoot(ctx, lease, claimed))
            except EmailingError as exc:
                if not silent_failure:
                    raise
                logger.error("shoot %s not sent: %s", claimed.shoot_id, exc)
                outcomes.append(ShootOutcome(claimed.shoot_id, claimed=True, note=f"error: {exc}"))
            finally:
                release_shoot(lease, claimed.shoot_id)
    return outcomes


# ---------------------------------------------------------------------------------------------
# Dispatchable shoots, for the sensor
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueShoot:
    shoot_id: UUID
    campaign_name: str
    config_id: str | None
    state: str
    scheduled_at: datetime
    updated_at: datetime

    @property
    def run_key(self) -> str:
        """One run per shoot, and one more per crash (a resumed shoot has a new updated_at)."""
        return f"shoot-{self.shoot_id}-{self.updated_at.isoformat()}"


def list_due_shoots(conn: psycopg.Connection, now: datetime, limit: int = 100) -> list[DueShoot]:
    """Shoots a dispatch would claim now: due and scheduled, or sending with no live
    dispatcher. Reads ``pg_locks`` instead of trying the lock, so it never races a claim."""
    rows = conn.execute(
        "select s.shoot_id, s.campaign_name, s.config_id, s.state, s.scheduled_at, s.updated_at"
        " from app.shoots s"
        " where s.state in ('scheduled', 'sending') and s.scheduled_at <= %(now)s"
        " and not s.manual_send_only and s.error_type is null"
        " and not exists (select 1 from pg_locks l where l.locktype = 'advisory'"
        "   and l.database = (select oid from pg_database where datname = current_database())"
        "   and l.objsubid = 1 and ((l.classid::bigint << 32) | l.objid::bigint)"
        "     = hashtextextended('mailtrail.shoot:' || s.shoot_id::text, 0))"
        " order by s.scheduled_at, s.shoot_id limit %(limit)s",
        {"now": now, "limit": limit},
    ).fetchall()
    return [DueShoot(*row) for row in rows]
