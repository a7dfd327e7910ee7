"""Single emails: seed 004's ``send_email``, ``send_email_raw`` and ``batch_send_email``, as a
part of ``Emailing``.

Kept apart from the service's shoots and planning because single sends carry most of the
failure handling: a send that fails before its recipient has a ledger row (unknown template,
missing setting) still leaves the ``failed`` email log ``silent_failure`` promises, and the
options a call or its campaign gives (``EmailSendingOptions``) apply to each message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import psycopg

from orchestration.campaigns.campaign import EmailSendingOptions, check_message_id
from orchestration.campaigns.context import DispatchSettings, MessageSpec, SendContext
from orchestration.campaigns.entities import EmailRecipient, MessageFrequency, SendStatus
from orchestration.campaigns.errors import EmailingError, SendFailedError
from orchestration.campaigns.ledger import FailedRequest, record_failed_requests
from orchestration.campaigns.ratelimit import RateLimiter
from orchestration.campaigns.raw_messages import raw_message_spec
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.sending import (
    RecipientResult,
    dedupe_page,
    process_recipient,
    run_recipients,
)
from orchestration.campaigns.suppression import suppression_reasons

logger = logging.getLogger(__name__)


class SingleEmails:
    """``send_email``, ``send_email_raw`` and ``batch_send_email`` for ``Emailing`` (which
    provides these)."""

    registry: Registry
    settings: DispatchSettings
    clock: Callable[[], datetime]
    connect: Callable[[], AbstractContextManager[psycopg.Connection]]
    context: Callable[[], SendContext]

    def _spec(
        self,
        template_name: str,
        template_settings: dict[str, Any] | None,
        *,
        campaign_name: str | None,
        message_frequency: MessageFrequency | None,
        message_metadata: dict[str, Any] | None,
        account_ref: str | None,
        sender_email_address: str | None,
        enqueue_as_draft: bool,
        dry_run: bool,
        sending_options: EmailSendingOptions | None = None,
        several_recipients: bool = False,
    ) -> MessageSpec:
        template = self.registry.get_template(template_name)
        campaign = self.registry.campaigns.get(campaign_name) if campaign_name else None
        if sending_options is None:
            sending_options = campaign.sending_options if campaign else EmailSendingOptions()
        check_message_id(sending_options, several_recipients=several_recipients)
        return MessageSpec(
            template=template,
            template_settings=template.validate_settings(template_settings or {}),
            campaign_name=campaign_name or template_name,
            app_name=campaign.app_name if campaign else None,
            message_frequency=message_frequency,
            from_address=sender_email_address or "",
            dry_run=dry_run,
            enqueue_as_draft=enqueue_as_draft,
            message_metadata=dict(message_metadata or {}),
            account_ref=account_ref,
            persist=not dry_run,
            options=sending_options,
        )

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
    ) -> UUID | None:
        """Send one email now; returns its email_log_id (None for a dry run, a skip or a drop).

        ``dry_run``: render and check only - no provider call and no email log (seed 004).
        ``silent_failure``: a failure is logged (a ``failed`` email log) instead of raised.
        ``sending_options``: default the campaign's (``EmailSendingOptions``).
        """
        result = self._send_one(
            recipient, template_name, template_settings, campaign_name=campaign_name,
            message_metadata=message_metadata, message_frequency=message_frequency,
            account_ref=account_ref, sender_email_address=sender_email_address,
            enqueue_as_draft=enqueue_as_draft, silent_failure=silent_failure, dry_run=dry_run,
            sending_options=sending_options,
        )  # fmt: skip
        if result.status == SendStatus.sent:
            return result.email_log_id
        return None

    def _send_one(
        self,
        recipient: EmailRecipient,
        template_name: str,
        template_settings: dict[str, Any] | None,
        *,
        silent_failure: bool,
        **options: Any,
    ) -> RecipientResult:
        try:
            spec = self._spec(template_name, template_settings, **options)
            result = self._process_one(spec, recipient)
        except EmailingError as exc:
            # Before the recipient had a ledger row: unknown template, missing setting.
            if not silent_failure:
                raise
            logger.warning("send_email to %s failed: %s", recipient.email_address, exc)
            return self._record_failed_request(
                [recipient], exc, template_name, template_settings, **options
            )[0]
        _raise_if_failed(result, repr(template_name), recipient, silent_failure=silent_failure)
        return result

    def _process_one(self, spec: MessageSpec, recipient: EmailRecipient) -> RecipientResult:
        """One recipient through the dispatch machinery: suppression, ledger, provider."""
        with self.connect() as conn:
            drop = suppression_reasons(
                conn, [recipient.normalized_address],
                send_to_unsubscribed=spec.options.send_to_unsubscribed,
            ).get(recipient.normalized_address)  # fmt: skip
            return process_recipient(
                self.context(), conn, spec, recipient, RateLimiter(self.settings.max_send_rate),
                drop_reason=drop,
            )  # fmt: skip

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
            result = self._process_one(spec, to)
        except EmailingError as exc:
            if not silent_failure:
                raise
            logger.warning("sending a raw message to %s failed: %s", to.email_address, exc)
            return None
        _raise_if_failed(result, "a raw message", to, silent_failure=silent_failure)
        return result.email_log_id if result.status == SendStatus.sent else None

    def _record_failed_request(
        self,
        recipients: list[EmailRecipient],
        exc: EmailingError,
        template_name: str,
        template_settings: dict[str, Any] | None,
        *,
        campaign_name: str | None = None,
        message_metadata: dict[str, Any] | None = None,
        account_ref: str | None = None,
        dry_run: bool = False,
        sending_options: EmailSendingOptions | None = None,
        **_: Any,
    ) -> list[RecipientResult]:
        """The ``failed`` email logs silent_failure promises, for sends that failed before
        their recipients had a ledger row (none for a dry run: it never writes a log)."""
        error_type, message = exc.code, str(exc)
        if dry_run:
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
        campaign = self.registry.campaigns.get(campaign_name) if campaign_name else None
        if sending_options is None:
            sending_options = campaign.sending_options if campaign else EmailSendingOptions()
        retain = not sending_options.disable_message_retention
        request = FailedRequest(
            template_name=template_name,
            campaign_name=campaign_name or template_name,
            error_type=error_type,
            error_message=message,
            app_name=campaign.app_name if campaign else None,
            account_ref=account_ref,
            message_metadata=dict(message_metadata or {}),
            template_settings=dict(template_settings or {}) if retain else {},
            retain_content=retain,
        )
        with self.connect() as conn:
            ids = record_failed_requests(conn, request, recipients, now=self.clock())
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
    ) -> list[RecipientResult]:
        """Send one template to many recipients with the dispatch machinery (bounded
        concurrency, rate limit, suppression, frequency limits). Results are in input order
        (a repeated address yields one message). ``silent_failure`` False raises
        ``SendFailedError`` after the batch if any recipient failed."""
        options: dict[str, Any] = dict(
            campaign_name=campaign_name, message_frequency=message_frequency,
            message_metadata=message_metadata, account_ref=account_ref,
            sender_email_address=sender_email_address, enqueue_as_draft=enqueue_as_draft,
            dry_run=dry_run, sending_options=sending_options,
        )  # fmt: skip
        ordered = list(recipients)
        by_address: dict[str, RecipientResult] = {}
        try:
            spec = self._spec(template_name, template_settings, several_recipients=True, **options)
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
            failed = self._record_failed_request(
                left, exc, template_name, template_settings, **options
            )
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
