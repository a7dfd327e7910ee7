"""The resources of a deployment, declared from its settings (``orchestration.settings``).

This is the one place resources meet configuration. Plain settings become plain fields (visible
in the UI's resource page); secrets become ``dg.EnvVar`` fields (the UI shows the variable's name,
never its value); the warehouse URL is always ``dg.EnvVar("MAILTRAIL_DATABASE_URL")``, which
``mailtrail`` sets at start-up when the embedded server is used.
"""

import dagster as dg

from orchestration.defs.campaigns.alerts import AlertWebhookResource
from orchestration.defs.campaigns.resources import EmailingResource
from orchestration.defs.enrichment.assets import GeoIpResource
from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource
from orchestration.defs.ingestion.ses_sqs import SesQueueResource
from orchestration.defs.resources import LandingResource, WarehouseResource, secret
from orchestration.settings import Settings


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    warehouse = WarehouseResource(
        database_url=dg.EnvVar("MAILTRAIL_DATABASE_URL"), load_streams=settings.load_streams
    )
    return {
        "warehouse": warehouse,
        "landing": LandingResource(url=settings.landing),
        "emailing": EmailingResource.from_settings(settings, warehouse),
        "emailit": EmailitResource(
            base_url=settings.emailit_base_url or "",
            api_key=secret(settings, "emailit_api_key") or "",
        ),
        "tracker": TrackerResource(
            base_url=settings.tracker_base_url or "",
            api_token=secret(settings, "tracker_api_token") or "",
        ),
        "ses_queue": SesQueueResource(
            queue_url=settings.ses_queue_url or "", endpoint_url=settings.aws_endpoint_url
        ),
        "alerts": AlertWebhookResource.from_settings(settings),
        "geoip": GeoIpResource(database_path=str(settings.geoip_database or "")),
    }
