"""What every sender shares: the outgoing message, the result, the errors, the protocol.

Senders are called from several dispatch threads at once, so they must be thread-safe. They
classify failures so that dispatch can act on them without knowing the provider:

* ``RetryableSendError`` (and its ``ThrottledError``): the provider certainly did not take the
  message - retry after a back-off;
* ``PermanentSendError``: the provider refused it - record ``failed``, never retry;
* ``SendOutcomeUnknownError``: the request may have reached the provider (a timeout after
  sending) - record ``unknown``, never retry (at most once beats at least once for email).

Any other exception out of ``send`` is treated as ``SendOutcomeUnknownError``: a sender that does
not say the provider refused the message cannot be trusted to know it did not take it. A sender
must therefore not let its SDK retry on its own (``senders.ses`` turns botocore's retries off):
only the dispatch retries, and only ``RetryableSendError``.

Every message carries ``campaign``, ``shoot_id`` and ``email_log_id`` as provider tags where the
provider has them and as ``X-Email-Log-Id``/``X-Campaign``/``X-Shoot-Id`` headers everywhere, so
provider events join back to the ledger; a send naming a provider-side transactional message
adds ``transactional_message_id`` (tag) and ``X-Transactional-Message-Id`` (header).

A message may carry attachments, or be a ready MIME message of the caller's (``raw``). Only a
sender that puts whole MIME messages on the wire can carry those: it says so with
``carries_mime = True`` (ses, smtp, outbox and the simulator, which stands for SES). Any other
sender refuses such a message with ``UnsupportedContentError`` (one line naming the sender),
before anything is sent (``check_can_carry``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from typing import Protocol, runtime_checkable

LOG_ID_HEADER = "X-Email-Log-Id"
CAMPAIGN_HEADER = "X-Campaign"
SHOOT_HEADER = "X-Shoot-Id"
TRANSACTIONAL_HEADER = "X-Transactional-Message-Id"


class SenderError(Exception):
    """A send that did not succeed; ``error_type`` is what the ledger records."""

    error_type = "send_error"


class RetryableSendError(SenderError):
    """The provider did not take the message and asks to try again later."""

    error_type = "retryable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThrottledError(RetryableSendError):
    """Rate or quota exceeded: back off (every worker) and retry."""

    error_type = "throttled"


class PermanentSendError(SenderError):
    """The provider refused the message (invalid address, unverified sender, rejected content)."""

    error_type = "rejected"

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        if error_type:
            self.error_type = error_type


class UnsupportedContentError(PermanentSendError):
    """The sender cannot carry this message (attachments or a raw MIME message)."""

    error_type = "unsupported_content"


class SendOutcomeUnknownError(SenderError):
    """The request may have been accepted: never retry, record the outcome as unknown."""

    error_type = "outcome_unknown"


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message: its name, its bytes and its MIME type."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered message to one recipient, with the ids that join its events to the ledger."""

    email_log_id: str
    from_address: str
    to_address: str
    subject: str
    html: str
    text: str
    pre_header: str = ""
    campaign_name: str | None = None
    app_name: str | None = None
    shoot_id: str | None = None
    template_name: str | None = None
    # The provider-side transactional message (template, stream) the caller named, if any.
    transactional_message_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    tracked: bool = True  # False: no open or click tracking (EmailSendingOptions.tracked)
    message_id: str | None = None  # the Message-ID header to send, if the caller chose one
    attachments: tuple[Attachment, ...] = ()
    raw: bytes | None = None  # a ready MIME message: sent as it is, with our tracking headers

    @property
    def needs_mime(self) -> bool:
        """Whether only a sender that carries whole MIME messages can send this one."""
        return bool(self.attachments) or self.raw is not None

    def tags(self) -> dict[str, str]:
        """Provider message tags (SES EmailTags), without empty values."""
        values = {
            "campaign": self.campaign_name,
            "app": self.app_name,
            "shoot_id": self.shoot_id,
            "email_log_id": self.email_log_id,
            "transactional_message_id": self.transactional_message_id,
        }
        return {name: value for name, value in values.items() if value}

    def tracking_headers(self) -> dict[str, str]:
        values = {
            LOG_ID_HEADER: self.email_log_id,
            CAMPAIGN_HEADER: self.campaign_name,
            SHOOT_HEADER: self.shoot_id,
            TRANSACTIONAL_HEADER: self.transactional_message_id,
        }
        return {name: value for name, value in values.items() if value}

    def to_mime(self, message_id: str | None = None) -> EmailMessage:
        """The message as RFC 5322 MIME: text and HTML alternatives, the attachments, plus
        tracking headers; a ``raw`` message as its author built it, with the tracking headers
        (and ``message_id``) set on it."""
        if self.raw is not None:
            return self._raw_mime(message_id)
        mime = EmailMessage()
        mime["From"] = self.from_address
        mime["To"] = self.to_address
        mime["Subject"] = self.subject
        mime["Date"] = format_datetime(self.requested_at.astimezone(UTC))
        mime["Message-ID"] = (
            message_id or self.message_id or make_msgid(domain=_domain(self.from_address))
        )
        for name, value in {**self.tracking_headers(), **self.headers}.items():
            mime[name] = value
        mime.set_content(self.text)
        mime.add_alternative(self.html, subtype="html")
        for attachment in self.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            mime.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return mime

    def _raw_mime(self, message_id: str | None) -> EmailMessage:
        assert self.raw is not None
        mime = parse_mime(self.raw)
        for name, value in {**self.tracking_headers(), **self.headers}.items():
            del mime[name]  # ours, not a copy the author left in
            mime[name] = value
        if message_id is not None or mime["Message-ID"] is None:
            del mime["Message-ID"]
            mime["Message-ID"] = message_id or make_msgid(domain=_domain(self.from_address))
        if mime["Date"] is None:
            mime["Date"] = format_datetime(self.requested_at.astimezone(UTC))
        if mime["From"] is None:  # the default sender, as the provider is told
            mime["From"] = self.from_address
        if mime["To"] is None:
            mime["To"] = self.to_address
        return mime


def parse_mime(raw: bytes) -> EmailMessage:
    """A MIME message from its bytes (the modern ``EmailMessage`` API)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def check_can_carry(sender: Sender, message: OutgoingEmail) -> None:
    """Refuse, before sending, a message the sender cannot carry (see the module docstring)."""
    if message.needs_mime and not getattr(sender, "carries_mime", False):
        what = "a raw MIME message" if message.raw is not None else "attachments"
        raise UnsupportedContentError(
            f"sender {sender.name!r} cannot carry {what}; use one that sends whole MIME"
            " messages (MAILTRAIL_SENDER=ses, smtp or outbox)"
        )


@dataclass(frozen=True)
class SendResult:
    """The provider's id for the accepted message (SES messageId, SMTP Message-ID, ...)."""

    message_id: str
    provider: str


@runtime_checkable
class Sender(Protocol):
    """A thread-safe way to hand one message to a provider."""

    name: str

    def send(self, message: OutgoingEmail) -> SendResult: ...

    def close(self) -> None: ...


def _domain(address: str) -> str:
    match = re.search(r"@([^>\s]+)", address)
    return match.group(1) if match else "mailtrail.invalid"
