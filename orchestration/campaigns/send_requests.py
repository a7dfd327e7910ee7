"""``SendRequest``: one ``send_email`` call as data - what the queue keeps and the drain replays.

A direct send is described once, whether it is performed now (``Emailing.send_email``) or later
by a drain of ``app.send_queue`` (``async_send``, ``defer_send``): both build its ``MessageSpec``
here, so a queued send is checked (template registered, required settings present) by the same
code when it is enqueued and again when it is performed (``perform``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.campaign import EmailSendingOptions, check_message_id
from orchestration.campaigns.context import MessageSpec, SendContext
from orchestration.campaigns.entities import (
    EmailPriority,
    EmailRecipient,
    MessageFrequency,
    RecipientType,
)
from orchestration.campaigns.ratelimit import RateLimiter
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.sending import RecipientResult, process_recipient
from orchestration.campaigns.suppression import suppression_reasons

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class SendRequest:
    """One message to one recipient through a registered template, with seed 004's options."""

    recipient: EmailRecipient
    template_name: str
    template_settings: dict[str, Any] = field(default_factory=dict)
    campaign_name: str | None = None
    message_metadata: dict[str, Any] = field(default_factory=dict)
    message_frequency: MessageFrequency | None = None
    account_ref: str | None = None
    sender_email_address: str | None = None
    enqueue_as_draft: bool = False
    dry_run: bool = False
    transactional_message_id: str | None = None
    email_priority: EmailPriority = EmailPriority.low
    log_params: dict[str, Any] = field(default_factory=dict)
    sending_options: EmailSendingOptions | None = None  # None: the campaign's (or the defaults)

    def options(self, registry: Registry) -> EmailSendingOptions:
        """The call's sending options, else its campaign's, else the defaults."""
        if self.sending_options is not None:
            return self.sending_options
        campaign = registry.campaigns.get(self.campaign_name) if self.campaign_name else None
        return campaign.sending_options if campaign else EmailSendingOptions()

    def spec(self, registry: Registry, *, several_recipients: bool = False) -> MessageSpec:
        """The message's spec; raises ``NotRegisteredError`` / ``TemplateSettingsMissingKeyError``
        for an unknown template or a missing required setting, and ``EmailingError`` for a fixed
        ``message_id`` used for ``several_recipients``."""
        template = registry.get_template(self.template_name)
        campaign = registry.campaigns.get(self.campaign_name) if self.campaign_name else None
        options = self.options(registry)
        check_message_id(options, several_recipients=several_recipients)
        return MessageSpec(
            template=template,
            template_settings=template.validate_settings(self.template_settings),
            campaign_name=self.campaign_name or self.template_name,
            app_name=campaign.app_name if campaign else None,
            message_frequency=self.message_frequency,
            from_address=self.sender_email_address or "",
            dry_run=self.dry_run,
            enqueue_as_draft=self.enqueue_as_draft,
            message_metadata=dict(self.message_metadata),
            account_ref=self.account_ref,
            persist=not self.dry_run,
            transactional_message_id=self.transactional_message_id,
            email_priority=self.email_priority,
            log_params=dict(self.log_params),
            options=options,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": {
                "user_ref": self.recipient.user_ref,
                "email_address": self.recipient.email_address,
                "user_context": self.recipient.user_context,
                "recipient_type": str(self.recipient.recipient_type),
            },
            "template_name": self.template_name,
            "template_settings": self.template_settings,
            "campaign_name": self.campaign_name,
            "message_metadata": self.message_metadata,
            "message_frequency": (
                self.message_frequency.to_json() if self.message_frequency else None
            ),
            "account_ref": self.account_ref,
            "sender_email_address": self.sender_email_address,
            "enqueue_as_draft": self.enqueue_as_draft,
            "dry_run": self.dry_run,
            "transactional_message_id": self.transactional_message_id,
            "email_priority": str(self.email_priority),
            "log_params": self.log_params,
            "sending_options": (
                asdict(self.sending_options) if self.sending_options is not None else None
            ),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SendRequest:
        recipient = value["recipient"]
        return cls(
            recipient=EmailRecipient(
                recipient.get("user_ref"),
                recipient["email_address"],
                dict(recipient.get("user_context") or {}),
                recipient.get("recipient_type") or RecipientType.member,
            ),
            template_name=value["template_name"],
            template_settings=dict(value.get("template_settings") or {}),
            campaign_name=value.get("campaign_name"),
            message_metadata=dict(value.get("message_metadata") or {}),
            message_frequency=MessageFrequency.from_json(value.get("message_frequency")),
            account_ref=value.get("account_ref"),
            sender_email_address=value.get("sender_email_address"),
            enqueue_as_draft=bool(value.get("enqueue_as_draft")),
            dry_run=bool(value.get("dry_run")),
            transactional_message_id=value.get("transactional_message_id"),
            email_priority=EmailPriority(value.get("email_priority") or EmailPriority.low),
            log_params=dict(value.get("log_params") or {}),
            sending_options=(
                EmailSendingOptions(**value["sending_options"])
                if value.get("sending_options")
                else None
            ),
        )


def perform(
    ctx: SendContext,
    conn: psycopg.Connection,
    request: SendRequest,
    limiter: RateLimiter,
    email_log_id: UUID | None = None,
) -> RecipientResult:
    """Check, render and send one request on ``conn`` (its ledger row committed first; see
    ``sending.process_recipient``), dropping it if the recipient is suppressed. Raises the
    ``EmailingError`` of an unknown template or a missing setting."""
    return send_one(ctx, conn, request.spec(ctx.registry), request.recipient, limiter, email_log_id)


def send_one(
    ctx: SendContext,
    conn: psycopg.Connection,
    spec: MessageSpec,
    recipient: EmailRecipient,
    limiter: RateLimiter,
    email_log_id: UUID | None = None,
) -> RecipientResult:
    """One recipient of a direct send (a request, or ``send_email_raw``'s ready message) through
    the suppression list - an unsubscribe counts unless ``send_to_unsubscribed`` - and
    ``process_recipient``."""
    address = recipient.normalized_address
    drop = suppression_reasons(
        conn, [address], send_to_unsubscribed=spec.options.send_to_unsubscribed
    ).get(address)
    return process_recipient(
        ctx, conn, spec, recipient, limiter, drop_reason=drop, email_log_id=email_log_id
    )


def due_at(defer_send: bool | datetime | timedelta, now: datetime) -> datetime:
    """When a queued send may be performed: ``now`` (``False``/``True``: as soon as a drain runs),
    a moment (``datetime``, timezone-aware) or a delay from ``now`` (``timedelta``)."""
    if isinstance(defer_send, datetime):
        if defer_send.tzinfo is None or defer_send.utcoffset() is None:
            raise ValueError(f"defer_send must be timezone-aware, got {defer_send.isoformat()}")
        return defer_send
    if isinstance(defer_send, timedelta):
        if defer_send < timedelta(0):
            raise ValueError(f"defer_send must not be negative, got {defer_send}")
        return now + defer_send
    return now
