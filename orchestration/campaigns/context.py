"""What a send needs: how hard to push the provider (``DispatchSettings``), the service's
dependencies (``SendContext``, built by ``Emailing``) and what every recipient of one shoot or one
``batch_send_email`` call shares (``MessageSpec``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from orchestration.campaigns.campaign import EmailSendingOptions
from orchestration.campaigns.entities import EmailPriority, MessageFrequency
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.templates import Template, TemplateSettings
from orchestration.senders.base import Sender


@dataclass(frozen=True)
class DispatchSettings:
    """How hard dispatch pushes the provider."""

    concurrency: int = 4  # provider calls in flight
    max_send_rate: float | None = None  # messages per second across workers; None: unlimited
    page_size: int = 2000  # audience keyset page; a shoot's ledger is claimed in chunks of it
    max_retries: int = 6  # per message, on throttling/retryable errors
    backoff_initial: float = 0.5  # seconds, doubled per retry
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_send_rate is not None and self.max_send_rate <= 0:
            raise ValueError("max_send_rate must be positive (or None for no limit)")


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
    """What every recipient of one shoot (or one batch_send_email call) shares.

    ``template`` is None only for a ready MIME message (``raw_message``, send_email_raw), which
    is sent as it is. ``blocks`` are the custom blocks chosen for ``custom_blocks_variation_id``
    (name -> source, see ``custom_blocks``); None renders the template's default blocks.
    """

    template: Template | None
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
    options: EmailSendingOptions = field(default_factory=EmailSendingOptions)
    blocks: dict[str, str] | None = None  # None: the template's default blocks
    custom_blocks_variation_id: str | None = None
    raw_message: bytes | None = None
    transactional_message_id: str | None = None  # the provider's transactional message/stream
    email_priority: EmailPriority = EmailPriority.low
    log_params: dict[str, Any] = field(default_factory=dict)  # kept on the ledger row

    @property
    def retains_content(self) -> bool:
        return not self.options.disable_message_retention

    @property
    def template_name(self) -> str | None:
        return self.template.name if self.template is not None else None
