"""A template's attachments (seed 004's ``get_attachments``), as the senders carry them.

``Template.get_attachments`` returns them as a dict ``{filename: content}`` or as a list of dicts
``{"filename": ..., "content": ...}`` (optionally ``"content_type"``), content as ``bytes`` or
``str`` (UTF-8). The MIME type is guessed from the file name unless given. The names are what
the email log records (``attachment_filenames``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

from orchestration.campaigns.errors import TemplateRenderingError
from orchestration.senders.base import Attachment


def attachments_from(value: Any, *, template_name: str) -> tuple[Attachment, ...]:
    """Normalise what ``get_attachments`` returned; ``TemplateRenderingError`` naming the
    template and the attachment when it is not one of the forms above."""
    if not value:
        return ()
    if isinstance(value, Mapping):
        items = [{"filename": name, "content": content} for name, content in value.items()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TemplateRenderingError(
            f"template {template_name!r}: get_attachments must return a dict or a list of dicts,"
            f" got {type(value).__name__}"
        )
    return tuple(_attachment(item, template_name) for item in items)


def _attachment(item: Any, template_name: str) -> Attachment:
    if isinstance(item, Attachment):
        return item
    if not isinstance(item, Mapping) or not {"filename", "content"} <= item.keys():
        raise TemplateRenderingError(
            f"template {template_name!r}: an attachment is a dict with filename and content,"
            f" got {item!r:.80}"
        )
    filename, content = item["filename"], item["content"]
    if (
        not isinstance(filename, str)
        or not filename.strip()
        or any(c in filename for c in "\r\n/\\")
    ):
        raise TemplateRenderingError(
            f"template {template_name!r}: attachment file name {filename!r} must be a plain,"
            " non-empty file name"
        )
    if isinstance(content, str):
        content = content.encode()
    if not isinstance(content, (bytes, bytearray)):
        raise TemplateRenderingError(
            f"template {template_name!r}: attachment {filename!r} content must be bytes or str,"
            f" got {type(content).__name__}"
        )
    content_type = item.get("content_type") or (
        mimetypes.guess_type(filename)[0] or "application/octet-stream"
    )
    return Attachment(filename.strip(), bytes(content), content_type)
