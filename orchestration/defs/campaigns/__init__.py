"""Campaign orchestration in Dagster: plan (schedule), dispatch (sensor, one run per shoot),
webhooks (sensor), the ``emailing`` resource, and the demo campaign's registration.

Campaign code registers into ``orchestration.campaigns.registry`` when imported; importing it here
means every Dagster process (webserver, daemon, run workers) knows the same campaigns.
"""

import dagster as dg

from orchestration.defs.campaigns import dispatch, planning, webhooks
from orchestration.defs.campaigns.resources import emailing_resource
from orchestration.demo.campaign import register_demo

register_demo()

defs = dg.Definitions.merge(
    planning.defs,
    dispatch.defs,
    webhooks.defs,
    dg.Definitions(resources={"emailing": emailing_resource()}),
)
