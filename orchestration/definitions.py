"""The Mailtrail code location: assembles the domains under ``defs/`` and nothing else."""

from __future__ import annotations

import dagster as dg

from orchestration.defs import jobs
from orchestration.defs.ingestion import ses
from orchestration.defs.resources import default_resources
from orchestration.defs.transform import dbt

defs = dg.Definitions.merge(
    ses.defs,
    dbt.defs,
    jobs.defs,
    dg.Definitions(resources=default_resources()),
)
