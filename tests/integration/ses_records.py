"""Small, realistic SES event-publishing records for loader tests (AWS's documented shapes)."""

from __future__ import annotations

import json


def mail(message_id: str, recipients: list[str], campaign: str = "weekly_digest") -> dict:
    return {
        "timestamp": "2026-11-20T10:00:00.000Z",
        "source": "Mailtrail <news@mailtrail.example>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/mailtrail.example",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": recipients,
        "headersTruncated": False,
        "headers": [{"name": "Subject", "value": "Your weekly digest"}],
        "commonHeaders": {"from": ["news@mailtrail.example"], "to": recipients},
        "tags": {
            "ses:configuration-set": ["mailtrail"],
            "campaign": [campaign],
            "app": ["shop"],
            "shoot_id": ["shoot-1"],
        },
    }


def delivery(message_id: str, recipients: list[str], at: str = "2026-11-20T10:00:02.000Z") -> dict:
    return {
        "eventType": "Delivery",
        "mail": mail(message_id, recipients),
        "delivery": {
            "timestamp": at,
            "processingTimeMillis": 2000,
            "recipients": recipients,
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }


def bounce(message_id: str, recipients: list[str]) -> dict:
    return {
        "eventType": "Bounce",
        "mail": mail(message_id, recipients),
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": "2026-11-20T10:00:03.000Z",
            "feedbackId": "0102017a-bounce-feedback",
            "reportingMTA": "dsn; e226-55.smtp-out.us-east-2.amazonses.com",
        },
    }


def line(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def engagement(kind: str, message_id: str, recipients: list[str], at: str) -> dict:
    """An ``Open`` or ``Click`` by a person's browser at ``at``."""
    details = {"timestamp": at, "ipAddress": "198.51.100.7", "userAgent": BROWSER}
    if kind == "Click":
        details |= {"link": "https://shop.example/spring", "linkTags": {}}
    return {"eventType": kind, "mail": mail(message_id, recipients), kind.lower(): details}
