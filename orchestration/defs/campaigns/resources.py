"""The ``emailing`` resource: an ``Emailing`` service, with its sender as a nested resource.

Both are declared from the settings schema (``orchestration.settings``) by
:func:`orchestration.defs.resources.build_resources`, through the same ``SenderConfig.from_settings``
mapping the Python API uses, so the two cannot drift.
"""

from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from orchestration.campaigns.clock import ReplayClock
from orchestration.campaigns.context import DispatchSettings
from orchestration.campaigns.registry import registry
from orchestration.campaigns.service import Emailing
from orchestration.defs.resources import WarehouseResource, secret
from orchestration.senders import Sender, SenderConfig, make_sender
from orchestration.senders.outbox import OutboxSender
from orchestration.senders.simulator import SimulatorSender
from orchestration.settings import DEFAULT_FROM, Settings


class SenderResource(dg.ConfigurableResource):
    """Where sends go: ``ses``, ``smtp``, ``outbox`` or ``simulator`` (``MAILTRAIL_SENDER``)."""

    landing_url: str
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
    def from_settings(cls, settings: Settings) -> "SenderResource":
        values = asdict(SenderConfig.from_settings(settings))
        values["smtp_password"] = secret(settings, "smtp_password")
        return cls(**values)

    def config(self) -> SenderConfig:
        return SenderConfig(**{f.name: getattr(self, f.name) for f in fields(SenderConfig)})

    def make(self) -> Sender:
        return make_sender(self.config())


class EmailingResource(dg.ConfigurableResource):
    """Campaign orchestration: the warehouse, the sender and the dispatch limits."""

    warehouse: WarehouseResource
    sender: SenderResource
    sender_address: str = DEFAULT_FROM
    concurrency: int = 4
    max_send_rate: float | None = None  # messages per second per dispatch; None: unlimited
    drafts_dir: str

    @classmethod
    def from_settings(cls, settings: Settings, warehouse: WarehouseResource) -> "EmailingResource":
        return cls(
            warehouse=warehouse,
            sender=SenderResource.from_settings(settings),
            sender_address=settings.sender_address,
            concurrency=settings.send_concurrency,
            max_send_rate=settings.max_send_rate,
            drafts_dir=str(settings.drafts_dir),
        )

    def emailing(self, as_of: datetime | None = None) -> Emailing:
        """A service for one run; close it (``emailing.close()``) to flush the sender.

        ``as_of`` replays a dispatch at a past moment: the service's clock starts there, and a
        simulator writes no event later than the real present."""
        sender = self.sender.make()
        extra: dict[str, Any] = {}
        if as_of is not None:
            extra["clock"] = ReplayClock(as_of)
            if isinstance(sender, SimulatorSender):
                sender.not_after = datetime.now(UTC)
        return Emailing(
            database_url=self.warehouse.database_url,
            sender=sender,
            registry=registry,
            settings=DispatchSettings(
                concurrency=self.concurrency, max_send_rate=self.max_send_rate
            ),
            default_from=self.sender_address,
            drafts=OutboxSender(self.drafts_dir),
            **extra,
        )
