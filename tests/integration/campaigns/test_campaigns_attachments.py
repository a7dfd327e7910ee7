"""Attachments and ready MIME messages through the real senders: SMTP on aiosmtpd, SES on
moto_server, the outbox's files; the ledger records the attachments' names."""

from __future__ import annotations

import email
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    Emailing,
    EmailRecipient,
    Registry,
    SendFailedError,
    Template,
)
from orchestration.senders.outbox import OutboxSender
from orchestration.senders.ses import SesSender
from orchestration.senders.smtp import SmtpSender
from tests.fakes.smtp_server import smtp_server
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, moto_sent_messages

pytestmark = pytest.mark.integration

FROM = "News <news@mail.example.com>"


class Receipt(Template):
    """Attaches a per-recipient PDF and a shared text file (seed 004's dict form)."""

    def get_attachments(self, recipient: EmailRecipient, settings: Any) -> Any:
        return {
            "receipt.pdf": b"%PDF-1.4 " + recipient.email_address.encode(),
            "terms.txt": "Be nice.",
        }


RECEIPT = Receipt(name="receipt", subject="Receipt for {{ user.first_name }}", html="<p>Thanks</p>")


def statement(to: str) -> EmailMessage:
    """A message its author built whole: own sender, subject and attachment."""
    message = EmailMessage()
    message["From"] = "Billing <billing@mail.example.com>"
    message["To"] = to
    message["Subject"] = "Your statement"
    message.set_content("See attached.")
    message.add_attachment(b"%PDF-1.4 statement", maintype="application", subtype="pdf",
                           filename="statement.pdf")  # fmt: skip
    return message


def files_of(message: Message) -> dict[str, bytes]:
    return {
        p.get_filename(): p.get_payload(decode=True) for p in message.walk() if p.get_filename()
    }


def ledger_files(conn: psycopg.Connection) -> dict[str, tuple]:
    rows = conn.execute(
        "select recipient, status, attachment_filenames, template_name, subject, error_type"
        " from app.email_sends"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_campaign_attachments_and_raw_messages_through_smtp_and_the_outbox(
    built_database_url: str, registry: Registry, built_db: psycopg.Connection, now: datetime,
    tmp_path: Path,
) -> None:  # fmt: skip
    registry.register_template(RECEIPT)
    add_contacts(built_db, 2, prefix="smtp")

    def service(sender: Any) -> Emailing:
        return Emailing(built_database_url, sender, registry, default_from=FROM,
                        drafts=OutboxSender(tmp_path / "drafts"), clock=lambda: now)  # fmt: skip

    with smtp_server() as (host, port, handler):
        emailing = service(SmtpSender(host=host, port=port))
        shoot = emailing.schedule_shoot(now, Audience("contacts"), "receipt", campaign_name="r")
        assert emailing.send_shoot(shoot.shoot_id).shoot.sent_count == 2
        raw_id = emailing.send_email_raw(statement("Ada <ada@example.com>"), campaign_name="s")
        emailing.close()
    received = {r.rcpt_tos[0].lower(): r.message for r in handler.received}
    for address in ("smtp0@example.com", "smtp1@example.com"):
        assert files_of(received[address]) == {
            "receipt.pdf": b"%PDF-1.4 " + address.encode(), "terms.txt": b"Be nice.",
        }  # fmt: skip
        types = {part.get_content_type() for part in received[address].walk()}
        assert {"text/plain", "text/html"} <= types  # the bodies are still there
    raw = received["ada@example.com"]
    assert (raw["Subject"], raw["From"]) == ("Your statement", "Billing <billing@mail.example.com>")
    assert raw["X-Email-Log-Id"] == str(raw_id) and raw["X-Campaign"] == "s"
    assert files_of(raw) == {"statement.pdf": b"%PDF-1.4 statement"}

    # the outbox writes them into its .eml files
    outbox = service(OutboxSender(tmp_path / "outbox"))
    bo_id = outbox.send_email(
        EmailRecipient("bo", "bo@example.com", {"first_name": "Bo"}), "receipt"
    )
    eml = email.message_from_bytes((tmp_path / "outbox" / f"{bo_id}.eml").read_bytes(),
                                   policy=policy.default)  # fmt: skip
    assert list(files_of(eml)) == ["receipt.pdf", "terms.txt"]

    # a sender that cannot carry them fails the send in one line; nothing goes out
    class ApiSender(RecordingSender):
        carries_mime = False

    api_sender = ApiSender()
    with pytest.raises(SendFailedError, match=r"unsupported_content: sender 'recording' cannot"
                       r" carry a raw MIME message; use one that sends whole MIME messages"):  # fmt: skip
        service(api_sender).send_email_raw(statement("cy@example.com"))
    assert api_sender.sent == []

    files = ledger_files(built_db)
    assert files["smtp0@example.com"] == ("sent", ["receipt.pdf", "terms.txt"], "receipt",
                                          "Receipt for Name0", None)  # fmt: skip
    assert files["ada@example.com"] == ("sent", ["statement.pdf"], None, "Your statement", None)
    assert files["bo@example.com"][:2] == ("sent", ["receipt.pdf", "terms.txt"])
    assert files["cy@example.com"] == ("failed", ["statement.pdf"], None, "Your statement",
                                       "unsupported_content")  # fmt: skip
    page = outbox.paginate_email_logs(1, email_addresses=["ada@example.com"])
    assert page.items[0].attachment_filenames == ["statement.pdf"]


def test_campaign_ses_sends_attachments_and_raw_messages_as_raw_content(
    aws_env: str, built_database_url: str, registry: Registry, built_db: psycopg.Connection,
    now: datetime,
) -> None:  # fmt: skip
    registry.register_template(RECEIPT)
    ses = SesSender()
    ses.verify_identity("news@mail.example.com")
    ses.verify_identity("billing@mail.example.com")
    emailing = Emailing(built_database_url, ses, registry, default_from=FROM, clock=lambda: now)
    ada = emailing.send_email(EmailRecipient("ada", "ada@example.com", {"first_name": "Ada"}),
                              "receipt")  # fmt: skip
    bo = emailing.send_email_raw(statement("bo@example.com"))
    emailing.close()
    by_log = {}
    for entry in moto_sent_messages(aws_env):
        raw = entry.get("raw_data") or entry.get("RawData")
        message = email.message_from_string(raw, policy=policy.default)
        by_log[message["X-Email-Log-Id"]] = message
    assert list(files_of(by_log[str(ada)])) == ["receipt.pdf", "terms.txt"]
    assert files_of(by_log[str(bo)]) == {"statement.pdf": b"%PDF-1.4 statement"}
    assert by_log[str(bo)]["From"] == "Billing <billing@mail.example.com>"
    assert ledger_files(built_db)["bo@example.com"][:2] == ("sent", ["statement.pdf"])
