"""Email templates: sandboxed Jinja2 for subject, pre-header, HTML and text.

Templates are written by campaign authors and rendered with data that partly comes from users
(names, preferences), so they run in Jinja's ``ImmutableSandboxedEnvironment`` (no attribute
access to Python internals, and no method that modifies a dict, list or set: ``settings.update``,
``list.append`` ... raise ``SecurityError``) with ``StrictUndefined`` (a typo is an error, not an
empty string in 10 000 inboxes). The HTML part is autoescaped; subject and text are not, but the
subject is flattened to one line so no user value can inject a header.

Each recipient is rendered from a context of their own: the settings and their user context are
deep copies (JSON data: they are stored in the ledger as jsonb), so nothing one render does -
in the template or in ``get_template_data`` - can reach another recipient's message. Whatever
goes wrong while rendering one recipient (a Jinja error, ``ZeroDivisionError`` or ``TypeError``
from their data, the sandbox's ``OverflowError`` for a huge ``range``) is a
``TemplateRenderingError`` for that recipient only.

Custom blocks (``custom_blocks``: content in variations, chosen per shoot) are rendered first, in
the same context, and read by the template as ``blocks.<name>``; ``get_attachments`` adds files
to the message (both in seed 004's terms).

Template settings (shared by a whole shoot) are a ``TemplateSettings``: using a setting the shoot
did not provide raises ``TemplateSettingsMissingKeyError`` naming the key and the template
(``settings.get("key")``, ``is defined`` and ``| default`` read optional ones).
"""

from __future__ import annotations

import copy
import functools
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from orchestration.campaigns.attachments import attachments_from
from orchestration.campaigns.custom_blocks import CustomBlock, select_blocks
from orchestration.campaigns.entities import EmailRecipient
from orchestration.campaigns.errors import (
    SkippingEmailSendingException,
    TemplateRenderingError,
    TemplateSettingsMissingKeyError,
)
from orchestration.senders.base import Attachment


class TemplateSettings(dict[str, Any]):
    """Template settings that raise a business error when a required key is missing (seed 004).

    ``settings["key"]`` raises ``TemplateSettingsMissingKeyError`` (in a template, using
    ``settings.key`` does); ``settings.get("key", default)`` reads an optional one.
    """

    def __init__(
        self, settings: Mapping[str, Any] | None = None, *, template_name: str | None = None
    ) -> None:
        super().__init__(settings or {})
        self.template_name = template_name

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise TemplateSettingsMissingKeyError(key, self.template_name) from None


@dataclass(frozen=True)
class EmailContent:
    """A rendered email: what the sender puts on the wire, and what it was rendered from (seed
    004): ``template_data`` (what ``get_template_data`` returned), the recipient's
    ``user_context`` and the ``template_settings`` (the render's own copies)."""

    subject: str
    pre_header: str
    html: str
    text: str
    template_name: str | None
    template_data: dict[str, Any] = field(default_factory=dict, compare=False)
    user_context: dict[str, Any] = field(default_factory=dict, compare=False)
    template_settings: dict[str, Any] = field(default_factory=dict, compare=False)
    attachments: tuple[Attachment, ...] = ()
    raw: bytes | None = None  # a ready MIME message (send_email_raw): sent as it is

    @property
    def attachment_filenames(self) -> list[str]:
        return [attachment.filename for attachment in self.attachments]


class _SettingsAwareUndefined(jinja2.StrictUndefined):
    """StrictUndefined whose error, for a missing template setting, is the business error."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = jinja2.utils.missing,
        name: str | None = None,
        exc: type[Exception] = jinja2.UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        # Not for the sandbox's refusals (``settings.update``): those are security errors.
        if isinstance(obj, TemplateSettings) and isinstance(name, str) and exc is not SecurityError:
            template = obj.template_name
            self._undefined_exception = lambda _message: TemplateSettingsMissingKeyError(
                name, template
            )


_HTML_ENV = ImmutableSandboxedEnvironment(
    undefined=_SettingsAwareUndefined, autoescape=True, keep_trailing_newline=True
)
_TEXT_ENV = ImmutableSandboxedEnvironment(
    undefined=_SettingsAwareUndefined, autoescape=False, keep_trailing_newline=True
)


@functools.lru_cache(maxsize=1024)
def _compile(kind: str, source: str) -> jinja2.Template:
    """Compiled templates, cached: a shoot renders the same sources for every recipient."""
    env = _HTML_ENV if kind == "html" else _TEXT_ENV
    return env.from_string(source)


@dataclass(frozen=True)
class Template:
    """A self-managed email template (seed 004's ``SelfManagedEmailTemplate``).

    The sources are Jinja2 strings rendered with ``settings`` (the shoot's TemplateSettings),
    ``user`` (the recipient's user_context), ``recipient`` (user_ref, email_address),
    ``email_log_id``, ``campaign_name``, ``blocks`` (the custom blocks of the shoot's
    variation, rendered), ``custom_blocks_variation_id`` and whatever ``get_template_data``
    adds. ``custom_blocks`` are the template's default blocks (a shoot's replace them by name and
    variation).
    ``required_settings`` are checked before a shoot is scheduled or sent, so a missing one
    stops the shoot up front instead of failing every recipient. ``text`` defaults to the HTML
    converted to plain text.
    """

    name: str
    subject: str
    html: str
    text: str | None = None
    pre_header: str = ""
    title: str = ""
    required_settings: tuple[str, ...] = ()
    preview_context: dict[str, Any] = field(default_factory=dict, compare=False)  # for previews
    custom_blocks: tuple[CustomBlock, ...] = ()

    def get_template_data(
        self, recipient: EmailRecipient, settings: TemplateSettings
    ) -> dict[str, Any]:
        """Extra variables for the sources (seed 004's data generator); override to compute.

        Raise ``SkippingEmailSendingException(reason)`` to skip this recipient: their email log
        is ``skipped`` with that reason and the others are sent."""
        return {}

    def get_attachments(self, recipient: EmailRecipient, settings: TemplateSettings) -> Any:
        """Files to attach to this recipient's message (seed 004): a dict ``{filename:
        content}`` or a list of dicts with ``filename`` and ``content`` (bytes or str, and
        optionally ``content_type``). None by default; override to attach."""
        return None

    def validate_settings(self, settings: Mapping[str, Any]) -> TemplateSettings:
        """Wrap ``settings`` and fail fast on the first required key that is missing."""
        wrapped = TemplateSettings(settings, template_name=self.name)
        for key in self.required_settings:
            if key not in wrapped:
                raise TemplateSettingsMissingKeyError(key, self.name)
        return wrapped

    def render(
        self,
        recipient: EmailRecipient,
        settings: Mapping[str, Any],
        *,
        email_log_id: str | None = None,
        campaign_name: str | None = None,
        blocks: Mapping[str, str] | None = None,
        variation_id: str | None = None,
    ) -> EmailContent:
        """Render every part for one recipient, with the custom ``blocks`` (name -> source,
        chosen for ``variation_id`` by ``custom_blocks.select_blocks``; None: the template's
        default blocks) and the attachments.

        Raises TemplateSettingsMissingKeyError (the shoot's fault), TemplateRenderingError
        (this recipient's data, or the template's syntax) or SkippingEmailSendingException
        (campaign code decided this recipient gets nothing). ``settings`` is never modified: the
        render sees a deep copy of its own.
        """
        if blocks is None:
            blocks = select_blocks(self.custom_blocks, (), None, where=f"template {self.name!r}")
        try:
            # A fresh context per recipient: nothing this render does can leak into another.
            wrapped = TemplateSettings(copy.deepcopy(dict(settings)), template_name=self.name)
            user = copy.deepcopy(dict(recipient.user_context))
        except Exception as exc:
            raise TemplateRenderingError(
                f"template {self.name!r}: settings or user context are not plain data: {exc}"
            ) from exc
        context: dict[str, Any] = {
            "settings": wrapped,
            "user": user,
            "recipient": {
                "user_ref": recipient.user_ref,
                "email_address": recipient.email_address,
            },
            "email_log_id": email_log_id or "",
            "campaign_name": campaign_name or "",
            "custom_blocks_variation_id": variation_id,
        }
        template_data: dict[str, Any] = {}
        try:
            template_data = dict(self.get_template_data(recipient, wrapped))
            context.update(template_data)
            # blocks see the same context as the template; their HTML is autoescaped already
            context["blocks"] = {
                name: Markup(_compile("html", source).render(context))
                for name, source in blocks.items()
            }
            subject = _one_line(_compile("text", self.subject).render(context))
            pre_header = _one_line(_compile("text", self.pre_header).render(context))
            body = _compile("html", self.html).render(context)
            text = (
                _compile("text", self.text).render(context)
                if self.text is not None
                else html_to_text(body)
            )
            attachments = attachments_from(
                self.get_attachments(recipient, wrapped), template_name=self.name
            )
        except (
            TemplateSettingsMissingKeyError, TemplateRenderingError, SkippingEmailSendingException
        ):  # fmt: skip
            raise
        except jinja2.TemplateError as exc:
            raise TemplateRenderingError(
                f"template {self.name!r} failed for {recipient.email_address}: {exc}"
            ) from exc
        except Exception as exc:  # the recipient's data met the template: theirs alone
            raise TemplateRenderingError(
                f"template {self.name!r} failed for {recipient.email_address}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not subject:
            raise TemplateRenderingError(f"template {self.name!r} rendered an empty subject")
        return EmailContent(
            subject=subject,
            pre_header=pre_header,
            html=insert_pre_header(body, pre_header),
            text=text,
            template_name=self.name,
            template_data=template_data,
            user_context=user,
            template_settings=dict(wrapped),
            attachments=attachments,
        )


def _one_line(value: str) -> str:
    return " ".join(value.split())


_BODY_OPEN = re.compile(r"<body[^>]*>", re.IGNORECASE)


def insert_pre_header(body: str, pre_header: str) -> str:
    """Put the pre-header first in the body, hidden: inbox lists show it after the subject."""
    if not pre_header:
        return body
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        f"{html_lib.escape(pre_header)}</div>"
    )
    match = _BODY_OPEN.search(body)
    if match is None:
        return hidden + body
    return body[: match.end()] + hidden + body[match.end() :]


_TAG = re.compile(r"<[^>]+>")
_DROP = re.compile(r"<(script|style|head)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"<a\s[^>]*href=\"([^\"]+)\"[^>]*>(.*?)</a>", re.IGNORECASE | re.DOTALL)


def html_to_text(body: str) -> str:
    """A readable plain-text alternative of an HTML body (links kept as ``text (url)``)."""
    text = _DROP.sub("", body)
    text = _LINK.sub(lambda m: f"{_TAG.sub('', m.group(2)).strip()} ({m.group(1)})", text)
    text = _BREAK.sub("\n", text)
    text = html_lib.unescape(_TAG.sub("", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"
