"""``Emailing``: seed 004's emailing API as one small service object.

It holds what the functions need - the warehouse URL, the registry, a sender, dispatch settings
and a clock - and opens its own connections, so callers (Dagster ops, the CLI, a web app, the
demo) write ``emailing.send_shoot(shoot_id)`` without plumbing. The underlying functions (in
``shoots``, ``planning``, ``overrides``, ``dispatch``, ``sending``, ``email_logs``, ``webhooks``)
take an explicit connection and can be used directly inside a caller's own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from orchestration.campaigns import (
    email_logs,
    overrides,
    planning,
    send_queue,
    shoots,
    webhooks,
)
from orchestration.campaigns.context import DispatchSettings, SendContext
from orchestration.campaigns.dispatch import ShootOutcome, dispatch_due_shoots, send_shoot
from orchestration.campaigns.entities import (
    NOT_SET,
    Audience,
    EmailLogMetrics,
    EmailLogPage,
    EmailPriority,
    EmailRecipient,
    EmailShoot,
    EmailShootState,
    MessageFrequency,
    Planning,
    SendStatus,
)
from orchestration.campaigns.errors import EmailingError, SendFailedError
from orchestration.campaigns.ratelimit import RateLimiter
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.registry import registry as default_registry
from orchestration.campaigns.send_requests import SendRequest, due_at, perform
from orchestration.campaigns.sending import (
    RecipientResult,
    dedupe_page,
    run_recipients,
)
from orchestration.campaigns.templates import EmailContent
from orchestration.senders.base import Sender
from orchestration.senders.outbox import OutboxSender
from orchestration.settings import DEFAULT_FROM, Settings, load_settings

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Emailing:
    """The emailing component: shoots, planning, sending and email logs (seed 004)."""

    database_url: str
    sender: Sender
    registry: Registry = field(default_factory=lambda: default_registry)
    settings: DispatchSettings = field(default_factory=DispatchSettings)
    default_from: str = DEFAULT_FROM
    drafts: Sender | None = None  # enqueue_as_draft target; default: $MAILTRAIL_HOME/drafts
    clock: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        if self.drafts is None:
            self.drafts = OutboxSender(load_settings().drafts_dir)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, registry: Registry | None = None
    ) -> Emailing:
        """The service as configured (``MAILTRAIL_*``): the same sender, limits and database
        as the Dagster ``emailing`` resource, from the same settings schema."""
        from orchestration.senders import SenderConfig, make_sender
        from orchestration.warehouse.connection import resolve_database_url

        settings = settings or load_settings()
        return cls(
            database_url=resolve_database_url(settings),
            sender=make_sender(SenderConfig.from_settings(settings)),
            registry=registry or default_registry,
            settings=DispatchSettings(
                concurrency=settings.send_concurrency, max_send_rate=settings.max_send_rate
            ),
            default_from=settings.sender_address,
            drafts=OutboxSender(settings.drafts_dir),
        )

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(
            self.database_url, autocommit=True, application_name="mailtrail"
        ) as conn:
            yield conn

    def context(self) -> SendContext:
        return SendContext(
            database_url=self.database_url,
            registry=self.registry,
            sender=self.sender,
            settings=self.settings,
            default_from=self.default_from,
            drafts=self.drafts,
            clock=self.clock,
        )

    def close(self) -> None:
        self.sender.close()

    # -- shoots -------------------------------------------------------------------------------

    def schedule_shoot(
        self,
        scheduled_at: datetime,
        audience: Audience,
        template: str,
        template_settings: dict[str, Any] | None = None,
        *,
        send_if_scheduled_in_past: bool = False,
        **options: Any,
    ) -> EmailShoot:
        """Persist a shoot (see ``shoots.schedule_shoot`` for options). The dispatch sensor sends
        it when due; ``send_if_scheduled_in_past`` sends a past-due one now, synchronously."""
        with self.connect() as conn:
            shoot = shoots.schedule_shoot(
                conn,
                self.registry,
                scheduled_at=scheduled_at,
                audience=audience,
                template=template,
                template_settings=template_settings,
                **options,
            )
        if send_if_scheduled_in_past and shoot.scheduled_at <= self.clock():
            outcome = self.send_shoot(shoot.shoot_id)
            return outcome.shoot or shoot
        return shoot

    def get_shoot(self, shoot_id: UUID | str) -> EmailShoot:
        with self.connect() as conn:
            return shoots.get_shoot(conn, shoot_id)

    def has_shoot(self, shoot_id: UUID | str) -> bool:
        with self.connect() as conn:
            return shoots.has_shoot(conn, shoot_id)

    def list_shoots(self, **filters: Any) -> list[EmailShoot]:
        with self.connect() as conn:
            return shoots.list_shoots(conn, **filters)

    def cancel_shoot(self, shoot_id: UUID | str) -> EmailShoot:
        with self.connect() as conn:
            return shoots.cancel_shoot(conn, shoot_id)

    def patch_shoot(self, shoot_id: UUID | str, **changes: Any) -> EmailShoot:
        with self.connect() as conn:
            return shoots.patch_shoot(conn, self.registry, shoot_id, **changes)

    def duplicate_shoot(
        self, shoot_id: UUID | str, scheduled_at: datetime | None = None
    ) -> EmailShoot:
        with self.connect() as conn:
            return shoots.duplicate_shoot(conn, shoot_id, scheduled_at=scheduled_at)

    def send_shoot(
        self, shoot_id: UUID | str, dry_run: bool = False, is_retry: bool = False
    ) -> ShootOutcome:
        return send_shoot(self.context(), shoot_id, dry_run=dry_run, is_retry=is_retry)

    def send_shoot_in_batches(self, shoot_id: UUID | str, batches: int) -> ShootOutcome:
        """Send one shoot now as ``batches`` disjoint batches in parallel threads (each
        recipient once; see ``campaigns.batches``, which Dagster runs as one step per batch)."""
        from orchestration.campaigns.batches import send_shoot_in_batches

        return send_shoot_in_batches(self.context(), shoot_id, batches)

    def batch_send_shoot(
        self,
        shoot_ids: list[UUID | str] | None = None,
        scheduled_before: datetime | None = None,
        scheduled_after: datetime | None = None,
        campaign_name: str | None = None,
        backfill_days: int | None = None,
        silent_failure: bool = True,
    ) -> list[ShootOutcome]:
        """Send every due shoot matching the criteria, one after the other (seed 004)."""
        if scheduled_after is not None and backfill_days is not None:
            raise ValueError("give scheduled_after or backfill_days, not both")
        before = scheduled_before or self.clock()
        if backfill_days is not None:
            midnight = before.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            scheduled_after = midnight - timedelta(days=backfill_days)
        return dispatch_due_shoots(
            self.context(),
            now=before,
            campaign_name=campaign_name,
            scheduled_after=scheduled_after,
            shoot_ids=shoot_ids,
            silent_failure=silent_failure,
        )

    # -- recurring campaigns ------------------------------------------------------------------

    def plan(
        self, start: datetime, end: datetime, campaign_name: str | None = None
    ) -> planning.PlanResult:
        """Persist every recurring campaign's shoots in ``[start, end)`` (idempotent)."""
        with self.connect() as conn:
            return planning.plan_shoots(
                conn, self.registry, start, end, campaign_name=campaign_name
            )

    def get_planning(
        self,
        campaign_name: str,
        before: datetime,
        after: datetime | None = None,
        config_id: str | None = None,
        states: list[EmailShootState] | None = None,
        limit: int | None = None,
    ) -> Planning:
        with self.connect() as conn:
            return planning.get_planning(
                conn, self.registry, campaign_name, before, after or self.clock(), config_id,
                states, limit,
            )  # fmt: skip

    def cancel_shoot_config(self, campaign_name: str, config_id: str) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.cancel_shoot_config(conn, campaign_name, config_id)

    def resume_shoot_config(self, campaign_name: str, config_id: str) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.resume_shoot_config(conn, campaign_name, config_id)

    def patch_shoot_config(
        self, campaign_name: str, config_id: str, scheduled_at: Any = NOT_SET, **changes: Any
    ) -> EmailShoot | None:
        with self.connect() as conn:
            return overrides.patch_shoot_config(
                conn, campaign_name, config_id, scheduled_at=scheduled_at, **changes
            )

    def schedule_pending_shoots(
        self,
        scheduled_before: datetime,
        scheduled_after: datetime | None = None,
        backfill_days: int | None = None,
        campaign_name: str | None = None,
        silent_failure: bool = True,
    ) -> list[EmailShoot]:
        with self.connect() as conn:
            return planning.schedule_pending_shoots(
                conn, self.registry, scheduled_before, scheduled_after, backfill_days,
                campaign_name, silent_failure,
            )  # fmt: skip

    def process_pending_shoots(
        self,
        on_date: datetime,
        backfill_days: int = 0,
        campaign_name: str | None = None,
        silent_failure: bool = True,
    ) -> list[ShootOutcome]:
        """Plan and send the recurring campaigns' shoots due at ``on_date``, back to the start
        of the local day ``backfill_days`` days before (seed 004). Older unsent occurrences
        are left alone: a digest three weeks late is worse than none."""
        self.schedule_pending_shoots(
            on_date, backfill_days=backfill_days, campaign_name=campaign_name,
            silent_failure=silent_failure,
        )  # fmt: skip
        start = planning.backfill_window_start(self.registry, on_date, backfill_days, campaign_name)
        names = (
            [campaign_name]
            if campaign_name
            else [c.campaign_name for c in self.registry.list_recurring_campaigns()]
        )
        return dispatch_due_shoots(
            self.context(),
            now=on_date,
            scheduled_after=start,
            campaign_names=names,
            silent_failure=silent_failure,
        )

    # -- single emails ------------------------------------------------------------------------

    def send_email(
        self,
        recipient: EmailRecipient,
        template_name: str,
        template_settings: dict[str, Any] | None = None,
        campaign_name: str | None = None,
        message_metadata: dict[str, Any] | None = None,
        message_frequency: MessageFrequency | None = None,
        account_ref: str | None = None,
        sender_email_address: str | None = None,
        enqueue_as_draft: bool = False,
        silent_failure: bool = False,
        dry_run: bool = False,
        transactional_message_id: str | None = None,
        async_send: bool = False,
        defer_send: bool | datetime | timedelta = False,
        log_params: dict[str, Any] | None = None,
        email_priority: EmailPriority = EmailPriority.low,
    ) -> UUID | None:
        """Send one email; returns its email_log_id (None for a dry run, a skip or a drop).

        ``dry_run``: render and check only - no provider call and no email log (seed 004).
        ``silent_failure``: a failure is logged (a ``failed`` email log) instead of raised.
        ``async_send`` / ``defer_send`` (``True``, a ``datetime`` or a ``timedelta``): the request
        is checked and committed to ``app.send_queue`` and the call returns its email_log_id at
        once; a drain sends it when due, ``email_priority`` high first (``send_queue``). A queued
        dry run is enqueued too (seed 004), and its drain writes nothing.
        ``transactional_message_id`` names the provider-side transactional message (tag and
        header); ``log_params`` are logged now and kept on the email log.
        """
        request = SendRequest(
            recipient, template_name, dict(template_settings or {}), campaign_name=campaign_name,
            message_metadata=dict(message_metadata or {}), message_frequency=message_frequency,
            account_ref=account_ref, sender_email_address=sender_email_address,
            enqueue_as_draft=enqueue_as_draft, dry_run=dry_run,
            transactional_message_id=transactional_message_id,
            email_priority=EmailPriority(email_priority), log_params=dict(log_params or {}),
        )  # fmt: skip
        if log_params:
            logger.info("send_email %s to %s: %s", template_name, recipient.email_address,
                        log_params)  # fmt: skip
        if async_send or defer_send is not False:
            return self._enqueue([request], defer_send, silent_failure=silent_failure)[0]
        result = self._send_one(request, silent_failure=silent_failure)
        if result.status == SendStatus.sent:
            return result.email_log_id
        return None

    def _enqueue(
        self,
        requests: list[SendRequest],
        defer_send: bool | datetime | timedelta,
        *,
        silent_failure: bool,
    ) -> list[UUID | None]:
        """Check the requests (template, settings) and commit them to the send queue."""
        not_before = due_at(defer_send, self.clock())
        try:
            with self.connect() as conn:
                return list(send_queue.enqueue(conn, requests, not_before, self.registry))
        except EmailingError as exc:
            if not silent_failure:
                raise
            logger.warning("queueing %s failed: %s", requests[0].template_name, exc)
            return [None] * len(requests)

    def _send_one(self, request: SendRequest, *, silent_failure: bool) -> RecipientResult:
        recipient = request.recipient
        try:
            with self.connect() as conn:
                limiter = RateLimiter(self.settings.max_send_rate)
                result = perform(self.context(), conn, request, limiter)
        except EmailingError as exc:
            if not silent_failure:
                raise
            logger.warning("send_email to %s failed: %s", recipient.email_address, exc)
            return RecipientResult(
                recipient.normalized_address, SendStatus.failed, error_message=str(exc)
            )
        if result.status == SendStatus.failed and not silent_failure:
            raise SendFailedError(
                f"sending {request.template_name!r} to {recipient.email_address} failed: "
                f"{result.error_type}: {result.error_message}"
            )
        return result

    def batch_send_email(
        self,
        recipients: Iterable[EmailRecipient],
        template_name: str,
        template_settings: dict[str, Any] | None = None,
        enqueue_as_draft: bool = False,
        message_frequency: MessageFrequency | None = None,
        campaign_name: str | None = None,
        dry_run: bool = False,
        message_metadata: dict[str, Any] | None = None,
        account_ref: str | None = None,
        sender_email_address: str | None = None,
        silent_failure: bool = True,
        transactional_message_id: str | None = None,
        defer_send: bool | datetime | timedelta = False,
        log_params: dict[str, Any] | None = None,
        email_priority: EmailPriority = EmailPriority.low,
    ) -> list[RecipientResult]:
        """Send one template to many recipients with the dispatch machinery (bounded
        concurrency, rate limit, suppression, frequency limits). Results are in input order
        (a repeated address yields one message). ``silent_failure`` False raises
        ``SendFailedError`` after the batch if any recipient failed.

        ``defer_send`` (``True``, a ``datetime`` or a ``timedelta``) queues every recipient in
        one transaction instead: each result is ``queued`` with the email_log_id its send will
        have (reason ``deferred``)."""
        base = SendRequest(
            EmailRecipient(None, ""), template_name, dict(template_settings or {}),
            campaign_name=campaign_name, message_metadata=dict(message_metadata or {}),
            message_frequency=message_frequency, account_ref=account_ref,
            sender_email_address=sender_email_address, enqueue_as_draft=enqueue_as_draft,
            dry_run=dry_run, transactional_message_id=transactional_message_id,
            email_priority=EmailPriority(email_priority), log_params=dict(log_params or {}),
        )  # fmt: skip
        ordered = list(recipients)
        if log_params:
            logger.info("batch_send_email %s: %s", template_name, log_params)
        if defer_send is not False:
            unique = dedupe_page(ordered)
            queued = [replace(base, recipient=r) for r in unique]
            # an unknown template or missing setting raises, as for an immediate batch
            ids = self._enqueue(queued, defer_send, silent_failure=False)
            by_id = {r.normalized_address: i for r, i in zip(unique, ids, strict=True)}
            return [
                RecipientResult(a, SendStatus.queued, by_id[a], reason="deferred")
                for a in (r.normalized_address for r in ordered)
            ]
        spec = base.spec(self.registry)
        by_address: dict[str, RecipientResult] = {}
        size = self.settings.page_size
        pages = (ordered[i : i + size] for i in range(0, len(ordered), size))
        with self.connect() as reader:
            run_recipients(
                self.context(), reader, spec, pages,
                on_result=lambda r: by_address.__setitem__(r.address, r),
            )  # fmt: skip
        results = [
            by_address.get(r.normalized_address, RecipientResult(r.normalized_address, None))
            for r in ordered
        ]
        failed = [r for r in results if r.status == SendStatus.failed]
        if failed and not silent_failure:
            raise SendFailedError(
                f"{len(failed)} of {len(results)} messages failed; first: {failed[0].address}: "
                f"{failed[0].error_type}: {failed[0].error_message}"
            )
        return results

    def drain_send_queue(
        self,
        priority: EmailPriority | None = None,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> send_queue.DrainResult:
        """Send the queued requests due (``async_send``, ``defer_send``), high priority first;
        what the ``drain_send_queue`` job runs."""
        return send_queue.drain_send_queue(self.context(), priority=priority, limit=limit, now=now)

    def preview_email(
        self,
        template_name: str,
        template_settings: dict[str, Any] | None = None,
        recipient: EmailRecipient | None = None,
    ) -> EmailContent:
        """Render a registered template for one (sample) recipient without sending anything."""
        template = self.registry.get_template(template_name)
        recipient = recipient or EmailRecipient(
            "preview", "preview@example.com", dict(template.preview_context)
        )
        settings = template.validate_settings(template_settings or {})
        return template.render(recipient, settings, email_log_id="preview", campaign_name="preview")

    # -- email logs and webhooks ---------------------------------------------------------------

    def paginate_email_logs(self, page: int, per_page: int = 500, **filters: Any) -> EmailLogPage:
        with self.connect() as conn:
            return email_logs.paginate_email_logs(conn, page, per_page, **filters)

    def get_email_log_metrics(self, **filters: Any) -> EmailLogMetrics:
        with self.connect() as conn:
            return email_logs.get_email_log_metrics(conn, **filters)

    def dispatch_webhooks(self, since: datetime | None = None) -> webhooks.WebhookResult:
        with self.connect() as conn:
            return webhooks.dispatch_webhooks(conn, since, registry=self.registry)
