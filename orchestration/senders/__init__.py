"""Senders: ses (boto3 sesv2), smtp, outbox (.eml files) and simulator (SES events, offline).

``make_sender`` builds one from a ``SenderConfig``; ``sender_config_from_env`` reads the
``MAILTRAIL_SENDER`` family of variables (the Dagster resource reads the same ones through
``dg.EnvVar``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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
from orchestration.settings import ConfigError

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
    "sender_config_from_env",
]

SENDER_KINDS = ("ses", "smtp", "outbox", "simulator")


@dataclass(frozen=True)
class SenderConfig:
    kind: str = "simulator"
    landing_url: str = ".mailtrail/landing"  # simulator output
    outbox_dir: str = ".mailtrail/outbox"
    ses_configuration_set: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    simulator_seed: int = 0


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

        return SesSender(configuration_set=config.ses_configuration_set)
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


def sender_config_from_env(environ: Mapping[str, str] | None = None) -> SenderConfig:
    env = os.environ if environ is None else environ
    home = Path(env.get("MAILTRAIL_HOME") or ".mailtrail")
    try:
        port = int(env.get("MAILTRAIL_SMTP_PORT") or 25)
        seed = int(env.get("MAILTRAIL_SIMULATOR_SEED") or 0)
    except ValueError as exc:
        raise ConfigError(f"MAILTRAIL_SMTP_PORT / MAILTRAIL_SIMULATOR_SEED: {exc}") from None
    return SenderConfig(
        kind=env.get("MAILTRAIL_SENDER") or "simulator",
        landing_url=env.get("MAILTRAIL_LANDING_URL") or str(home / "landing"),
        outbox_dir=env.get("MAILTRAIL_OUTBOX_DIR") or str(home / "outbox"),
        ses_configuration_set=env.get("MAILTRAIL_SES_CONFIGURATION_SET") or None,
        smtp_host=env.get("MAILTRAIL_SMTP_HOST") or "localhost",
        smtp_port=port,
        smtp_username=env.get("MAILTRAIL_SMTP_USERNAME") or None,
        smtp_password=env.get("MAILTRAIL_SMTP_PASSWORD") or None,
        smtp_starttls=(env.get("MAILTRAIL_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        simulator_seed=seed,
    )
