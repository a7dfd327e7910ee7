"""Amazon SES event publishing (Firehose objects, SNS notifications) -> ``raw.ses_events``."""

from __future__ import annotations

from orchestration.defs.ingestion.landing_source import landing_source_defs
from orchestration.ingestion.sources import SES

defs = landing_source_defs(
    SES,
    description=(
        "Amazon SES events from <landing>/ses/: Firehose objects (gzip or plain, newline-separated "
        "or concatenated JSON), event-publishing records, classic SNS notifications and SNS "
        "envelopes. One row per event and recipient; duplicates counted, bad records quarantined "
        "in raw.rejected_records."
    ),
)
