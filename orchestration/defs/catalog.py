"""What the Dagster UI shows about every asset and check, from one place: who owns it, which group
it is in, and descriptions that survive the UI's Markdown.

The UI renders descriptions as Markdown with HTML allowed, so a placeholder such as
``<landing>/ses/`` or ``stg_<provider>__events`` is eaten as an unknown tag ("events from /ses/").
:func:`markdown_safe` puts such words in backticks (code spans are shown verbatim).
"""

from __future__ import annotations

import re

DATA_OWNER = "team:data"  # ingestion and the dbt models
CAMPAIGN_OWNER = "team:crm"  # the campaign tables

INGESTION_GROUP = "ingestion"
TRANSFORM_GROUP = "transform"
CAMPAIGNS_GROUP = "campaigns"

# A word holding a <placeholder>, without the punctuation that ends a sentence or clause.
_PLACEHOLDER_WORD = re.compile(r"[^\s`(]*<[A-Za-z_][\w-]*>[^\s`]*?(?=[.,;:)]*(?:\s|$))")


def markdown_safe(text: str) -> str:
    """``text`` with every word holding a ``<placeholder>`` in backticks, outside code spans."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):  # even parts are outside code spans
        parts[index] = _PLACEHOLDER_WORD.sub(lambda m: f"`{m.group(0)}`", parts[index])
    return "`".join(parts)
