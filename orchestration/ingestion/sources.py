"""The sources Mailtrail ingests: the one registry, and what each source is.

A :class:`RecordSource` says where a provider's records go (the ``raw`` table and its columns),
which pure parser turns one record into rows, and how the records arrive:

* ``"landing"``: Firehose-style objects under ``<landing>/<name>/`` (a folder or S3), loaded by
  :mod:`orchestration.ingestion.objects`. SES events may also come through SNS -> SQS
  (:mod:`orchestration.ingestion.sqs`), into the same table through the same parser.
* ``"api"``: an HTTP API read incrementally, or files of saved API responses
  (:mod:`orchestration.ingestion.apis`).

Adding a provider is a parser under ``parsers/`` plus one entry here (and its Dagster asset).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from orchestration.ingestion.parsers.emailit import EMAILIT_COLUMNS, parse_emailit_record
from orchestration.ingestion.parsers.pinpoint import PINPOINT_COLUMNS, parse_pinpoint_record
from orchestration.ingestion.parsers.ses import SES_COLUMNS, parse_ses_record
from orchestration.ingestion.parsers.tracker import TRACKER_COLUMNS, parse_tracker_record
from orchestration.settings import ConfigError

__all__ = [
    "EMAILIT",
    "PINPOINT",
    "SES",
    "SOURCES",
    "TRACKER",
    "Arrival",
    "Parser",
    "RecordSource",
    "source",
]

# A record parser: parsed JSON value + raw bytes -> rows (one per recipient) in ``columns`` order.
Parser = Callable[[Any, bytes], list[tuple]]

# How a source's records reach us (see the module docstring).
Arrival = Literal["landing", "api"]


@dataclass(frozen=True)
class RecordSource:
    """How one provider's records land: which table, which columns, which parser."""

    name: str
    table: str  # schema-qualified, e.g. raw.ses_events
    columns: tuple[str, ...]  # what ``parse`` returns; source_object/source_line are appended
    parse: Parser
    key_column: str = "event_key"
    arrives: Arrival = "landing"


SES = RecordSource(
    name="ses",
    table="raw.ses_events",
    columns=SES_COLUMNS,
    parse=parse_ses_record,
    arrives="landing",  # and SNS -> SQS
)
PINPOINT = RecordSource(
    name="pinpoint",
    table="raw.pinpoint_events",
    columns=PINPOINT_COLUMNS,
    parse=parse_pinpoint_record,
    arrives="landing",
)
EMAILIT = RecordSource(
    name="emailit",
    table="raw.emailit_events",
    columns=EMAILIT_COLUMNS,
    parse=parse_emailit_record,
    arrives="api",
)
TRACKER = RecordSource(
    name="tracker",
    table="raw.tracker_open_events",
    columns=TRACKER_COLUMNS,
    parse=parse_tracker_record,
    arrives="api",
)

# Every source, by name (the name is also its ``source`` in raw.ingested_objects).
SOURCES: dict[str, RecordSource] = {s.name: s for s in (SES, PINPOINT, EMAILIT, TRACKER)}


def source(name: str) -> RecordSource:
    """The source called ``name``; a ``ConfigError`` naming the known ones if there is none."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError(
            f"unknown provider {name!r}: expected one of {', '.join(sorted(SOURCES))}"
        ) from None
