"""SMTP sender (any relay: Postfix, Mailgun/SendGrid SMTP, a local test server).

Each dispatch thread keeps its own SMTP connection (smtplib is not thread-safe) and reconnects
when the server drops it. The Message-ID we put in the header is the message id we record: SMTP
has no provider id, and it is what bounces and replies refer to.

Reply codes map to the dispatch policy: 421 and 4xx "try later" codes are retryable (before
``DATA`` completed nothing was accepted); 5xx are permanent refusals; a connection lost after
``DATA`` was sent leaves the outcome unknown.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.utils import make_msgid

from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    SendOutcomeUnknownError,
    SendResult,
    ThrottledError,
    _domain,
)

THROTTLE_CODES = frozenset({421, 450, 451, 452, 454})


@dataclass
class SmtpSender:
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0
    idle_check_after: float = 10.0  # seconds idle before a NOOP checks the connection
    name: str = "smtp"
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _all: list[smtplib.SMTP] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _connection(self) -> smtplib.SMTP:
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is not None:
            # Servers drop idle clients; check before trusting a connection with a message,
            # since a disconnect in the middle of one leaves its outcome unknown.
            if time.monotonic() - getattr(self._local, "used", 0.0) < self.idle_check_after:
                return conn
            try:
                if conn.noop()[0] == 250:
                    return conn
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()
        try:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                conn.starttls(context=ssl.create_default_context())
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in THROTTLE_CODES:
                raise ThrottledError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableSendError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def send(self, message: OutgoingEmail) -> SendResult:
        message_id = make_msgid(domain=_domain(message.from_address))
        mime = message.to_mime(message_id)
        conn = self._connection()
        self._local.used = time.monotonic()
        try:
            refused = conn.send_message(mime, to_addrs=[message.to_address])
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            # The server hung up; with a reused connection it usually did so before our MAIL
            # command (idle timeout) - but we cannot know whether DATA was accepted.
            raise SendOutcomeUnknownError(f"SMTP server disconnected: {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._reset(conn)
            if code in THROTTLE_CODES:
                raise ThrottledError(f"SMTP {code}: {text!r}") from exc
            raise PermanentSendError(
                f"SMTP {code}: {text!r}", error_type="recipient_refused"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self._reset(conn)
            if exc.smtp_code in THROTTLE_CODES or 400 <= exc.smtp_code < 500:
                raise ThrottledError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except OSError as exc:
            self._drop()
            raise SendOutcomeUnknownError(f"SMTP connection failed: {exc}") from exc
        if refused:
            code, text = refused[message.to_address]
            raise PermanentSendError(f"SMTP {code}: {text!r}", error_type="recipient_refused")
        return SendResult(message_id=message_id.strip("<>"), provider=self.name)

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        self._local = threading.local()
