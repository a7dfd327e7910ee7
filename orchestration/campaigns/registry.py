"""The registry of campaigns, segments, templates and webhook handlers (seed 004).

Campaign code registers itself at import time (``@register_template``, ``register_recurring``,
...) into the module-level ``registry``; every Dagster process imports the same modules and so
sees the same definitions. Tests build their own ``Registry`` to stay isolated. This is the only
global state of the emailing domain.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from orchestration.campaigns.campaign import EMAIL_HOOKS, Campaign, RecurringCampaign
from orchestration.campaigns.entities import EmailLog
from orchestration.campaigns.errors import NotRegisteredError
from orchestration.campaigns.segments import Segment
from orchestration.campaigns.templates import Template

# A webhook handler: (email_log, event_type, occurred_at) -> None.
WebhookHandler = Callable[[EmailLog, str, datetime], None]

T = TypeVar("T")


@dataclass(frozen=True)
class Webhook:
    handler: WebhookHandler
    event_types: frozenset[str] | None  # None: every event type
    name: str  # identity in app.webhook_deliveries: what was handed to whom survives restarts
    # Which events: "providers" (what providers reported), "ledger" (the send ledger's own),
    # "all"; and whether each email log is handed over once (its first matching event).
    sources: str = "providers"
    once_per_email_log: bool = False


def campaign_hooks(campaign: Campaign) -> list[Webhook]:
    """The ``on_email_*`` and ``on_webhook_received`` methods ``campaign`` overrides, as
    handlers of its events (named ``campaign:<method>`` in ``app.webhook_deliveries``)."""
    hooks = []
    for spec in EMAIL_HOOKS:
        if _overrides(campaign, spec.method):
            method = getattr(campaign, spec.method)
            hooks.append(
                Webhook(
                    lambda log, _kind, at, method=method: method(log, at),
                    frozenset(spec.event_types),
                    f"campaign:{spec.method}",
                    sources="ledger" if spec.from_ledger_only else "all",
                    once_per_email_log=True,
                )
            )
    if _overrides(campaign, "on_webhook_received"):
        hooks.append(Webhook(campaign.on_webhook_received, None, "campaign:on_webhook_received"))
    return hooks


def _overrides(campaign: Campaign, method: str) -> bool:
    return getattr(type(campaign), method) is not getattr(Campaign, method)


@dataclass
class Registry:
    """Named campaigns, segments, templates and per-campaign webhook handlers."""

    campaigns: dict[str, Campaign] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    webhooks: dict[str, list[Webhook]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- registration -------------------------------------------------------------------------

    def register_recurring(self, campaign: RecurringCampaign) -> RecurringCampaign:
        if not isinstance(campaign, RecurringCampaign):
            raise TypeError("register_recurring expects a RecurringCampaign")
        return self._register_campaign(campaign)

    def register_non_recurring(self, campaign: Campaign) -> Campaign:
        if isinstance(campaign, RecurringCampaign):
            raise TypeError("use register_recurring for a RecurringCampaign")
        return self._register_campaign(campaign)

    def _register_campaign(self, campaign: Any) -> Any:
        with self._lock:
            self.campaigns[campaign.campaign_name] = campaign
        return campaign

    def register_segment(self, segment: Segment | type[Segment]) -> Any:
        """Register a segment instance, or a Segment subclass (usable as a class decorator)."""
        instance = segment() if isinstance(segment, type) else segment
        if not instance.name:
            raise ValueError(f"segment {instance!r} has no name")
        with self._lock:
            self.segments[instance.name] = instance
        return segment

    def register_template(self, template: Template | type[Template]) -> Any:
        """Register a template instance, or a zero-argument Template subclass."""
        instance = template() if isinstance(template, type) else template
        with self._lock:
            self.templates[instance.name] = instance
        return template

    def register_webhook(
        self, campaign_name: str, event_types: list[str] | None = None, *, name: str | None = None
    ) -> Callable[[WebhookHandler], WebhookHandler]:
        """Decorator: call the handler with (email_log, event_type, occurred_at) for each event
        of ``campaign_name`` (canonical event types; all of them when ``event_types`` is None).

        ``name`` (default: the handler's ``module.qualname``) identifies the handler in the
        delivery ledger, so it must be unique per campaign and stable across deploys: renaming
        a handler hands it the lookback window's events again.
        """

        def decorate(handler: WebhookHandler) -> WebhookHandler:
            hook_name = name or f"{handler.__module__}.{handler.__qualname__}"
            with self._lock:
                hooks = self.webhooks[campaign_name]
                if any(hook.name == hook_name for hook in hooks):
                    raise ValueError(
                        f"a webhook named {hook_name!r} is already registered for campaign "
                        f"{campaign_name!r}: pass register_webhook(..., name=...) to tell them apart"
                    )
                hooks.append(
                    Webhook(handler, frozenset(event_types) if event_types else None, hook_name)
                )
            return handler

        return decorate

    def unregister_recurring(self, campaign_name: str) -> None:
        with self._lock:
            campaign = self.campaigns.get(campaign_name)
            if isinstance(campaign, RecurringCampaign):
                del self.campaigns[campaign_name]

    def unregister_all_campaigns(self) -> None:
        with self._lock:
            self.campaigns.clear()

    # -- lookup -------------------------------------------------------------------------------

    def get_campaign(self, name: str) -> Campaign:
        return _get(self.campaigns, "campaign", name)

    def get_recurring_campaign(self, name: str) -> RecurringCampaign:
        campaign = self.get_campaign(name)
        if not isinstance(campaign, RecurringCampaign):
            raise NotRegisteredError("recurring campaign", name, self._recurring_names())
        return campaign

    def get_non_recurring_campaign(self, name: str) -> Campaign:
        campaign = self.get_campaign(name)
        if isinstance(campaign, RecurringCampaign):
            raise NotRegisteredError("non-recurring campaign", name, [])
        return campaign

    def get_segment(self, name: str) -> Segment:
        return _get(self.segments, "segment", name)

    def get_template(self, name: str) -> Template:
        return _get(self.templates, "template", name)

    def has_campaign(self, name: str) -> bool:
        return name in self.campaigns

    def has_recurring_campaign(self, name: str) -> bool:
        return isinstance(self.campaigns.get(name), RecurringCampaign)

    def has_segment(self, name: str) -> bool:
        return name in self.segments

    def has_template(self, name: str) -> bool:
        return name in self.templates

    def list_campaigns(self) -> list[Campaign]:
        return list(self.campaigns.values())

    def list_recurring_campaigns(self) -> list[RecurringCampaign]:
        return [c for c in self.campaigns.values() if isinstance(c, RecurringCampaign)]

    def list_non_recurring_campaigns(self) -> list[Campaign]:
        return [c for c in self.campaigns.values() if not isinstance(c, RecurringCampaign)]

    def list_templates(self) -> list[Template]:
        return list(self.templates.values())

    def get_segments(self) -> list[Segment]:
        return list(self.segments.values())

    def get_webhooks(self, campaign_name: str) -> list[Webhook]:
        return list(self.webhooks.get(campaign_name, ()))

    def webhook_campaigns(self) -> list[str]:
        return sorted(name for name, hooks in self.webhooks.items() if hooks)

    def event_handlers(self, campaign_name: str) -> list[Webhook]:
        """What the webhooks run calls for the campaign's events: its ``register_webhook``
        handlers, then the campaign's own hooks."""
        campaign = self.campaigns.get(campaign_name)
        own = campaign_hooks(campaign) if campaign is not None else []
        return self.get_webhooks(campaign_name) + own

    def event_handler_campaigns(self) -> list[str]:
        """Campaigns with at least one event handler (webhook or hook)."""
        hooked = {name for name, c in self.campaigns.items() if campaign_hooks(c)}
        return sorted(hooked | set(self.webhook_campaigns()))

    def _recurring_names(self) -> list[str]:
        return [c.campaign_name for c in self.list_recurring_campaigns()]


def _get(table: dict[str, T], kind: str, name: str) -> T:
    try:
        return table[name]
    except KeyError:
        raise NotRegisteredError(kind, name, list(table)) from None


registry = Registry()

register_recurring = registry.register_recurring
register_non_recurring = registry.register_non_recurring
register_segment = registry.register_segment
register_template = registry.register_template
register_webhook = registry.register_webhook
