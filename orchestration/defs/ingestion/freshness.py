"""Per-provider freshness of the raw tables, as Dagster asset checks, and the sensor running them.

An ingestion asset's "last updated" means "last received something": every ingestion run records
the provider's last delivery (``raw.ingested_objects``) as ``dagster/last_updated_timestamp`` on
its materialization or, when it found nothing new, on its observation. A provider silent for longer
than its window turns its check to a warning in the UI. Windows are per provider because their
traffic differs: delivery events flow whenever mail is sent, opens trickle in.

A provider API that is not configured (Emailit without its key, the tracker without its URL) is
off, not late: its check passes and says so, instead of an orange badge on a table nothing is
meant to fill. The landing providers (SES, Pinpoint) are always on: their folder or bucket is.

Dagster's ``build_last_update_freshness_checks`` cannot ask a resource whether a provider is on,
hence this check; it reads the last update the same way and records
``dagster/fresh_until_timestamp``, so Dagster's freshness sensor evaluates it only when its result
may change. That sensor targets a job (``raw_freshness_checks``) so the UI names its target.
"""

import time
import warnings
from datetime import timedelta

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_factories.utils import (
    retrieve_last_update_record,
    retrieve_timestamp_from_record,
)

from orchestration.defs.ingestion.api_resources import EmailitResource, TrackerResource

FRESHNESS_WINDOWS: dict[str, timedelta] = {
    "ses_events": timedelta(hours=6),
    "pinpoint_events": timedelta(hours=6),
    "emailit_events": timedelta(hours=6),
    "tracker_open_events": timedelta(hours=24),
}
CHECK_NAME = "freshness_check"
FRESH_UNTIL = "dagster/fresh_until_timestamp"  # read by Dagster's freshness sensor
LAST_UPDATED = "dagster/last_updated_timestamp"


def _window_words(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} hours"


@dg.multi_asset_check(
    name="raw_freshness",
    specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=dg.AssetKey(["raw", table]),
            description=(
                f"Warns when `raw.{table}` has received nothing for {_window_words(window)} "
                "(its provider's last delivery); passes, saying so, when the provider is not "
                "configured."
            ),
        )
        for table, window in FRESHNESS_WINDOWS.items()
    ],
    can_subset=True,
)
def raw_freshness(
    context: dg.AssetCheckExecutionContext, emailit: EmailitResource, tracker: TrackerResource
):
    apis = {"emailit_events": ("Emailit", emailit), "tracker_open_events": ("the tracker", tracker)}
    now = time.time()
    for check_key in context.selected_asset_check_keys:
        table = check_key.asset_key.path[-1]
        window = FRESHNESS_WINDOWS[table]
        provider, api = apis.get(table, (None, None))
        if api is not None and not api.configured:
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=CHECK_NAME,
                passed=True,
                description=f"not configured: {provider} is off ({', '.join(api.missing)} not set)",
                # re-evaluated after a window, as a fresh provider would be
                metadata={
                    "configured": False,
                    FRESH_UNTIL: dg.MetadataValue.timestamp(now + window.total_seconds()),
                },
            )
            continue
        yield _evaluate(context.instance, check_key.asset_key, window, now)


def _evaluate(
    instance: dg.DagsterInstance, key: dg.AssetKey, window: timedelta, now: float
) -> dg.AssetCheckResult:
    record = retrieve_last_update_record(instance=instance, asset_key=key, partition_key=None)
    updated = retrieve_timestamp_from_record(record) if record else None
    passed = updated is not None and updated >= now - window.total_seconds()
    metadata: dict[str, object] = {
        "configured": True,
        "window_hours": window.total_seconds() / 3600,
    }
    if updated is None:
        description = "nothing received yet"
    else:
        metadata[LAST_UPDATED] = dg.MetadataValue.timestamp(updated)
        age = (now - updated) / 3600
        description = f"last delivery {age:.1f} hours ago (window {_window_words(window)})"
    if passed:
        metadata[FRESH_UNTIL] = dg.MetadataValue.timestamp(updated + window.total_seconds())
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


freshness_checks = [raw_freshness]

raw_freshness_checks = dg.define_asset_job(
    "raw_freshness_checks",
    selection=dg.AssetSelection.checks(raw_freshness),
    description="Evaluate the freshness checks of the raw provider tables.",
)

# Dagster 1.13 marks the builder as superseded by FreshnessPolicy; checks are kept because they
# show as pass/fail with a history (and can say "not configured"): the warning is silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="raw_freshness_sensor",
        minimum_interval_seconds=10 * 60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
# The same evaluation, targeting the job: the UI then shows `raw_freshness_checks` as the
# sensor's target instead of the Python repr of a check selection.
freshness_sensor = dg.SensorDefinition(
    name=freshness_sensor.name,
    evaluation_fn=freshness_sensor._raw_fn,
    minimum_interval_seconds=10 * 60,
    description=(
        "Every 10 minutes, runs the freshness checks of the raw provider tables whose result "
        "may have changed (never run, or past their `dagster/fresh_until_timestamp`)."
    ),
    job=raw_freshness_checks,
    default_status=dg.DefaultSensorStatus.RUNNING,
)

defs = dg.Definitions(
    asset_checks=freshness_checks, jobs=[raw_freshness_checks], sensors=[freshness_sensor]
)
