"""The ``emailing`` resource: an ``Emailing`` service configured from the environment.

Optional settings fall back to their defaults when their variable is unset (``dg.EnvVar`` has no
default of its own), so ``MAILTRAIL_SENDER`` unset means the simulator.
"""

import os
from typing import Any

import dagster as dg

from orchestration.campaigns.context import DispatchSettings
from orchestration.campaigns.registry import registry
from orchestration.campaigns.service import DEFAULT_FROM, Emailing
from orchestration.senders import SenderConfig, make_sender


class EmailingResource(dg.ConfigurableResource):
    """Campaign orchestration: the warehouse, the sender and the dispatch limits."""

    database_url: str
    landing_url: str
    sender: str = "simulator"  # ses, smtp, outbox or simulator (MAILTRAIL_SENDER)
    sender_address: str = DEFAULT_FROM
    outbox_dir: str | None = None
    ses_configuration_set: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    simulator_seed: int = 0
    concurrency: int = 4
    max_send_rate: float | None = None  # messages per second per dispatch; None: unlimited

    def sender_config(self) -> SenderConfig:
        home = os.environ.get("MAILTRAIL_HOME") or ".mailtrail"
        return SenderConfig(
            kind=self.sender,
            landing_url=self.landing_url,
            outbox_dir=self.outbox_dir or os.path.join(home, "outbox"),
            ses_configuration_set=self.ses_configuration_set,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_username=self.smtp_username,
            smtp_password=self.smtp_password,
            smtp_starttls=self.smtp_starttls,
            simulator_seed=self.simulator_seed,
        )

    def emailing(self) -> Emailing:
        """A service for one run; close it (``emailing.close()``) to flush the sender."""
        return Emailing(
            database_url=self.database_url,
            sender=make_sender(self.sender_config()),
            registry=registry,
            settings=DispatchSettings(
                concurrency=self.concurrency, max_send_rate=self.max_send_rate
            ),
            default_from=self.sender_address,
        )


def _env(name: str, default: Any, kind: str = "str") -> Any:
    """``dg.EnvVar(name)`` when the variable is set, else the default (EnvVar has none)."""
    if not os.environ.get(name):
        return default
    if kind == "int":
        return dg.EnvVar.int(name)
    return dg.EnvVar(name)


def emailing_resource() -> EmailingResource:
    return EmailingResource(
        database_url=dg.EnvVar("MAILTRAIL_DATABASE_URL"),
        landing_url=dg.EnvVar("MAILTRAIL_LANDING_URL"),
        sender=_env("MAILTRAIL_SENDER", "simulator"),
        sender_address=_env("MAILTRAIL_SENDER_ADDRESS", DEFAULT_FROM),
        outbox_dir=_env("MAILTRAIL_OUTBOX_DIR", None),
        ses_configuration_set=_env("MAILTRAIL_SES_CONFIGURATION_SET", None),
        smtp_host=_env("MAILTRAIL_SMTP_HOST", "localhost"),
        smtp_port=_env("MAILTRAIL_SMTP_PORT", 25, "int"),
        smtp_username=_env("MAILTRAIL_SMTP_USERNAME", None),
        smtp_password=_env("MAILTRAIL_SMTP_PASSWORD", None),
        simulator_seed=_env("MAILTRAIL_SIMULATOR_SEED", 0, "int"),
        concurrency=_env("MAILTRAIL_SEND_CONCURRENCY", 4, "int"),
    )
