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
from orchestration.campaigns.recurrence import Occurrence, cron_occurrences

if TYPE_CHECKING:
    from orchestration.campaigns.entities import EmailShoot


@dataclass(frozen=True)
class EmailSendingOptions:
    """Per-campaign sending options (seed 004); ``sender_email_address`` overrides the default."""

    sender_email_address: str | None = None
    dry_run: bool = False
    queue_draft: bool = False


@dataclass
class Campaign:
    """A way to send email: which template, to which segment, for which app (seed 004).

    The ``on_*`` hooks are called by dispatch (shoot lifecycle) and override nothing by default.
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
