"""Per-provider freshness of the raw tables, as Dagster asset checks, and the sensor running them.

An ingestion asset's "last updated" means "last received something": the API assets and the SQS
job materialise only when rows loaded (a poll that found nothing records an observation), and
the landing assets, which materialise on every run so the dbt step after them runs, carry the
provider's last delivery (``raw.ingested_objects``) as ``dagster/last_updated_timestamp``. A
provider silent for longer than its window turns its check to a warning in the UI. Windows are per provider because their
traffic differs: delivery events flow whenever mail is sent, opens trickle in.

Dagster 1.13 marks these builders as superseded by ``FreshnessPolicy`` attached to the assets.
Checks are used here because they cover every raw asset from one place - including the SES asset,
which another module defines - and show up as pass/fail checks with a history; the warning is
silenced on purpose.
"""

import warnings
from datetime import timedelta

import dagster as dg

FRESHNESS_WINDOWS: dict[str, timedelta] = {
    "ses_events": timedelta(hours=6),
    "pinpoint_events": timedelta(hours=6),
    "emailit_events": timedelta(hours=6),
    "tracker_open_events": timedelta(hours=24),
}

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = [
        check
        for table, window in FRESHNESS_WINDOWS.items()
        for check in dg.build_last_update_freshness_checks(
            assets=[dg.AssetKey(["raw", table])], lower_bound_delta=window
        )
    ]
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="raw_freshness_sensor",
        minimum_interval_seconds=10 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )

defs = dg.Definitions(asset_checks=freshness_checks, sensors=[freshness_sensor])
