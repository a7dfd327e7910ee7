"""Single emails: seed 004's ``send_email``, ``send_email_raw`` and ``batch_send_email``, as a
part of ``Emailing``.

Kept apart from the service's shoots and planning because single sends carry most of the
failure handling: a send that fails before its recipient has a ledger row (unknown template,
missing setting) still leaves the ``failed`` email log ``silent_failure`` promises, and the
options a call or its campaign gives (``EmailSendingOptions``) apply to each message. A send is
described once, as a ``SendRequest``, whether it is performed now or queued (``async_send``,
``defer_send``) for a drain of ``app.send_queue``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns import send_queue
from orchestration.campaigns.campaign import EmailSendingOptions
from orchestration.campaigns.context import DispatchSettings, SendContext
from orchestration.campaigns.entities import (
    EmailPriority,
    EmailRecipient,
    MessageFrequency,
    SendStatus,
)
from orchestration.campaigns.errors import EmailingError, SendFailedError
from orchestration.campaigns.ledger import FailedRequest, record_failed_requests
from orchestration.campaigns.ratelimit import RateLimiter
from orchestration.campaigns.raw_messages import raw_message_spec
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.send_requests import SendRequest, due_at, perform, send_one
from orchestration.campaigns.sending import RecipientResult, dedupe_page, run_recipients

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


class SingleEmails:
    """``send_email``, ``send_email_raw`` and ``batch_send_email`` for ``Emailing`` (which
    provides these)."""

    registry: Registry
    settings: DispatchSettings
    clock: Callable[[], datetime]
    connect: Callable[[], AbstractContextManager[psycopg.Connection]]
    context: Callable[[], SendContext]

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
        sending_options: EmailSendingOptions | None = None,
        transactional_message_id: str | None = None,
        async_send: bool = False,
        defer_send: bool | datetime | timedelta = False,
        log_params: dict[str, Any] | None = None,
        email_priority: EmailPriority = EmailPriority.low,
    ) -> UUID | None:
        """Send one email; returns its email_log_id (None for a dry run, a skip or a drop).

        ``dry_run``: render and check only - no provider call and no email log (seed 004).
        ``silent_failure``: a failure is logged (a ``failed`` email log) instead of raised.
        ``sending_options``: default the campaign's (``EmailSendingOptions``).
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
            sending_options=sending_options,
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
        """Check the requests (template, settings) and commit them to the send queue. A
        request refused here (unknown template, missing setting) never reaches the queue:
        silently, it gets the ``failed`` email log an immediate send would have."""
        not_before = due_at(defer_send, self.clock())
        try:
            with self.connect() as conn:
                return list(send_queue.enqueue(conn, requests, not_before, self.registry))
        except EmailingError as exc:
            if not silent_failure:
                raise
            logger.warning("queueing %s failed: %s", requests[0].template_name, exc)
            for request in requests:
                self._record_failed_request([request.recipient], exc, request)
            return [None] * len(requests)

    def _send_one(self, request: SendRequest, *, silent_failure: bool) -> RecipientResult:
        recipient = request.recipient
        try:
            with self.connect() as conn:
                limiter = RateLimiter(self.settings.max_send_rate)
                result = perform(self.context(), conn, request, limiter)
        except EmailingError as exc:
            # Before the recipient had a ledger row: unknown template, missing setting.
            if not silent_failure:
                raise
            logger.warning("send_email to %s failed: %s", recipient.email_address, exc)
            return self._record_failed_request([recipient], exc, request)[0]
        _raise_if_failed(
            result, repr(request.template_name), recipient, silent_failure=silent_failure
        )
        return result

    def _record_failed_request(
        self, recipients: list[EmailRecipient], exc: EmailingError, request: SendRequest
    ) -> list[RecipientResult]:
        """The ``failed`` email logs silent_failure promises, for sends that failed before
        their recipients had a ledger row (none for a dry run: it never writes a log)."""
        error_type, message = exc.code, str(exc)
        if request.dry_run:
            return [
                RecipientResult(
                    r.normalized_address,
                    SendStatus.failed,
                    None,
                    error_type,
                    error_type=error_type,
                    error_message=message,
                )
                for r in recipients
            ]
        campaign_name = request.campaign_name
        campaign = self.registry.campaigns.get(campaign_name) if campaign_name else None
        retain = not request.options(self.registry).disable_message_retention
        failed = FailedRequest(
            template_name=request.template_name,
            campaign_name=campaign_name or request.template_name,
            error_type=error_type,
            error_message=message,
            app_name=campaign.app_name if campaign else None,
            account_ref=request.account_ref,
            message_metadata=dict(request.message_metadata),
            template_settings=dict(request.template_settings) if retain else {},
            retain_content=retain,
            transactional_message_id=request.transactional_message_id,
            email_priority=str(request.email_priority),
            log_params=dict(request.log_params),
        )
        with self.connect() as conn:
            ids = record_failed_requests(conn, failed, recipients, now=self.clock())
        return [
            RecipientResult(
                r.normalized_address,
                SendStatus.failed,
                email_log_id,
                error_type,
                error_type=error_type,
                error_message=message,
            )
            for r, email_log_id in zip(recipients, ids, strict=True)
        ]

    def send_email_raw(
        self,
        message: EmailMessage | bytes | str,
        recipient: EmailRecipient | None = None,
        *,
        campaign_name: str | None = None,
        message_metadata: dict[str, Any] | None = None,
        message_frequency: MessageFrequency | None = None,
        account_ref: str | None = None,
        silent_failure: bool = False,
    ) -> UUID | None:
        """Send a ready MIME message as it is (seed 004); its email_log_id (None for a skip
        or a drop). ``recipient`` defaults to the message's one To address, the sender to its
        From; the ledger, suppressions and frequency limits apply as to any send (see
        ``raw_messages``). A sender that cannot carry it fails the send (``unsupported_content``).
        """
        spec, to = raw_message_spec(
            self.registry, message, recipient, campaign_name=campaign_name,
            message_metadata=message_metadata, message_frequency=message_frequency,
            account_ref=account_ref,
        )  # fmt: skip
        try:
            with self.connect() as conn:
                limiter = RateLimiter(self.settings.max_send_rate)
                result = send_one(self.context(), conn, spec, to, limiter)
        except EmailingError as exc:
            if not silent_failure:
                raise
            logger.warning("sending a raw message to %s failed: %s", to.email_address, exc)
            return None
        _raise_if_failed(result, "a raw message", to, silent_failure=silent_failure)
        return result.email_log_id if result.status == SendStatus.sent else None

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
        sending_options: EmailSendingOptions | None = None,
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
            sending_options=sending_options,
        )  # fmt: skip
        ordered = list(recipients)
        if log_params:
            logger.info("batch_send_email %s: %s", template_name, log_params)
        if defer_send is not False:
            unique = dedupe_page(ordered)
            queued = [replace(base, recipient=r) for r in unique]
            # an unknown template or missing setting raises, as for an immediate batch
            base.spec(self.registry, several_recipients=len(unique) > 1)
            ids = self._enqueue(queued, defer_send, silent_failure=False)
            by_id = {r.normalized_address: i for r, i in zip(unique, ids, strict=True)}
            return [
                RecipientResult(a, SendStatus.queued, by_id[a], reason="deferred")
                for a in (r.normalized_address for r in ordered)
            ]
        by_address: dict[str, RecipientResult] = {}
        try:
            spec = base.spec(self.registry, several_recipients=True)
            size = self.settings.page_size
            pages = (ordered[i : i + size] for i in range(0, len(ordered), size))
            with self.connect() as reader:
                run_recipients(
                    self.context(), reader, spec, pages,
                    on_result=lambda r: by_address.__setitem__(r.address, r),
                )  # fmt: skip
        except EmailingError as exc:
            # Before the (remaining) recipients had ledger rows: unknown template, a missing
            # setting. Silent: each of them gets the ``failed`` email log promised.
            if not silent_failure:
                raise
            logger.warning("batch_send_email of %r failed: %s", template_name, exc)
            left = [r for r in dedupe_page(ordered) if r.normalized_address not in by_address]
            failed = self._record_failed_request(left, exc, base)
            by_address.update((r.address, r) for r in failed)
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


def _raise_if_failed(
    result: RecipientResult, what: str, recipient: EmailRecipient, *, silent_failure: bool
) -> None:
    if result.status == SendStatus.failed and not silent_failure:
        raise SendFailedError(
            f"sending {what} to {recipient.email_address} failed: "
            f"{result.error_type}: {result.error_message}"
        )
