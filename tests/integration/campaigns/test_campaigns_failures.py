"""Failures before a send has a ledger row, and recipients campaign code skips: every requested
message leaves an email log saying what happened (real PostgreSQL, the recording sender)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from orchestration.campaigns import (
    Audience,
    Emailing,
    EmailRecipient,
    NotRegisteredError,
    SkippingEmailSendingException,
    Template,
    TemplateSettingsMissingKeyError,
)
from orchestration.campaigns.templates import TemplateSettings
from tests.integration.campaigns.helpers import RecordingSender, add_contacts, ledger

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class QuietNews(Template):
    """News that has nothing to say to some readers: its data generator skips them."""

    def get_template_data(
        self, recipient: EmailRecipient, settings: TemplateSettings
    ) -> dict[str, Any]:
        if recipient.user_context.get("first_name") in ("Name1", "Ada"):
            raise SkippingEmailSendingException("nothing new since the last issue")
        return {}


QUIET = QuietNews(name="quiet", subject="{{ settings.title }}", html="<p>news</p>")
ADA = EmailRecipient("ada", "ada@example.com", {"first_name": "Ada"})
BOB = EmailRecipient("bob", "bob@example.com", {"first_name": "Bob"})


def _failed_log(emailing: Emailing, email_log_id: object) -> Any:
    (log,) = emailing.paginate_email_logs(1, email_logs_ids=[email_log_id]).items
    return log


def test_campaign_silent_failure_logs_failures_before_the_ledger_row(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender
) -> None:
    # Without silent_failure: the error itself, one line naming what and where; nothing written.
    with pytest.raises(NotRegisteredError, match=r"^unknown template 'nope' \(known: news\)$"):
        emailing.send_email(ADA, "nope", {"title": "x"})
    with pytest.raises(TemplateSettingsMissingKeyError, match="'title' for template 'news'"):
        emailing.send_email(ADA, "news", {}, campaign_name="launch")
    assert built_db.execute("select count(*) from app.email_sends").fetchone()[0] == 0

    # silent_failure: the failed email log it promises, with the request and the error.
    assert emailing.send_email(ADA, "nope", {"title": "x"}, silent_failure=True) is None
    assert emailing.send_email(
        ADA, "news", {}, campaign_name="launch", message_metadata={"order": 7},
        silent_failure=True,
    ) is None  # fmt: skip
    page = emailing.paginate_email_logs(1, has_failed=True, email_addresses=["ada@example.com"])
    by_template = {log.template_name: log for log in page.items}
    assert page.total == 2 and set(by_template) == {"nope", "news"}
    unknown, missing = by_template["nope"], by_template["news"]
    assert (unknown.state, unknown.error_type, unknown.success) == (
        "failed",
        "not_registered",
        False,
    )
    assert unknown.error_message == "unknown template 'nope' (known: news)"
    assert (missing.campaign_name, missing.message_metadata) == ("launch", {"order": 7})
    assert missing.error_type == "template_settings_not_found" and missing.template_settings == {}
    assert emailing.get_email_log_metrics(campaign_names=["launch"]).failed_count == 1

    # A dry run writes no log, even a failed one (seed 004); the sender never saw anything.
    assert emailing.send_email(ADA, "nope", dry_run=True, silent_failure=True) is None
    assert built_db.execute("select count(*) from app.email_sends").fetchone()[0] == 2

    # Queued (async_send): refused before the queue, it gets its failed log all the same.
    assert emailing.send_email(
        BOB, "nope", campaign_name="queued", async_send=True, silent_failure=True
    ) is None  # fmt: skip
    (queued_failure,) = emailing.paginate_email_logs(1, campaign_names=["queued"]).items
    assert (queued_failure.state, queued_failure.error_type) == ("failed", "not_registered")
    assert built_db.execute("select count(*) from app.send_queue").fetchone()[0] == 0
    assert sender.calls == 0

    # batch_send_email (silent by default): one failed log per distinct recipient.
    results = emailing.batch_send_email([ADA, BOB, ADA], "nope", campaign_name="batch")
    assert [(r.status, r.error_type) for r in results] == [("failed", "not_registered")] * 3
    assert results[0].email_log_id == results[2].email_log_id
    assert emailing.get_email_log_metrics(campaign_names=["batch"]).failed_count == 2
    with pytest.raises(NotRegisteredError):
        emailing.batch_send_email([BOB], "nope", silent_failure=False)
    assert emailing.get_email_log_metrics(campaign_names=["batch"]).total_count == 2


def test_campaign_skipping_exception_skips_one_recipient_with_its_reason(
    emailing: Emailing, built_db: psycopg.Connection, sender: RecordingSender, now
) -> None:
    emailing.registry.register_template(QUIET)
    addresses = add_contacts(built_db, 4)
    shoot = emailing.schedule_shoot(
        now - timedelta(minutes=1), Audience("contacts"), "quiet", {"title": "Issue 2"},
        campaign_name="quiet_news",
    )  # fmt: skip
    outcome = emailing.send_shoot(shoot.shoot_id)
    assert outcome.shoot.state == "completed"
    assert (outcome.shoot.sent_count, outcome.shoot.skipped_count) == (3, 1)
    assert set(sender.addresses()) == set(addresses) - {addresses[1]}
    assert ledger(built_db, shoot.shoot_id)[addresses[1]] == (
        "skipped",
        "nothing new since the last issue",
    )
    (log,) = emailing.paginate_email_logs(1, state="skipped", shoot_ids=[shoot.shoot_id]).items
    assert (log.email_address, log.reason) == (addresses[1], "nothing new since the last issue")

    # send_email: skipped is no failure, even without silent_failure; nothing is returned.
    assert emailing.send_email(ADA, "quiet", {"title": "Hi"}) is None
    (ada,) = emailing.paginate_email_logs(1, email_addresses=["ada@example.com"]).items
    assert (ada.state, ada.reason) == ("skipped", "nothing new since the last issue")
    # batch_send_email: the others are sent.
    results = emailing.batch_send_email([ADA, BOB], "quiet", {"title": "Hi"}, silent_failure=False)
    assert [r.status for r in results] == ["skipped", "sent"]
    assert (
        sender.addresses()["bob@example.com"] == 1 and "ada@example.com" not in sender.addresses()
    )
