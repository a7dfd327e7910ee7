"""Campaign orchestration: seed 004's emailing component on PostgreSQL (see README.md here).

Import the public API from this package::

    from orchestration.campaigns import (
        Emailing, RecurringCampaign, SqlSegment, Template, MessageFrequency, Audience,
        register_recurring, register_segment, register_template, register_webhook,
    )
"""

from __future__ import annotations

from orchestration.campaigns.campaign import Campaign, EmailSendingOptions, RecurringCampaign
from orchestration.campaigns.context import DispatchSettings
from orchestration.campaigns.custom_blocks import CustomBlock
from orchestration.campaigns.dispatch import ShootOutcome
from orchestration.campaigns.entities import (
    NOT_SET,
    Audience,
    EmailLog,
    EmailLogMetrics,
    EmailLogPage,
    EmailLogState,
    EmailPriority,
    EmailRecipient,
    EmailShoot,
    EmailShootConfig,
    EmailShootState,
    MessageFrequency,
    Planning,
    RecipientType,
    SendStatus,
)
from orchestration.campaigns.errors import (
    CustomBlocksError,
    EmailingError,
    InvalidMessageError,
    NotRegisteredError,
    SendFailedError,
    ShootNotFoundError,
    ShootStateError,
    SkippingEmailSendingException,
    TemplateRenderingError,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.planning import PlanResult
from orchestration.campaigns.registry import (
    Registry,
    register_non_recurring,
    register_recurring,
    register_segment,
    register_template,
    register_webhook,
    registry,
)
from orchestration.campaigns.segments import Segment, SqlSegment
from orchestration.campaigns.sending import RecipientResult
from orchestration.campaigns.service import Emailing
from orchestration.campaigns.templates import EmailContent, Template, TemplateSettings
from orchestration.senders.base import Attachment

__all__ = [
    "NOT_SET",
    "Attachment",
    "Audience",
    "Campaign",
    "CustomBlock",
    "CustomBlocksError",
    "DispatchSettings",
    "EmailContent",
    "EmailLog",
    "EmailLogMetrics",
    "EmailLogPage",
    "EmailLogState",
    "EmailPriority",
    "EmailRecipient",
    "EmailSendingOptions",
    "EmailShoot",
    "EmailShootConfig",
    "EmailShootState",
    "Emailing",
    "EmailingError",
    "InvalidMessageError",
    "MessageFrequency",
    "NotRegisteredError",
    "PlanResult",
    "Planning",
    "RecipientResult",
    "RecipientType",
    "RecurringCampaign",
    "Registry",
    "Segment",
    "SendFailedError",
    "SendStatus",
    "ShootNotFoundError",
    "ShootOutcome",
    "ShootStateError",
    "SkippingEmailSendingException",
    "SqlSegment",
    "Template",
    "TemplateRenderingError",
    "TemplateSettings",
    "TemplateSettingsMissingKeyError",
    "register_non_recurring",
    "register_recurring",
    "register_segment",
    "register_template",
    "register_webhook",
    "registry",
]
