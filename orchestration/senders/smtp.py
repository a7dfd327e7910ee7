"""SMTP sender (any relay: Postfix, Mailgun/SendGrid SMTP, a local test server).

Each dispatch thread keeps its own SMTP connection (smtplib is not thread-safe) and reconnects
when the server drops it. The Message-ID we put in the header is the message id we record: SMTP
has no provider id, and it is what bounces and replies refer to.

A server accepts a message only by its reply to the end of ``DATA``, so what a failure means
depends on how far the transaction went (the connection tracks whether the content went out):

* a connection lost, or an answer not read in time, *before* the content was sent: nothing can
  have been accepted - retryable (on a new connection);
* the same *after* the content was sent: the server may have accepted it - outcome unknown;
* ``421`` (anywhere), or a 4xx to ``MAIL``/end of ``DATA``: the server is busy - throttled (every
  worker backs off);
* a 4xx to ``RCPT`` (mailbox busy, greylisting): that recipient is retried after a back-off;
* 5xx: refused - permanent.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import ClassVar

from orchestration.senders.base import (
    OutgoingEmail,
    PermanentSendError,
    RetryableSendError,
    SendOutcomeUnknownError,
    SendResult,
    ThrottledError,
    _domain,
)

THROTTLE_CODES = frozenset({421, 450, 451, 452, 454})  # at connection, MAIL or end of DATA
SERVICE_CLOSING = 421

_LEADING_DOT = re.compile(rb"(?m)^\.")
_EOLS = re.compile(r"(?:\r\n|\n|\r(?!\n))")


class TrackedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that knows whether the current message's content went out.

    ``content_sent`` turns True just before the content after ``DATA``'s 354 is written, the
    first moment the server could accept the message. ``data`` is smtplib's, step for step.
    """

    content_sent = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = _EOLS.sub("\r\n", msg).encode("ascii")
        quoted = _LEADING_DOT.sub(b"..", msg)
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        self.content_sent = True
        self.send(quoted + b".\r\n")
        return self.getreply()


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
    carries_mime: ClassVar[bool] = True  # attachments and raw MIME messages
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _all: list[TrackedSMTP] = field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _connection(self) -> TrackedSMTP:
        conn: TrackedSMTP | None = getattr(self._local, "conn", None)
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
            conn = TrackedSMTP(self.host, self.port, timeout=self.timeout)
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
        message_id = message.message_id or make_msgid(domain=_domain(message.from_address))
        mime = message.to_mime(message_id)
        conn = self._connection()
        self._local.used = time.monotonic()
        conn.content_sent = False
        try:
            refused = conn.send_message(mime, to_addrs=[message.to_address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._reset(conn)
            if code == SERVICE_CLOSING:
                raise ThrottledError(f"SMTP {code}: {text!r}") from exc
            if 400 <= code < 500:  # this mailbox, for now (busy, greylisting): retry it later
                raise RetryableSendError(f"SMTP {code}: {text!r}") from exc
            raise PermanentSendError(
                f"SMTP {code}: {text!r}", error_type="recipient_refused"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # refused at MAIL or at the end of DATA
            self._reset(conn)
            if 400 <= exc.smtp_code < 500:
                raise ThrottledError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            if 500 <= exc.smtp_code < 600:
                raise PermanentSendError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            self._drop()  # not an SMTP reply: the conversation is lost
            raise self._lost(conn, exc) from exc
        except OSError as exc:  # SMTPServerDisconnected, timeouts, resets
            self._drop()
            raise self._lost(conn, exc) from exc
        if refused:
            code, text = refused[message.to_address]
            raise PermanentSendError(f"SMTP {code}: {text!r}", error_type="recipient_refused")
        return SendResult(message_id=message_id.strip("<>"), provider=self.name)

    def _lost(self, conn: TrackedSMTP, exc: Exception) -> Exception:
        """The conversation broke off: harmless before the content went out, else unknown."""
        if conn.content_sent:
            return SendOutcomeUnknownError(f"SMTP conversation lost after DATA: {exc!r}")
        return RetryableSendError(f"SMTP conversation lost before the content was sent: {exc!r}")

    def _reset(self, conn: TrackedSMTP) -> None:
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
