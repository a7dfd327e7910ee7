"""Jobs spanning domains: the whole analytics pipeline and the dbt-only rebuild."""

from __future__ import annotations

import dagster as dg

ingest_and_build = dg.define_asset_job(
    "ingest_and_build",
    selection=dg.AssetSelection.groups("ingestion").downstream()
    | dg.AssetSelection.groups("seeds"),
    description="Load everything new from every provider, then build all dbt models and tests.",
)

build_marts = dg.define_asset_job(
    "build_marts",
    selection=dg.AssetSelection.groups("seeds", "staging", "intermediate", "marts"),
    description="Run `dbt build` through Dagster so the marts are current.",
)

defs = dg.Definitions(jobs=[ingest_and_build, build_marts])
