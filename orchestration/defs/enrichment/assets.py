"""Enrichment assets: each distinct user agent parsed once (``enrich/user_agents``) and each
distinct IP address located once (``enrich/ip_addresses``), from every provider's raw events,
before dbt reads them (models/staging/enrich).

They run in every provider pipeline and in ``ingest_and_build`` / ``build_marts`` (they are
downstream of the raw tables and upstream of dbt); a run with nothing new is cheap: one anti-join
of the distinct keys against what was already done.
"""

import dagster as dg

from orchestration.defs.ingestion.emailit import ASSET_KEY as EMAILIT_KEY
from orchestration.defs.ingestion.landing_source import landing_asset_key
from orchestration.defs.ingestion.tracker import ASSET_KEY as TRACKER_KEY
from orchestration.defs.resources import WarehouseResource
from orchestration.enrichment.ip_geo import GeoIpDatabase
from orchestration.enrichment.store import enrich_ip_addresses, enrich_user_agents
from orchestration.ingestion.sources import PINPOINT, SES

USER_AGENTS = dg.AssetKey(["enrich", "user_agents"])
IP_ADDRESSES = dg.AssetKey(["enrich", "ip_addresses"])
RAW_EVENTS = [landing_asset_key(SES), landing_asset_key(PINPOINT), EMAILIT_KEY, TRACKER_KEY]


class GeoIpResource(dg.ConfigurableResource):
    """The MaxMind-format database locating IP addresses (``MAILTRAIL_GEOIP_DATABASE``)."""

    database_path: str = ""

    def open(self) -> GeoIpDatabase | None:
        """The open database, or None when none is configured."""
        if not self.database_path:
            return None
        try:
            return GeoIpDatabase(self.database_path)
        except ValueError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None


@dg.asset(
    key=USER_AGENTS,
    deps=RAW_EVENTS,
    group_name="enrichment",
    kinds={"postgres", "python"},
    description=(
        "Every distinct open/click user agent parsed once with ua-parser: device_type "
        "(phone/computer/other, tablets as phone), os, client, is_bot."
    ),
)
def user_agents(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with warehouse.connect(autocommit=True) as conn:
        counts = enrich_user_agents(conn)
    context.log.info(
        "user agents: %d not parsed yet, %d recognised", counts.distinct_new, counts.with_result
    )
    return dg.MaterializeResult(metadata=counts.as_metadata())


@dg.asset(
    key=IP_ADDRESSES,
    deps=RAW_EVENTS,
    group_name="enrichment",
    kinds={"postgres", "python"},
    description=(
        "Every distinct open/click IP address validated once and, with MAILTRAIL_GEOIP_DATABASE, "
        "located once per database build (country, region, city, coordinates)."
    ),
)
def ip_addresses(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, geoip: GeoIpResource
) -> dg.MaterializeResult:
    database = geoip.open()
    try:
        with warehouse.connect(autocommit=True) as conn:
            counts = enrich_ip_addresses(conn, database)
    finally:
        if database is not None:
            database.close()
    context.log.info(
        "IP addresses: %d not looked up yet, %d located%s",
        counts.distinct_new,
        counts.with_result,
        "" if database else " (no MAILTRAIL_GEOIP_DATABASE: validated only)",
    )
    return dg.MaterializeResult(
        metadata={**counts.as_metadata(), "geoip_build": database.build if database else ""}
    )


defs = dg.Definitions(assets=[user_agents, ip_addresses])
