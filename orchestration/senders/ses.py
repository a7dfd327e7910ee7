"""Amazon SES (API v2) sender.

Messages go out as raw MIME through ``sesv2.send_email`` so that our own headers
(``X-Email-Log-Id`` ...) travel with them, with ``EmailTags`` campaign/app/shoot_id/email_log_id
and the configuration set whose event destination (Firehose -> ``<landing>/ses/``) feeds the
analytics side: those tags come back in every event and join it to the ledger.

boto3 clients are thread-safe, so one client serves every dispatch worker. The endpoint comes
from the settings (``AWS_ENDPOINT_URL``), which is how tests point it at moto_server.

At most once: the client makes exactly one attempt per ``send_email`` (no SDK retries, whatever
``AWS_MAX_ATTEMPTS``/``AWS_RETRY_MODE`` say), and every failure is classified by whether SES
certainly did not take the message (retryable), refused it (permanent), or may have it
(``SendOutcomeUnknownError``: recorded ``unknown``, never sent again).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    SendOutcomeUnknownError,
    SendResult,
    ThrottledError,
)

# Error codes meaning "slow down": SES refused the request before taking the message - retry
# with back-off (every worker pauses).
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)
# Codes meaning "not taken, try again": the service turned the request away unprocessed.
UNAVAILABLE_CODES = frozenset({"ServiceUnavailable", "ServiceUnavailableException"})
# HTTP statuses with the same meanings when the error code is not one of the above.
THROTTLING_STATUS = 429
UNAVAILABLE_STATUS = 503

# One attempt per call: the SDK must never resend ``SendEmail`` on its own. botocore's standard and
# legacy modes retry connection errors *after* the request was sent (ConnectionClosedError,
# ReadTimeoutError) - a lost answer would become a second email. Retries are Mailtrail's, only
# where SES certainly did not take the message (see ``classify_client_error``). Note that
# botocore reads ``retries={"max_attempts": n}`` as n *retries* (n + 1 calls): hence
# ``total_max_attempts``.
SEND_RETRIES = {"total_max_attempts": 1, "mode": "standard"}

# SES v2 refuses a message larger than 40 MB (after encoding, attachments included): refused here
# with a clear line rather than by SES with a generic one.
MAX_MESSAGE_BYTES = 40 * 1024 * 1024

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def tag_value(value: str) -> str:
    """SES tag values allow letters, digits, ``_ - . @`` and at most 256 characters."""
    return _TAG_UNSAFE.sub("_", value)[:256]


def classify_client_error(exc: Any) -> Exception:
    """What an answer of SES (a botocore ``ClientError``) means for the message.

    * throttling (``TooManyRequestsException``, HTTP 429 ...): refused, retry after a back-off;
    * ``ServiceUnavailable`` / HTTP 503: turned away unprocessed, retry;
    * any other 5xx (``InternalFailure`` 500, a gateway's 502/504): SES failed *while* handling
      the request and may have queued the message first - outcome unknown, never retried;
    * 4xx: refused (invalid address, unverified sender, rejected content, paused account).
    """
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = error.get("Code", "") or str(status)
    text = f"{code}: {error.get('Message', exc)}"
    if code in THROTTLING_CODES or status == THROTTLING_STATUS:
        return ThrottledError(text)
    if code in UNAVAILABLE_CODES or status == UNAVAILABLE_STATUS:
        return RetryableSendError(text)
    if status >= 500:
        return SendOutcomeUnknownError(f"SES failed while handling the request: {text}")
    return PermanentSendError(text, error_type=code or None)


@dataclass
class SesSender:
    configuration_set: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 10.0  # seconds; a connection not made is retried (nothing sent)
    read_timeout: float = 30.0  # seconds; an answer not read in time leaves the outcome unknown
    max_connections: int = 64  # HTTP connections kept open: one per dispatch worker and batch
    name: str = "ses"
    carries_mime: ClassVar[bool] = True  # attachments and raw MIME messages
    _client: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "sesv2",
                    region_name=self.region_name,
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        retries=dict(SEND_RETRIES),
                        connect_timeout=self.connect_timeout,
                        read_timeout=self.read_timeout,
                        max_pool_connections=self.max_connections,
                    ),
                )
            return self._client

    def send(self, message: OutgoingEmail) -> SendResult:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            NoRegionError,
            ParamValidationError,
            PartialCredentialsError,
            ProxyConnectionError,
        )

        data = _untracked(message).to_mime().as_bytes()
        if len(data) > MAX_MESSAGE_BYTES:
            raise PermanentSendError(
                f"message of {len(data)} bytes exceeds SES's limit of {MAX_MESSAGE_BYTES} bytes"
                " (attachments included)",
                error_type="message_too_large",
            )
        request: dict[str, Any] = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [message.to_address]},
            "Content": {"Raw": {"Data": data}},
            "EmailTags": [
                {"Name": name, "Value": tag_value(value)} for name, value in message.tags().items()
            ],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            raise classify_client_error(exc) from exc
        except (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError) as exc:
            # No connection to SES was made: nothing was sent.
            raise RetryableSendError(f"cannot reach SES: {exc}") from exc
        except (
            ParamValidationError, NoCredentialsError, PartialCredentialsError, NoRegionError
        ) as exc:  # fmt: skip
            # Raised before any request is made: nothing was sent, and sending again will not help.
            raise PermanentSendError(
                f"SES request not sent: {exc}", error_type=type(exc).__name__
            ) from exc
        except BotoCoreError as exc:
            # The request went out (or may have) and no answer came back: ConnectionClosedError,
            # ReadTimeoutError, SSLError, ResponseStreamingError ... SES may have the message.
            raise SendOutcomeUnknownError(f"SES answer lost ({type(exc).__name__}): {exc}") from exc
        return SendResult(message_id=response["MessageId"], provider=self.name)

    def verify_identity(self, address: str) -> None:
        """Create (verify) a sender identity: SES refuses mail from unverified senders."""
        self.client.create_email_identity(EmailIdentity=address)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


_ANCHOR = re.compile(r"<a(?=\s)(?![^>]*\bses:no-track\b)", re.IGNORECASE)


def _untracked(message: OutgoingEmail) -> OutgoingEmail:
    """The message as SES must get it: an untracked one (``EmailSendingOptions.tracked``) has
    ``ses:no-track`` on every link, which SES's click tracking leaves alone. Opens are tracked
    per configuration set: SES still adds its pixel if the set tracks opens."""
    if message.tracked:
        return message
    return replace(message, html=_ANCHOR.sub("<a ses:no-track", message.html))
