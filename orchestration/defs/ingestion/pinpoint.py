"""Amazon Pinpoint email event stream (Firehose objects) -> ``raw.pinpoint_events``."""

from orchestration.defs.ingestion.landing_source import landing_source_defs
from orchestration.ingestion.sources import PINPOINT

defs = landing_source_defs(
    PINPOINT,
    description=(
        "Amazon Pinpoint email events from <landing>/pinpoint/: Firehose objects (gzip or plain, "
        "newline-separated or concatenated JSON) of every _email.* type. One row per event and "
        "recipient; duplicates counted, records of other channels and bad records quarantined in "
        "raw.rejected_records."
    ),
)
