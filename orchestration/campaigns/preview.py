"""Previews a person can open: a shoot's (or a template's, for an audience) email as one of its
recipients would get it, served by ``mailtrail preview`` on loopback (seed 004's
``get_preview_shoot_url``).

``preview_link`` builds the link; ``PreviewServer`` answers it by rendering on request from the
registry and the warehouse, so a link always shows the current template and settings. The
message is shown in a sandboxed ``iframe`` (no script runs, its styles stay inside) under a
header with the subject, pre-header and recipient. Rendering uses a real audience member's data,
so the server listens on 127.0.0.1 unless told otherwise, and its pages are never cached.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import UUID

from orchestration.campaigns.entities import Audience, EmailRecipient
from orchestration.campaigns.errors import (
    EmailingError,
    ShootNotFoundError,
    SkippingEmailSendingException,
)
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.shoots import get_shoot
from orchestration.campaigns.templates import EmailContent

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

PREVIEW_PATH = "/preview"


def preview_link(
    base_url: str,
    *,
    shoot_id: UUID | str | None = None,
    template: str | None = None,
    audience: Audience | None = None,
    template_settings: dict[str, Any] | None = None,
    user_ref: str | None = None,
) -> str:
    """The link to a shoot's preview, or to a template's for an audience and settings."""
    if (shoot_id is None) == (template is None):
        raise ValueError("preview_link: give shoot_id or template, not both")
    query: dict[str, str] = {}
    if shoot_id is not None:
        query["shoot_id"] = str(shoot_id)
    else:
        query["template"] = str(template)
        if audience is not None:
            query["audience"] = json.dumps(audience.to_json(), separators=(",", ":"))
        if template_settings:
            query["settings"] = json.dumps(template_settings, separators=(",", ":"), default=str)
    if user_ref is not None:
        query["user_ref"] = user_ref
    return f"{base_url.rstrip('/')}{PREVIEW_PATH}?{urlencode(query)}"


@dataclass(frozen=True)
class Preview:
    """What a preview shows: the rendered message, or why this recipient gets none."""

    title: str
    recipient: EmailRecipient
    content: EmailContent | None
    skipped: str | None = None


class PreviewNotFoundError(LookupError):
    """The shoot, or the asked-for recipient in its audience, does not exist."""


def render_preview(
    conn: psycopg.Connection,
    registry: Registry,
    *,
    shoot_id: str | None = None,
    template: str | None = None,
    audience: Audience | None = None,
    template_settings: dict[str, Any] | None = None,
    user_ref: str | None = None,
) -> Preview:
    """Render for the first member of the audience (or ``user_ref``); a template's sample
    recipient (``preview_context``) when there is no audience or it is empty."""
    if shoot_id is not None:
        try:
            shoot = get_shoot(conn, UUID(shoot_id))
        except (ValueError, ShootNotFoundError):
            raise PreviewNotFoundError(f"no shoot with id {shoot_id}") from None
        template, audience = shoot.template_name, shoot.audience
        template_settings = shoot.template_settings
        title = f"{shoot.campaign_name} - shoot {shoot.shoot_id} ({shoot.state})"
        campaign_name = shoot.campaign_name
    else:
        title, campaign_name = f"template {template}", "preview"
    assert template is not None
    found = registry.get_template(template)
    settings = found.validate_settings(template_settings or {})
    recipient = _recipient(conn, registry, audience, user_ref) or EmailRecipient(
        "preview", "preview@example.com", dict(found.preview_context)
    )
    try:
        content = found.render(
            recipient, settings, email_log_id="preview", campaign_name=campaign_name
        )
    except SkippingEmailSendingException as exc:
        return Preview(title, recipient, None, skipped=exc.reason)
    return Preview(title, recipient, content)


def _recipient(
    conn: psycopg.Connection, registry: Registry, audience: Audience | None, user_ref: str | None
) -> EmailRecipient | None:
    if audience is None:
        return None
    segment = registry.get_segment(audience.segment)
    for page in segment.paginate_recipients(
        conn, audience.settings, page_size=500, limit=audience.limit
    ):
        if user_ref is None:
            return page[0]
        for recipient in page:
            if recipient.user_ref == user_ref:
                return recipient
    if user_ref is not None:
        raise PreviewNotFoundError(f"no recipient {user_ref!r} in the audience")
    return None


def preview_page(preview: Preview) -> str:
    """The HTML page of a preview: a header, then the message in a sandboxed frame."""
    r = preview.recipient
    rows = [("Preview", preview.title), ("To", f"{r.email_address} ({r.user_ref})")]
    if preview.content is None:
        rows.append(("Skipped", preview.skipped or ""))
        body = ""
        subject = "skipped"
    else:
        subject = preview.content.subject
        rows += [("Subject", subject), ("Pre-header", preview.content.pre_header)]
        body = (
            '<iframe sandbox title="message" style="width:100%;height:80vh;border:1px solid #ccc"'
            f' srcdoc="{html.escape(preview.content.html, quote=True)}"></iframe>'
        )
    header = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>"
        f"<body style='font-family:sans-serif'><table>{header}</table>{body}</body></html>"
    )


class PreviewServer(ThreadingHTTPServer):
    """``GET /preview?...`` (see ``preview_link``) rendered from the warehouse and registry."""

    daemon_threads = True

    def __init__(self, database_url: str, registry: Registry, host: str, port: int) -> None:
        self.database_url = database_url
        self.registry = registry
        super().__init__((host, port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, notebooks); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="mailtrail-preview", daemon=True)
        thread.start()
        return thread


# No script, nothing fetched but images: a message's HTML is shown, never run.
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src * data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer

    def do_GET(self) -> None:
        import psycopg

        url = urlsplit(self.path)
        if url.path != PREVIEW_PATH:
            return self._answer(HTTPStatus.NOT_FOUND, "not found: open a /preview link")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            audience = (
                Audience.from_json(json.loads(query["audience"])) if "audience" in query else None
            )
            settings = json.loads(query["settings"]) if "settings" in query else None
            if ("shoot_id" in query) == ("template" in query):
                raise ValueError("give shoot_id or template")
        except (ValueError, KeyError, TypeError) as exc:
            return self._answer(HTTPStatus.BAD_REQUEST, f"bad preview link: {exc}")
        try:
            with psycopg.connect(self.server.database_url, autocommit=True) as conn:
                preview = render_preview(
                    conn, self.server.registry, shoot_id=query.get("shoot_id"),
                    template=query.get("template"), audience=audience,
                    template_settings=settings, user_ref=query.get("user_ref"),
                )  # fmt: skip
        except PreviewNotFoundError as exc:
            return self._answer(HTTPStatus.NOT_FOUND, str(exc))
        except EmailingError as exc:  # unknown template, missing setting, rendering failed
            return self._answer(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
        self._answer(HTTPStatus.OK, preview_page(preview), html_page=True)

    def _answer(self, status: HTTPStatus, text: str, *, html_page: bool = False) -> None:
        data = (text if html_page else html.escape(text)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in _HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("preview %s", format % args)
