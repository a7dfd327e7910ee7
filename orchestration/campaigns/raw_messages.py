"""Ready MIME messages (seed 004's ``send_email_raw``): a message its author built, sent as it is.

Mailtrail adds only what joins the provider's events back to the ledger (the tracking headers,
and the Message-ID the sender records); subject, parts and attachments are the author's. The
message goes through the same ledger, suppression list and frequency limits as a template's,
and its attachments' names are recorded on the email log.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from orchestration.campaigns.context import MessageSpec
from orchestration.campaigns.entities import EmailRecipient, MessageFrequency
from orchestration.campaigns.errors import InvalidMessageError
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.templates import EmailContent, TemplateSettings
from orchestration.senders.base import Attachment, parse_mime


def raw_message_spec(
    registry: Registry,
    message: EmailMessage | bytes | str,
    recipient: EmailRecipient | None,
    *,
    campaign_name: str | None = None,
    message_metadata: dict[str, Any] | None = None,
    message_frequency: MessageFrequency | None = None,
    account_ref: str | None = None,
) -> tuple[MessageSpec, EmailRecipient]:
    """What ``send_email_raw`` sends, and to whom (see ``Emailing.send_email_raw``)."""
    data = raw_bytes(message)
    campaign = registry.campaigns.get(campaign_name) if campaign_name else None
    spec = MessageSpec(
        template=None,
        template_settings=TemplateSettings(),
        campaign_name=campaign_name,
        app_name=campaign.app_name if campaign else None,
        message_frequency=message_frequency,
        from_address=raw_sender(data),
        message_metadata=dict(message_metadata or {}),
        account_ref=account_ref,
        raw_message=data,
    )
    return spec, raw_recipient(data, recipient)


def raw_bytes(message: EmailMessage | bytes | str) -> bytes:
    """The message's bytes, checked to parse as MIME with a subject."""
    if isinstance(message, EmailMessage):
        data = message.as_bytes()
    elif isinstance(message, str):
        data = message.encode()
    elif isinstance(message, (bytes, bytearray)):
        data = bytes(message)
    else:
        raise InvalidMessageError(
            f"a raw message is an EmailMessage, bytes or str, got {type(message).__name__}"
        )
    mime = parse_mime(data)
    if mime.defects or not mime.keys():
        raise InvalidMessageError(f"the raw message is not a valid MIME message: {mime.defects}")
    if not str(mime["Subject"] or "").strip():
        raise InvalidMessageError("the raw message has no Subject header")
    return data


def raw_recipient(data: bytes, recipient: EmailRecipient | None) -> EmailRecipient:
    """Whom the message goes to: ``recipient``, else the one address of its To header."""
    if recipient is not None:
        return recipient
    addresses = [address for _, address in getaddresses(parse_mime(data).get_all("To", []))]
    if len(addresses) != 1 or not addresses[0]:
        raise InvalidMessageError(
            "send_email_raw needs one recipient: pass recipient= or put exactly one address in"
            f" the message's To header (it has {len(addresses)})"
        )
    return EmailRecipient(None, addresses[0])


def raw_sender(data: bytes) -> str:
    """The message's From header ('' when it has none: the default sender is used)."""
    return str(parse_mime(data)["From"] or "")


def raw_content(data: bytes) -> EmailContent:
    """The message as a rendered ``EmailContent`` (subject, bodies, attachments) that the
    senders send as its bytes (``raw``)."""
    mime = parse_mime(data)
    html_part = mime.get_body(("html",))
    text_part = mime.get_body(("plain",))
    attachments = tuple(
        Attachment(name, part.get_payload(decode=True) or b"", part.get_content_type())
        for part in mime.walk()
        if (name := part.get_filename())
    )
    return EmailContent(
        subject=" ".join(str(mime["Subject"] or "").split()),
        pre_header="",
        html=html_part.get_content() if html_part is not None else "",
        text=text_part.get_content() if text_part is not None else "",
        template_name=None,
        attachments=attachments,
        raw=data,
    )
