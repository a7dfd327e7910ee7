"""The Mailtrail code location: assembles the domains under ``defs/`` with the resources and the
campaign modules its settings name, and nothing else."""

import gc
import warnings

import dagster as dg
import dagster_dbt  # noqa: F401 - imported before the freeze below, as Dagster is

# What Dagster, dagster-dbt and dbt import (~300k objects) lives as long as the process: frozen,
# it is left out of every full garbage collection from here on. Without it, the objects
# Mailtrail's modules create (the dbt manifest read by @dbt_assets, most of all) set off full
# collections over that whole heap (decision 63).
gc.freeze()

from orchestration.campaigns.modules import load_campaign_modules
from orchestration.defs import campaigns, jobs
from orchestration.defs.deployment import build_resources
from orchestration.defs.enrichment import assets as enrichment
from orchestration.defs.execution import executor_for
from orchestration.defs.ingestion import (
    backfill,
    emailit,
    freshness,
    pinpoint,
    ses,
    ses_sqs,
    tracker,
)
from orchestration.defs.transform import daily, dbt
from orchestration.settings import load_settings

# Dagster copies every sensor through the beta `owners` parameter and warns each time (16 lines
# in `mailtrail dev`'s terminal per load); nothing here passes it to a sensor.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition")

settings = load_settings()
load_campaign_modules(settings.campaign_modules)

defs = dg.Definitions.merge(
    ses.defs,
    pinpoint.defs,
    emailit.defs,
    tracker.defs,
    ses_sqs.defs,
    backfill.defs,
    freshness.defs,
    enrichment.defs,
    dbt.defs,
    daily.defs,
    jobs.defs,
    campaigns.defs,
    # Steps run in their run's process unless MAILTRAIL_EXECUTOR says otherwise (defs/execution).
    dg.Definitions(resources=build_resources(settings), executor=executor_for(settings)),
)
