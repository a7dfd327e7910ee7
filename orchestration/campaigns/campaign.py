"""Campaigns (seed 004): a named way to send a template to a segment, once or on a recurrence.

A ``RecurringCampaign`` produces ``EmailShootConfig``s for any window: by default from a cron
expression in an IANA time zone (see ``recurrence``), or from its own ``get_shoot_configs``. The
planner persists those configs into ``app.shoots``; the campaign object itself holds no state, so
the same definitions can be imported by every Dagster process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.campaigns.custom_blocks import CustomBlock
from orchestration.campaigns.entities import (
    Audience,
    EmailShootConfig,
    MessageFrequency,
)
from orchestration.campaigns.errors import EmailingError
from orchestration.campaigns.recurrence import Occurrence, cron_occurrences

if TYPE_CHECKING:
    from orchestration.campaigns.entities import EmailLog, EmailShoot


@dataclass(frozen=True)
class EmailHook:
    """Which events call one of a campaign's ``on_email_*`` methods (see ``Campaign``)."""

    method: str
    event_types: tuple[str, ...]  # canonical types (dbt_project/seeds/event_type_map.csv)
    from_ledger_only: bool = False  # only the send ledger's own events (provider 'mailtrail')


# Each is called once per email log, for its first event of these types: a message opened
# five times is "opened" once (every open reaches on_webhook_received).
EMAIL_HOOKS = (
    # the ledger's first event of a message: requested of the provider (not skipped/dropped)
    EmailHook("on_email_requested", ("queued",), from_ledger_only=True),
    EmailHook("on_email_sent", ("sent",)),  # the provider accepted it (ledger or provider)
    EmailHook("on_email_delivered", ("delivered",)),
    EmailHook("on_email_bounced", ("bounced",)),
    # dropped by our dispatch (suppressed, invalid address) or rejected by the provider
    EmailHook("on_email_dropped", ("rejected",)),
    EmailHook("on_email_opened", ("opened",)),
    EmailHook("on_email_clicked", ("clicked",)),
)


MESSAGE_ID_PLACEHOLDER = "{email_log_id}"


@dataclass(frozen=True)
class EmailSendingOptions:
    """How a campaign's messages are sent (seed 004); also per call of ``send_email``.

    ``send_to_unsubscribed``: also mail recipients who unsubscribed (transactional mail such as
    receipts or password resets); hard bounces and complaints are never mailed. False by
    default here (the seed's default is True): a campaign must say it may ignore an unsubscribe.
    ``tracked``: False turns open and click tracking off for these messages (SES: every link gets
    ``ses:no-track``; the simulator reports no opens or clicks).
    ``disable_message_retention``: keep no content in the ledger (subject, user context,
    template settings): the email log still says who was sent what template, when.
    ``message_id``: the ``Message-ID`` header (SMTP, outbox; SES assigns its own), formatted
    with ``{email_log_id}``; a message to several recipients needs the placeholder.
    ``sender_email_address`` overrides the default From; ``dry_run`` and ``queue_draft``
    (``enqueue_as_draft``) apply to the shoots a recurring campaign plans.
    """

    send_to_unsubscribed: bool = False
    tracked: bool = True
    disable_message_retention: bool = False
    queue_draft: bool = False
    message_id: str | None = None
    sender_email_address: str | None = None
    dry_run: bool = False

    @staticmethod
    def default_message_id(email_log_id: str, from_address: str) -> str:
        """A Message-ID derived from the email log: replies and bounces name the log."""
        domain = from_address.rsplit("@", 1)[-1].strip(" >") if "@" in from_address else ""
        return f"<{email_log_id}@{domain or 'mailtrail.invalid'}>"

    def message_id_for(self, email_log_id: str) -> str | None:
        if self.message_id is None:
            return None
        return self.message_id.replace(MESSAGE_ID_PLACEHOLDER, email_log_id)


def check_message_id(options: EmailSendingOptions, *, several_recipients: bool) -> None:
    """A fixed ``message_id`` would give several messages one Message-ID: refuse it."""
    if (
        several_recipients
        and options.message_id is not None
        and MESSAGE_ID_PLACEHOLDER not in options.message_id
    ):
        raise EmailingError(
            f"sending option message_id {options.message_id!r} must contain "
            f"{MESSAGE_ID_PLACEHOLDER} to be used for several recipients"
        )


@dataclass
class Campaign:
    """A way to send email: which template, to which segment, for which app (seed 004).

    The ``on_shoot_*`` hooks are called by dispatch (shoot lifecycle). The ``on_email_*`` hooks
    and ``on_webhook_received`` are called by the campaign webhooks run (``webhooks``) with the
    message's ``EmailLog``, from the events dbt built into ``marts.fct_email_events`` - at least
    once, like ``register_webhook`` handlers: make them idempotent and quick. One that raises is
    retried by the next runs (its attempts and last error are in ``app.webhook_deliveries``)
    and never stops the other hooks or events. Only overridden hooks are called.
    """

    campaign_name: str
    template_name: str
    segment_name: str
    app_name: str = "mailtrail"
    tags: list[str] = field(default_factory=list)
    sending_options: EmailSendingOptions = field(default_factory=EmailSendingOptions)
    is_recurring: bool = False

    def on_shoot_scheduled(self, shoot: EmailShoot) -> None:
        """Called after the planner persisted a shoot of this campaign."""

    def on_shoot_completed(self, shoot: EmailShoot) -> None:
        """Called when every recipient of a shoot was tried (not necessarily delivered)."""

    def on_shoot_skipped(self, shoot: EmailShoot) -> None:
        """Called when a shoot found an empty audience."""

    def on_email_requested(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """A message of this campaign was requested of the provider (its ledger row is
        ``queued``: not skipped nor dropped up front; it may still fail)."""

    def on_email_sent(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """The provider accepted the message (the ledger's ``sent``, or the provider's event)."""

    def on_email_delivered(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """The provider reported the message delivered to the recipient's mail server."""

    def on_email_bounced(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """The message bounced (hard or soft: ``email_log.state`` tells the outcome)."""

    def on_email_dropped(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """The message was never sent: our dispatch dropped it (suppressed, invalid address;
        the reason is on ``email_log``) or the provider rejected it."""

    def on_email_opened(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """The message was opened (its first open)."""

    def on_email_clicked(self, email_log: EmailLog, occurred_at: datetime) -> None:
        """A link of the message was clicked (its first click)."""

    def on_webhook_received(
        self, email_log: EmailLog, event_type: str, occurred_at: datetime
    ) -> None:
        """Every event a provider reported for a message of this campaign (canonical type),
        repeats included - what ``register_webhook`` handlers get."""


@dataclass
class RecurringCampaign(Campaign):
    """A campaign sent regularly: a recurrence, an audience and per-shoot settings (seed 004).

    Either set ``cron`` (+ ``timezone``) or override ``get_shoot_configs``. Override
    ``shoot_config_for`` to vary settings per occurrence (e.g. the week's headline).
    ``message_frequency`` None means no limit; ``frequency_per_occurrence`` (the default)
    limits each user to one message per occurrence of this campaign, which makes a duplicated or
    re-planned occurrence harmless.

    ``custom_blocks`` go to every occurrence; ``custom_blocks_variation_id`` is the variation
    they render unless ``shoot_config_for`` (or ``patch_shoot_config``) picks another, e.g. to
    alternate A and B between occurrences.
    """

    cron: str | None = None
    timezone: str = "UTC"
    enabled: bool = True
    is_recurring: bool = True
    audience_settings: dict[str, Any] = field(default_factory=dict)
    audience_limit: int | None = None
    template_settings: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    message_frequency: MessageFrequency | None = None
    frequency_per_occurrence: bool = True
    manual_send_only: bool = False
    custom_blocks: list[CustomBlock] = field(default_factory=list)
    custom_blocks_variation_id: str | None = None

    def get_shoot_configs(self, start: datetime, end: datetime) -> list[EmailShootConfig]:
        """Shoot configs with ``start <= scheduled_at < end`` (aware datetimes)."""
        if self.cron is None:
            raise NotImplementedError(
                f"recurring campaign {self.campaign_name!r} has no cron: set cron or override "
                "get_shoot_configs"
            )
        return [
            self.shoot_config_for(occ)
            for occ in cron_occurrences(self.cron, self.timezone, start, end)
        ]

    def shoot_config_for(self, occurrence: Occurrence) -> EmailShootConfig:
        """The config of one cron occurrence; override to customise per occurrence."""
        config_id = occurrence.config_id
        return EmailShootConfig(
            config_id=config_id,
            scheduled_at=occurrence.scheduled_at,
            audience=Audience(self.segment_name, dict(self.audience_settings), self.audience_limit),
            message_frequency=self.frequency_for(config_id),
            template_settings=dict(self.template_settings),
            metadata={**self.metadata, "local_time": occurrence.local.isoformat()},
            custom_blocks_variation_id=self.custom_blocks_variation_id,
            sender_email_address=self.sending_options.sender_email_address,
            manual_send_only=self.manual_send_only,
        )

    def frequency_for(self, config_id: str) -> MessageFrequency | None:
        if self.message_frequency is not None:
            return self.message_frequency
        if self.frequency_per_occurrence:
            return MessageFrequency.scoped_to_campaign(
                self.campaign_name, message_limit=1, config_id=config_id
            )
        return None
