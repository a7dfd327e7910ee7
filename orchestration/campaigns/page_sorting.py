"""Step 1 of sending a page of a shoot (``page_sending``): sort its recipients and render their
messages. It reads (the ledger, the suppression lists) and writes nothing, so it can run for the
next page while the page before it is claimed, sent and recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from orchestration.campaigns.context import MessageSpec
from orchestration.campaigns.entities import EmailRecipient, SendStatus, is_plausible_address
from orchestration.campaigns.ledger import NewRow, recorded_recipients
from orchestration.campaigns.sending import Refusal, dedupe_page, render_or_refuse
from orchestration.campaigns.suppression import suppression_reasons
from orchestration.campaigns.templates import EmailContent

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class Ready:
    """A rendered recipient, with the ledger id its row will get."""

    recipient: EmailRecipient
    email_log_id: UUID
    content: EmailContent


@dataclass(frozen=True)
class SortedPage:
    """A page after step 1 (``sort_page``): its addresses, the recipients rendered
    and ready to claim, the rows that never go to the provider, and how many were in the ledger
    already."""

    addresses: frozenset[str]
    ready: list[Ready]
    settled: list[NewRow]
    already_recorded: int


def sort_page(
    conn: psycopg.Connection, spec: MessageSpec, page: list[EmailRecipient]
) -> SortedPage:
    """Step 1 for one page, read on ``conn``: who is in the ledger already, who is dropped,
    failed or skipped, and everyone else rendered. Writes nothing: ``send_pages`` runs it for
    the next page in a thread of its own while this page is claimed, sent and recorded."""
    page = dedupe_page(page)
    addresses = [r.normalized_address for r in page]
    already = recorded_recipients(conn, spec.shoot_id, addresses)
    suppressed = suppression_reasons(
        conn, addresses, send_to_unsubscribed=spec.options.send_to_unsubscribed
    )
    settled: list[NewRow] = []
    ready: list[Ready] = []
    for recipient in page:
        address = recipient.normalized_address
        if address in already:
            continue
        drop = suppressed.get(address)
        if drop is None and not is_plausible_address(address):
            drop = "invalid_address"
        if drop is not None:
            settled.append(NewRow(uuid.uuid4(), recipient, SendStatus.dropped, drop))
            continue
        rendered = render_recipient(spec, recipient)
        if isinstance(rendered, NewRow):
            settled.append(rendered)
        else:
            ready.append(rendered)
    return SortedPage(frozenset(addresses), ready, settled, len(already))


def render_recipient(spec: MessageSpec, recipient: EmailRecipient) -> Ready | NewRow:
    """The recipient's message, or their ``failed`` row if their data breaks the template,
    or their ``skipped`` row if campaign code skipped them."""
    email_log_id = uuid.uuid4()
    rendered = render_or_refuse(spec, recipient, email_log_id)
    if isinstance(rendered, Refusal):
        return NewRow(email_log_id, recipient, rendered.status, rendered.reason, **rendered.errors)
    return Ready(recipient, email_log_id, rendered)
