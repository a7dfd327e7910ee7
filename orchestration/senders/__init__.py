"""Senders: ses (boto3 sesv2), smtp, outbox (.eml files) and simulator (SES events, offline).

``make_sender`` builds one from a ``SenderConfig``; ``SenderConfig.from_settings`` is the one
mapping from the settings schema to a sender, used by the Dagster ``sender`` resource and the
Python API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    Sender,
    SenderError,
    SendOutcomeUnknownError,
    SendResult,
    ThrottledError,
)
from orchestration.settings import SENDER_KINDS, ConfigError, Settings

__all__ = [
    "SENDER_KINDS",
    "OutgoingEmail",
    "PermanentSendError",
    "RetryableSendError",
    "SendOutcomeUnknownError",
    "SendResult",
    "Sender",
    "SenderConfig",
    "SenderError",
    "ThrottledError",
    "check_sender_kind",
    "make_sender",
]


@dataclass(frozen=True)
class SenderConfig:
    landing_url: str  # simulator output
    outbox_dir: str
    kind: str = "simulator"
    ses_configuration_set: str | None = None
    aws_endpoint_url: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    simulator_seed: int = 7

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderConfig:
        return cls(
            kind=settings.sender,
            landing_url=settings.landing,
            outbox_dir=str(settings.outbox),
            ses_configuration_set=settings.ses_configuration_set,
            aws_endpoint_url=settings.aws_endpoint_url,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_username=settings.smtp_username,
            smtp_password=settings.smtp_password,
            smtp_starttls=settings.smtp_starttls,
            simulator_seed=settings.simulator_seed,
        )


def check_sender_kind(kind: str) -> str:
    """The sender kind, normalised; a clear ``ConfigError`` naming the variable otherwise."""
    normalised = kind.strip().lower()
    if normalised not in SENDER_KINDS:
        raise ConfigError(
            f"MAILTRAIL_SENDER must be one of {', '.join(SENDER_KINDS)}, got {kind!r}"
        )
    return normalised


def make_sender(config: SenderConfig) -> Sender:
    kind = check_sender_kind(config.kind)
    if kind == "simulator":
        from orchestration.senders.simulator import SimulatorSender

        return SimulatorSender(landing=config.landing_url, seed=config.simulator_seed)
    if kind == "ses":
        from orchestration.senders.ses import SesSender

        return SesSender(
            configuration_set=config.ses_configuration_set, endpoint_url=config.aws_endpoint_url
        )
    if kind == "smtp":
        from orchestration.senders.smtp import SmtpSender

        return SmtpSender(
            host=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=config.smtp_password,
            starttls=config.smtp_starttls,
        )
    if kind == "outbox":
        from orchestration.senders.outbox import OutboxSender

        return OutboxSender(Path(config.outbox_dir))
    raise AssertionError(kind)  # check_sender_kind admits only the kinds above
