"""Amazon SES (API v2) sender.

Messages go out as raw MIME through ``sesv2.send_email`` so that our own headers
(``X-Email-Log-Id`` ...) travel with them, with ``EmailTags`` campaign/app/shoot_id/email_log_id
and the configuration set whose event destination (Firehose -> ``<landing>/ses/``) feeds the
analytics side: those tags come back in every event and join it to the ledger.

boto3 clients are thread-safe, so one client serves every dispatch worker. The endpoint comes
from the settings (``AWS_ENDPOINT_URL``), which is how tests point it at moto_server.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    SendOutcomeUnknownError,
    SendResult,
    ThrottledError,
)

# Error codes meaning "slow down": retry with back-off.
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException"}
)
# Codes meaning "not taken, try again": the service or the connection failed before accepting.
RETRYABLE_CODES = frozenset({"InternalFailure", "ServiceUnavailable", "InternalServerError"})

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def tag_value(value: str) -> str:
    """SES tag values allow letters, digits, ``_ - . @`` and at most 256 characters."""
    return _TAG_UNSAFE.sub("_", value)[:256]


@dataclass
class SesSender:
    configuration_set: str | None = None
    region_name: str | None = None
    endpoint_url: str | None = None
    name: str = "ses"
    _client: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3

                self._client = boto3.client(
                    "sesv2", region_name=self.region_name, endpoint_url=self.endpoint_url
                )
            return self._client

    def send(self, message: OutgoingEmail) -> SendResult:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        request: dict[str, Any] = {
            "FromEmailAddress": message.from_address,
            "Destination": {"ToAddresses": [message.to_address]},
            "Content": {"Raw": {"Data": message.to_mime().as_bytes()}},
            "EmailTags": [
                {"Name": name, "Value": tag_value(value)} for name, value in message.tags().items()
            ],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            text = f"{code}: {error.get('Message', exc)}"
            if code in THROTTLING_CODES:
                raise ThrottledError(text) from exc
            if code in RETRYABLE_CODES:
                raise RetryableSendError(text) from exc
            raise PermanentSendError(text, error_type=code or None) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise RetryableSendError(f"cannot reach SES: {exc}") from exc  # nothing was sent
        except ReadTimeoutError as exc:
            raise SendOutcomeUnknownError(f"SES did not answer: {exc}") from exc
        return SendResult(message_id=response["MessageId"], provider=self.name)

    def verify_identity(self, address: str) -> None:
        """Create (verify) a sender identity: SES refuses mail from unverified senders."""
        self.client.create_email_identity(EmailIdentity=address)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
