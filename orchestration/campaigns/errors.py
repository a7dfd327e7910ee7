"""Errors of the emailing domain.

Business errors (``EmailingError``) are mistakes a campaign author or operator can fix - a missing
template setting, an unknown segment, a shoot in the wrong state - and their message says what
to change. They are kept apart from technical failures (database down, provider outage) so that
callers can show the former to people and retry the latter.
"""

from __future__ import annotations


class EmailingError(Exception):
    """A business error of the emailing domain (seed 004's ``EmailingErrorCode``)."""

    code: str = "emailing_error"


class NotRegisteredError(EmailingError, LookupError):
    """A campaign, segment or template name that the registry does not know."""

    code = "not_registered"

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        listing = ", ".join(sorted(known)) or "none registered"
        super().__init__(f"unknown {kind} {name!r} (known: {listing})")
        self.kind = kind
        self.name = name


class TemplateSettingsMissingKeyError(EmailingError, KeyError):
    """A template read a setting that the shoot did not provide.

    Also a ``KeyError`` so that ``dict`` idioms keep working; inside a template the lookup yields
    an undefined value (so ``is defined`` and ``default`` still work) that raises this error,
    not Jinja's generic one, as soon as it is used.
    """

    code = "template_settings_not_found"

    def __init__(self, key: str, template_name: str | None) -> None:
        where = f"template {template_name!r}" if template_name else "the template"
        super().__init__(
            f"missing required template setting {key!r} for {where}: "
            f"add it to the shoot's template_settings"
        )
        self.key = key
        self.template_name = template_name

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TemplateRenderingError(EmailingError):
    """A template failed to render for one recipient (bad syntax, undefined user variable)."""

    code = "rendering_failed"


class CustomBlocksError(EmailingError, ValueError):
    """A shoot's custom blocks cannot render its variation (a block without content for it, an
    unknown variation id, a malformed block): reported when the shoot is scheduled, patched or
    planned, not by every recipient."""

    code = "custom_blocks_invalid"


class InvalidMessageError(EmailingError, ValueError):
    """A message that cannot be sent as given (a raw MIME message without recipient, a bad
    attachment)."""

    code = "invalid_message"


class ShootStateError(EmailingError):
    """An operation that the shoot's current state does not allow (e.g. patching a sent shoot)."""

    code = "invalid_shoot_state"


class ShootNotFoundError(EmailingError, LookupError):
    code = "shoot_not_found"

    def __init__(self, shoot_id: object) -> None:
        super().__init__(f"no shoot with id {shoot_id}")
        self.shoot_id = shoot_id


class SendFailedError(EmailingError):
    """The provider refused or failed a message (raised by ``send_email`` unless silent)."""

    code = "send_failed"


class SkippingEmailSendingException(Exception):
    """Raised by campaign code (a template's ``get_template_data``, seed 004's data generator)
    when one recipient must not get this email, e.g. nothing new to tell them.

    Not an error: that recipient's email log is ``skipped`` with the exception's message as its
    reason, and the other recipients are sent as usual.
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason or "skipped by the template's data generator"


class MartMissingError(RuntimeError):
    """A dbt mart the campaigns read is not in the warehouse: dbt has never built it there.

    Not a business error: the warehouse is not ready. The message is the one line to act on.
    """

    def __init__(self, mart: str) -> None:
        super().__init__(
            f"{mart} does not exist: run `mailtrail build` (the build_marts job) to build the marts"
        )
        self.mart = mart
