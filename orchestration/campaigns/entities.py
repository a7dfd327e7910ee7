"""The emailing domain's value objects, named as in seed 004 (EmailShoot, EmailLog, ...).

They are plain dataclasses with ``to_json``/``from_json`` for the jsonb columns of ``app.*``, so
the domain stays testable without a database and the rows stay readable in SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from orchestration.campaigns.custom_blocks import CustomBlock


class _NotSet(enum.Enum):
    """Sentinel for "leave this field alone" in patch functions (None is a valid new value)."""

    NOT_SET = "NOT_SET"

    def __repr__(self) -> str:
        return "NOT_SET"


NOT_SET = _NotSet.NOT_SET


class EmailShootState(enum.StrEnum):
    """States of a shoot (seed 004).

    pending: configured by a recurring campaign but not persisted yet (only in plannings);
    scheduled: persisted, waiting for its time; sending: a dispatch claimed it;
    completed: every recipient was tried (not necessarily delivered); cancelled; skipped: the
    audience was empty.
    """

    pending = "pending"
    scheduled = "scheduled"
    sending = "sending"
    completed = "completed"
    cancelled = "cancelled"
    skipped = "skipped"


class SendStatus(enum.StrEnum):
    """Status of a row of the send ledger ``app.email_sends``.

    queued: recorded, provider not answered yet (in flight, or a dry-run row that is never sent);
    unknown: was queued when a dispatch died - the provider may or may not have it, and it is
    never re-sent.
    """

    queued = "queued"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"
    dropped = "dropped"
    unknown = "unknown"


class EmailPriority(enum.StrEnum):
    """How urgent a send is (seed 004): ``high`` (a password reset) is not queued behind ``low``.

    An asynchronous or deferred ``high`` request is drained first, by runs of its own that the
    Dagster run queue dequeues before any other (``dagster/priority``); see docs/dispatch.md.
    """

    low = "low"
    high = "high"


class EmailLogState(enum.StrEnum):
    """Seed 004's exclusive email-log states (the ledger status refined by provider events)."""

    pending = "pending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    bounced = "bounced"
    dropped = "dropped"
    skipped = "skipped"


@dataclass(frozen=True)
class MessageFrequency:
    """How many messages a user may receive (seed 004).

    ``idempotency_key`` None: the limit counts every message the user received, whatever sent it;
    otherwise only the messages sent with that key. ``message_limit`` None: no limit (messages are
    still counted). Counts are per user (user_ref, or the address when there is none).
    """

    idempotency_key: str | None = None
    message_limit: int | None = None

    def __post_init__(self) -> None:
        if self.message_limit is not None and self.message_limit < 0:
            raise ValueError(f"message_limit must be >= 0, got {self.message_limit}")
        if self.idempotency_key is not None and not self.idempotency_key:
            raise ValueError("idempotency_key must be None or a non-empty string")

    @staticmethod
    def scoped_to_campaign(
        campaign_name: str, message_limit: int | None = 1, **idempotency_params: Any
    ) -> MessageFrequency:
        """A limit counted only among this campaign's messages (and the given params, e.g.
        ``config_id`` to allow one message per occurrence of a recurring campaign).

        Use this unless the limit must apply across campaigns.
        """
        parts = [f"campaign_name={campaign_name}"]
        parts += [f"{key}={idempotency_params[key]}" for key in sorted(idempotency_params)]
        return MessageFrequency(idempotency_key="|".join(parts), message_limit=message_limit)

    def to_json(self) -> dict[str, Any]:
        return {"idempotency_key": self.idempotency_key, "message_limit": self.message_limit}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> MessageFrequency | None:
        if not value:
            return None
        return cls(value.get("idempotency_key"), value.get("message_limit"))


class RecipientType(enum.StrEnum):
    """Who a recipient is to the sender (seed 004). ``member`` (an audience member) is the
    seed's default and the only value it names; any other label is kept as given."""

    member = "member"


@dataclass(frozen=True)
class EmailRecipient:
    """A member of an audience: who, where, and what the template may say about them."""

    user_ref: str | None
    email_address: str
    user_context: dict[str, Any] = field(default_factory=dict)
    recipient_type: str = RecipientType.member

    @property
    def normalized_address(self) -> str:
        return normalize_recipient(self.email_address)

    @property
    def account_ref(self) -> str | None:
        """The account the recipient belongs to (B2B): ``user_context["account_ref"]``, as seed
        004's segments put it (``user_context={"account_ref": model.account_ref}``). Written on
        the recipient's ledger row, it is what account filters and per-account stats read."""
        value = self.user_context.get("account_ref")
        return None if value is None or value == "" else str(value)

    @property
    def user_key(self) -> str:
        """Whom frequency limits count for: the user, or the address for anonymous recipients."""
        return self.user_ref if self.user_ref else f"email:{self.normalized_address}"


def normalize_recipient(address: str) -> str:
    """Lower-cased, trimmed address: the form the ledger, suppressions and raw events share."""
    return address.strip().lower()


def is_plausible_address(address: str) -> bool:
    """A cheap sanity check before a provider sees the address (not RFC 5322 validation)."""
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in address))


@dataclass(frozen=True)
class Audience:
    """Who receives a shoot: a registered segment, its settings and an optional size limit."""

    segment: str
    settings: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"segment": self.segment, "settings": self.settings, "limit": self.limit}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Audience:
        return cls(value["segment"], dict(value.get("settings") or {}), value.get("limit"))


@dataclass
class EmailShootConfig:
    """A shoot that a recurring campaign intends to send: a recipe, not persisted (seed 004)."""

    config_id: str
    scheduled_at: datetime
    audience: Audience
    message_frequency: MessageFrequency | None
    template_settings: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    state: EmailShootState = EmailShootState.pending
    custom_blocks_variation_id: str | None = None  # which content variation (A/B) it renders
    sender_email_address: str | None = None
    manual_send_only: bool = False


@dataclass
class EmailShoot:
    """A shoot: a template sent to an audience at a time (a row of ``app.shoots``)."""

    shoot_id: UUID | None
    campaign_name: str
    scheduled_at: datetime
    state: EmailShootState
    template_name: str
    audience: Audience
    template_settings: dict[str, Any] = field(default_factory=dict)
    message_frequency: MessageFrequency | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    config_id: str | None = None
    app_name: str = "mailtrail"
    sender_email_address: str | None = None
    manual_send_only: bool = False
    dry_run: bool = False
    enqueue_as_draft: bool = False
    duplicated_from: UUID | None = None
    custom_blocks: list[CustomBlock] = field(default_factory=list)
    custom_blocks_variation_id: str | None = None
    transactional_message_id: str | None = None
    recipient_count: int = 0
    sent_count: int = 0
    failed_count: int = 0
    skipped_count: int = 0
    dropped_count: int = 0
    unknown_count: int = 0
    pending_count: int = 0
    error_type: str | None = None
    error_message: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    updated_at: datetime | None = None
    is_persisted: bool = True

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EmailShoot:
        return cls(
            shoot_id=row["shoot_id"],
            campaign_name=row["campaign_name"],
            scheduled_at=row["scheduled_at"],
            state=EmailShootState(row["state"]),
            template_name=row["template_name"],
            audience=Audience.from_json(row["audience"]),
            template_settings=dict(row["template_settings"] or {}),
            message_frequency=MessageFrequency.from_json(row["message_frequency"]),
            metadata=dict(row["metadata"] or {}),
            tags=list(row["tags"] or []),
            config_id=row["config_id"],
            app_name=row["app_name"],
            sender_email_address=row["sender_email_address"],
            manual_send_only=row["manual_send_only"],
            dry_run=row["dry_run"],
            enqueue_as_draft=row["enqueue_as_draft"],
            duplicated_from=row["duplicated_from"],
            custom_blocks=[CustomBlock.from_json(b) for b in row["custom_blocks"] or []],
            custom_blocks_variation_id=row["custom_blocks_variation_id"],
            transactional_message_id=row.get("transactional_message_id"),
            recipient_count=row["recipient_count"],
            sent_count=row["sent_count"],
            failed_count=row["failed_count"],
            skipped_count=row["skipped_count"],
            dropped_count=row["dropped_count"],
            unknown_count=row["unknown_count"],
            pending_count=row["pending_count"],
            error_type=row["error_type"],
            error_message=row["error_message"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            completed_at=row["completed_at"],
            cancelled_at=row["cancelled_at"],
            updated_at=row["updated_at"],
        )

    def counts(self) -> dict[str, int]:
        return {
            "recipient_count": self.recipient_count,
            "sent_count": self.sent_count,
            "failed_count": self.failed_count,
            "skipped_count": self.skipped_count,
            "dropped_count": self.dropped_count,
            "unknown_count": self.unknown_count,
            "pending_count": self.pending_count,
        }


@dataclass
class Planning:
    """A recurring campaign's shoots over a window: persisted ones and configs still pending."""

    campaign_name: str
    shoots: list[EmailShoot]

    def get_shoots(
        self,
        states: list[EmailShootState] | None = None,
        is_persisted: bool | None = None,
    ) -> list[EmailShoot]:
        return [
            shoot
            for shoot in self.shoots
            if (states is None or shoot.state in states)
            and (is_persisted is None or shoot.is_persisted == is_persisted)
        ]


@dataclass
class EmailLog:
    """One message to one recipient as BI and webhooks see it (seed 004's EmailLog).

    The ledger row, refined by provider events when they are in the warehouse.
    """

    email_log_ref: UUID
    user_id: str | None
    email_address: str
    state: EmailLogState
    status: SendStatus
    template_name: str | None
    campaign_name: str | None
    shoot_id: UUID | None
    message_metadata: dict[str, Any]
    user_context: dict[str, Any]
    delivery_id: str | None  # the provider's message id
    provider: str | None
    reason: str | None
    success: bool
    is_dry_run: bool
    account_ref: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None = None
    bounced_at: datetime | None = None
    dropped_at: datetime | None = None
    opened: bool = False
    opened_at: datetime | None = None
    clicked: bool = False
    error_type: str | None = None
    error_message: str | None = None
    template_settings: dict[str, Any] | None = None
    recipient_type: str = RecipientType.member
    attachment_filenames: list[str] = field(default_factory=list)
    custom_blocks_variation_id: str | None = None
    transactional_message_id: str | None = None
    email_priority: EmailPriority = EmailPriority.low
    log_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailLogMetrics:
    """Counts of email logs by state, plus opens and clicks (seed 004)."""

    pending_count: int
    sent_count: int
    delivered_count: int
    failed_count: int
    bounced_count: int
    dropped_count: int
    skipped_count: int
    total_count: int
    opened_count: int
    clicked_count: int


@dataclass(frozen=True)
class EmailLogPage:
    """One page of ``paginate_email_logs`` (pages start at 1)."""

    items: list[EmailLog]
    page: int
    per_page: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total
