"""A message's life (``message_life``) as Amazon SES reports it: each event as an SES record.

SES dates a Reject and a Rendering Failure at the send (``mail.timestamp``), reports delivery
delays (``DeliveryDelay``) before a soft bounce, and takes one-click unsubscribes through the
``List-Unsubscribe`` header as well as through the link: ``SES_REPORTING``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from orchestration.simulation.message_life import Event, Reporting
from orchestration.simulation.ses_records import (
    ses_bounce_record,
    ses_click_record,
    ses_complaint_record,
    ses_delivery_delay_record,
    ses_delivery_record,
    ses_open_record,
    ses_reject_record,
    ses_rendering_failure_record,
    ses_send_record,
    ses_subscription_record,
)

__all__ = ["SES_REPORTING", "ses_event_record"]

SES_REPORTING = Reporting()


def ses_event_record(
    event: Event,
    message_id: str,
    recipient: str,
    *,
    sent_at: datetime,
    topic: str = "newsletter",
    link_names: Mapping[str, str] | None = None,
    **mail_options: Any,
) -> dict[str, Any]:
    """The SES record of ``event``, of the message ``message_id`` sent at ``sent_at``.

    ``topic`` is the subscription topic an unsubscribe leaves; ``link_names`` the ``link_name``
    link tag of each tracked link (none when absent); ``mail_options`` go to ``ses_mail``
    (``tags``, ``sender``, ``subject``, ``configuration_set``).
    """
    builder, details = _details(event, topic, link_names or {})
    return builder(message_id, recipient, sent_at=sent_at, **mail_options, **details)


def _details(
    event: Event, topic: str, link_names: Mapping[str, str]
) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """The record builder for ``event``, and its arguments besides the message's."""
    kind, at = event.kind, event.at
    who = {"ip_address": event.ip_address, "user_agent": event.user_agent}
    if kind in ("open", "machine_open"):
        return ses_open_record, {"opened_at": at, **who}
    if kind in ("click", "scanner_click"):
        name = link_names.get(event.link)
        tags = {"link_name": name} if name else None
        return ses_click_record, {"clicked_at": at, "link": event.link, "link_tags": tags, **who}
    if kind in ("unsubscribe", "resubscribe"):
        opt_out = kind == "unsubscribe"
        source = "UnsubscribeHeader" if event.one_click else "UnsubscribeLink"
        details = {"changed_at": at, "opt_out": opt_out, "topic": topic, "source": source}
        if opt_out:
            details["unsubscribe_all"] = event.one_click
        return ses_subscription_record, details
    if kind in ("hard_bounce", "soft_bounce"):
        bounce_type = "Permanent" if kind == "hard_bounce" else "Transient"
        details = {"bounced_at": at, "bounce_type": bounce_type, "bounce_subtype": event.subtype}
        return ses_bounce_record, details
    if kind == "delay":
        return ses_delivery_delay_record, {"delayed_at": at, "delay_type": event.subtype}
    if kind == "rendering_failure":
        return ses_rendering_failure_record, {"template_name": event.template}
    simple: dict[str, tuple[Callable[..., dict[str, Any]], dict[str, Any]]] = {
        "send": (ses_send_record, {}),
        "reject": (ses_reject_record, {}),
        "delivery": (ses_delivery_record, {"delivered_at": at}),
        "complaint": (ses_complaint_record, {"complained_at": at}),
    }
    return simple[kind]
