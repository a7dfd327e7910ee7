"""The Mailtrail code location: assembles the domains under ``defs/`` and nothing else."""

from __future__ import annotations

import dagster as dg

from orchestration.defs import campaigns, jobs
from orchestration.defs.ingestion import emailit, freshness, pinpoint, ses, ses_sqs, tracker
from orchestration.defs.resources import default_resources
from orchestration.defs.transform import dbt

defs = dg.Definitions.merge(
    ses.defs,
    pinpoint.defs,
    emailit.defs,
    tracker.defs,
    ses_sqs.defs,
    freshness.defs,
    dbt.defs,
    jobs.defs,
    campaigns.defs,
    dg.Definitions(resources=default_resources()),
)
