"""Content: custom blocks in variations, attachments and ready MIME messages, as the senders
put them on the wire (pure: no database, no server)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from orchestration.campaigns import (
    CustomBlock,
    CustomBlocksError,
    EmailRecipient,
    Template,
    TemplateRenderingError,
)
from orchestration.campaigns.custom_blocks import select_blocks
from orchestration.campaigns.raw_messages import raw_bytes, raw_content, raw_recipient
from orchestration.senders.base import (
    OutgoingEmail,
    UnsupportedContentError,
    check_can_carry,
    parse_mime,
)
from orchestration.senders.outbox import OutboxSender

ADA = EmailRecipient("u1", "ada@example.com", {"first_name": "Ada <3"})


class Invoice(Template):
    """A template that attaches files built from the recipient's data."""

    def get_attachments(self, recipient: EmailRecipient, settings: Any) -> Any:
        return settings.get("files", {"invoice.pdf": b"%PDF-1.4 " + recipient.user_ref.encode()})


INVOICE = Invoice(
    name="invoice",
    subject="{{ blocks.title }}",
    html="<body>{{ blocks.hero }}<p>{{ custom_blocks_variation_id or 'default' }}</p></body>",
    custom_blocks=(
        CustomBlock("title", "Your invoice"),
        CustomBlock("hero", "<h1>Hello {{ user.first_name }}</h1>"),
    ),
)


def _outgoing(**fields: Any) -> OutgoingEmail:
    values = {"email_log_id": "L1", "from_address": "News <news@example.com>",
              "to_address": "ada@example.com", "subject": "S", "html": "<p>x</p>", "text": "x"}  # fmt: skip
    return OutgoingEmail(**{**values, **fields})


def test_campaign_custom_blocks_render_the_variation_else_the_default_escaped_once() -> None:
    shoot_blocks = [CustomBlock("hero", "<h1>Hi {{ user.first_name }}, try B</h1>", "B")]
    for variation, hero in [(None, "Hello Ada &lt;3"), ("B", "Hi Ada &lt;3, try B")]:
        blocks = select_blocks(INVOICE.custom_blocks, shoot_blocks, variation, where="test")
        content = INVOICE.render(ADA, {}, blocks=blocks, variation_id=variation)
        assert f"<h1>{hero}</h1>" in content.html  # the block's markup kept, user data escaped
        assert f"<p>{variation or 'default'}</p>" in content.html
        assert content.subject == "Your invoice"


def test_campaign_custom_blocks_errors_name_the_variation_and_the_block() -> None:
    with pytest.raises(CustomBlocksError, match=r"shoot x: custom_blocks_variation_id 'C'"
                       r" matches no custom block \(variations: B\)"):  # fmt: skip
        select_blocks([CustomBlock("hero", "a", "B")], [], "C", where="shoot x")
    with pytest.raises(CustomBlocksError, match="custom block 'hero' has no default"):
        select_blocks([CustomBlock("hero", "a", "B"), CustomBlock("cta", "c", "A")], [], "A",
                      where="shoot x")  # fmt: skip
    with pytest.raises(CustomBlocksError, match="must be an identifier"):
        CustomBlock("hero block", "x")


def test_campaign_attachments_reach_the_mime_in_seed_forms() -> None:
    content = INVOICE.render(ADA, {})
    assert content.attachment_filenames == ["invoice.pdf"]
    listed = INVOICE.render(ADA, {"files": [{"filename": "a.csv", "content": "x,y\n"},
                                            {"filename": "b.bin", "content": b"\x00"}]})  # fmt: skip
    assert listed.attachment_filenames == ["a.csv", "b.bin"]
    mime = _outgoing(attachments=listed.attachments).to_mime()
    parts = {p.get_filename(): p for p in mime.iter_attachments()}
    assert parts["a.csv"].get_content_type() == "text/csv"
    assert parts["a.csv"].get_content() == "x,y\n"
    assert parts["b.bin"].get_content() == b"\x00"
    assert mime.get_body(("html",)).get_content() == "<p>x</p>\n"  # the bodies stay
    for bad in ([{"filename": "../etc", "content": "x"}], "invoice.pdf", [{"filename": "a"}]):
        with pytest.raises(TemplateRenderingError, match="template 'invoice'"):
            INVOICE.render(ADA, {"files": bad})


def test_campaign_raw_message_keeps_its_parts_and_gets_our_tracking_headers() -> None:
    message = EmailMessage()
    message["From"] = "Billing <billing@example.com>"
    message["To"] = "Ada <ada@example.com>"
    message["Subject"] = "Your   receipt"
    message["X-Email-Log-Id"] = "forged"
    message.set_content("plain")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="r.pdf")
    data = raw_bytes(message)
    assert raw_recipient(data, None).email_address == "ada@example.com"
    content = raw_content(data)
    assert (content.subject, content.text, content.attachment_filenames) == (
        "Your receipt", "plain\n", ["r.pdf"],
    )  # fmt: skip
    sent = parse_mime(
        _outgoing(raw=content.raw, attachments=content.attachments, campaign_name="c")
        .to_mime("<m1@example.com>")
        .as_bytes()
    )
    assert sent.get_all("X-Email-Log-Id") == ["L1"] and sent["X-Campaign"] == "c"
    assert sent["Message-ID"] == "<m1@example.com>" and sent["Subject"] == "Your   receipt"
    assert [p.get_filename() for p in sent.iter_attachments()] == ["r.pdf"]
    bare = parse_mime(_outgoing(raw=b"Subject: hi\r\n\r\nbody").to_mime().as_bytes())
    assert (bare["From"], bare["To"]) == ("News <news@example.com>", "ada@example.com")
    assert bare["Message-ID"] and bare["Date"]
    with pytest.raises(Exception, match="no Subject"):
        raw_bytes(b"From: a@example.com\r\n\r\nbody")
    with pytest.raises(Exception, match="exactly one address"):
        raw_recipient(b"Subject: x\r\nTo: a@example.com, b@example.com\r\n\r\nbody", None)


def test_campaign_a_sender_that_cannot_carry_mime_refuses_in_one_line(tmp_path) -> None:
    class ApiOnly:
        name = "api"

    message = _outgoing(attachments=INVOICE.render(ADA, {}).attachments)
    with pytest.raises(UnsupportedContentError) as refused:
        check_can_carry(ApiOnly(), message)  # type: ignore[arg-type]
    assert str(refused.value) == (
        "sender 'api' cannot carry attachments; use one that sends whole MIME messages"
        " (MAILTRAIL_SENDER=ses, smtp or outbox)"
    )
    assert refused.value.error_type == "unsupported_content"
    check_can_carry(ApiOnly(), _outgoing())  # a plain message goes anywhere
    check_can_carry(OutboxSender(tmp_path), message)
