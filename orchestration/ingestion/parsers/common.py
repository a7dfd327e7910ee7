"""Helpers shared by the provider parsers: addresses, IP addresses, timestamps, event keys, and
the ``RecordError`` every parser raises for a record it cannot use.

Every provider parser normalises the same things the same way, so that rows from different
providers (and the dbt models on top of them) agree: lower-cased bare addresses, IPv4 written as
IPv4 even when a proxy reported it IPv6-mapped, timezone-aware UTC timestamps, and one event-key
recipe. These run per record on the loader's hot path, so they avoid regexes and allocations
where the common input needs no work.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "KEY_SEPARATOR",
    "RecordError",
    "event_key",
    "has_nul_escape",
    "key_timestamp",
    "normalize_address",
    "normalize_ip",
    "parse_epoch",
    "parse_timestamp",
]

# Joins the parts of an event key. A control character, so that no URL, user agent or address
# can shift text from one part into the next and make two different events hash alike.
KEY_SEPARATOR = "\x1f"


class RecordError(ValueError):
    """A record that cannot become rows; the message is the reason kept with its quarantined text."""


def normalize_address(value: Any) -> str | None:
    """Return the bare, lower-cased address of ``value`` ("Name <A@B.com>" -> "a@b.com").

    None for anything that is not a non-empty string.
    """
    if type(value) is not str:
        return None
    if "<" in value:
        start = value.rfind("<") + 1
        stop = value.find(">", start)
        value = value[start:stop] if stop >= 0 else value[start:]
    value = value.strip().lower()
    return value or None


def normalize_ip(value: Any) -> str | None:
    """Return ``value`` stripped, with an IPv6-mapped IPv4 ("::ffff:1.2.3.4") written as IPv4.

    Tracking pixels behind dual-stack proxies report the same client both ways; writing it one
    way keeps distinct-IP counts and geo lookups honest.
    """
    if type(value) is not str:
        return None
    value = value.strip()
    if value[:7].lower() == "::ffff:" and "." in value:
        value = value[7:]
    return value or None


def parse_timestamp(value: Any) -> datetime:
    """Parse an ISO-8601 timestamp ("2017-08-05T00:41:02.669Z") into an aware UTC datetime.

    A timestamp without an offset is taken as UTC, which is what every provider we read means.
    Raises ValueError with a short reason when ``value`` is missing or not a timestamp, or when
    its instant lies outside datetime's years 1..9999 once its offset is applied
    (``9999-12-31T23:59:59-01:00``), which would otherwise surface as an OverflowError.
    """
    if type(value) is not str or not value:
        raise ValueError("missing")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {value[:64]!r}") from None
    offset = parsed.utcoffset()
    if offset is None:
        return parsed.replace(tzinfo=UTC)
    if offset:
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"timestamp out of range in UTC: {value[:64]!r}") from None
    if parsed.tzinfo is not UTC:
        return parsed.replace(tzinfo=UTC)
    return parsed


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_epoch(value: Any, *, millis: bool = False) -> datetime:
    """Parse Unix time (seconds, or milliseconds with ``millis``) into an aware UTC datetime.

    Pinpoint sends epoch milliseconds as integers and Emailit epoch seconds as floats or numeric
    strings ("1727431822.8817"); integers go through timedelta so milliseconds stay exact.
    Raises ValueError with a short reason when ``value`` is missing or not a number.
    """
    if type(value) is str:
        try:
            value = float(value) if "." in value else int(value)
        except ValueError:
            raise ValueError(f"not a Unix time: {value[:64]!r}") from None
    try:
        if type(value) is int:
            return _EPOCH + (timedelta(milliseconds=value) if millis else timedelta(seconds=value))
        if type(value) is float and value == value:
            return _EPOCH + timedelta(seconds=value / 1000 if millis else value)
    except OverflowError:  # beyond datetime's range (year 1..9999)
        raise ValueError(f"Unix time out of range: {value!r}") from None
    if value is None:
        raise ValueError("missing")
    raise ValueError(f"not a Unix time: {str(value)[:64]!r}")


def key_timestamp(raw: str, parsed: datetime) -> str:
    """The instant as it goes into an event key: UTC ISO-8601 with ``Z``, in milliseconds
    (microseconds only when the instant has them).

    Equal instants give equal strings whatever offset or precision the provider wrote, so the
    same event keyed from two deliveries agrees. A ``raw`` timestamp already in that form (SES
    writes ``2017-08-05T00:41:02.669Z``) is used as is: rendering a datetime costs more than the
    rest of the key.
    """
    if len(raw) == 24 and raw[23] == "Z" and raw[19] == "." and raw[10] == "T":
        return raw
    naive = parsed.astimezone(UTC).replace(tzinfo=None)
    if naive.microsecond % 1000:
        return naive.isoformat(timespec="microseconds") + "Z"
    return naive.isoformat(timespec="milliseconds") + "Z"


def event_key(*parts: str | None) -> str:
    """A stable 32-hex-digit key for one event: blake2b-128 of its identifying parts.

    The same event delivered twice (a retried Firehose batch, or once through Firehose and once
    through SNS) has the same parts and therefore the same key; the loader uses it to deduplicate.
    None counts as an empty part.
    """
    joined = KEY_SEPARATOR.join([part or "" for part in parts])
    return _blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


_blake2b = hashlib.blake2b


def has_nul_escape(payload: str) -> bool:
    """True if the JSON text has a real ``\\u0000`` escape (not an escaped backslash before it):
    PostgreSQL jsonb cannot store that character, so such a record must be quarantined."""
    index = payload.find("\\u0000")
    while index >= 0:
        backslashes = 0
        while index - backslashes - 1 >= 0 and payload[index - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return True
        index = payload.find("\\u0000", index + 1)
    return False
