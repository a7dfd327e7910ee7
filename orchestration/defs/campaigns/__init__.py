"""Campaign orchestration in Dagster: the campaign tables as assets, planning (job + schedule),
dispatch (job + sensor, one run per shoot), the send queue (job + sensor, one run per
priority), webhooks (job + sensor) and the run-failure alerts
(a sensor watching every job of the code location).

Which campaigns exist is configuration: the code location imports the modules named in
``MAILTRAIL_CAMPAIGNS`` (``orchestration.campaigns.modules``); nothing is registered here.
"""

import dagster as dg

from orchestration.defs.campaigns import (
    alerts,
    assets,
    dispatch,
    planning,
    send_queue,
    webhooks,
)

defs = dg.Definitions.merge(
    assets.defs, planning.defs, dispatch.defs, send_queue.defs, webhooks.defs, alerts.defs
)
