"""A message's life (``message_life``) as Amazon Pinpoint reports it: each event as a Pinpoint
record.

Pinpoint dates every event by its arrival, a little after the send even for the send itself, a
reject or a rendering failure; it has no delivery-delay event (a soft bounce comes alone) and no
one-click unsubscribe header (unsubscribing is following the link): ``PINPOINT_REPORTING``.
"""

from __future__ import annotations

from typing import Any

from orchestration.simulation.message_life import Event, Reporting
from orchestration.simulation.pinpoint_records import (
    PinpointMessage,
    pinpoint_bounce_record,
    pinpoint_click_record,
    pinpoint_complaint_record,
    pinpoint_delivered_record,
    pinpoint_open_record,
    pinpoint_rejected_record,
    pinpoint_rendering_failure_record,
    pinpoint_send_record,
    pinpoint_unsubscribe_record,
)

__all__ = ["PINPOINT_REPORTING", "pinpoint_event_record"]

PINPOINT_REPORTING = Reporting(
    send_lag_ms=(200, 900),
    reject_lag_ms=(50, 400),
    render_failure_lag_ms=(20, 150),
    reports_delays=False,
    one_click_unsubscribe=False,
)


def pinpoint_event_record(
    event: Event, message: PinpointMessage, *, unsubscribe_link: str = ""
) -> dict[str, Any]:
    """The Pinpoint record of ``event``; an unsubscribe follows ``unsubscribe_link``."""
    kind, at = event.kind, event.at
    who = {"ip_address": event.ip_address, "user_agent": event.user_agent}
    if kind == "send":
        return pinpoint_send_record(message, arrived_at=at)
    if kind == "reject":
        return pinpoint_rejected_record(message, rejected_at=at)
    if kind == "rendering_failure":
        return pinpoint_rendering_failure_record(
            message, failed_at=at, template_name=event.template
        )
    if kind in ("hard_bounce", "soft_bounce"):
        bounce_type = "Permanent" if kind == "hard_bounce" else "Transient"
        return pinpoint_bounce_record(
            message, bounced_at=at, bounce_type=bounce_type, bounce_subtype=event.subtype
        )
    if kind == "delivery":
        return pinpoint_delivered_record(message, delivered_at=at)
    if kind in ("open", "machine_open"):
        return pinpoint_open_record(message, opened_at=at, **who)
    if kind in ("click", "scanner_click"):
        return pinpoint_click_record(message, clicked_at=at, link=event.link, **who)
    if kind == "unsubscribe":
        return pinpoint_unsubscribe_record(
            message, unsubscribed_at=at, link=unsubscribe_link, **who
        )
    if kind == "complaint":
        return pinpoint_complaint_record(message, complained_at=at)
    raise ValueError(f"Pinpoint reports no {kind} event")
