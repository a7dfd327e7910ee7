"""Simulated email: what providers report about sent messages, and how it lands.

Runtime code (the simulator sender) and generators (the demo's, the benchmarks') share it:

* ``message_life``: what happens to a sent message (delivery, bounces, delays, opens incl.
  machine opens, clicks incl. scanner clicks, unsubscribes, complaints), provider-neutral;
* ``clients``: who opens and clicks: IP addresses and user agents;
* ``ses_records`` / ``pinpoint_records``: the providers' event records;
* ``ses_events`` / ``pinpoint_events``: a message's life as each provider reports it;
* ``objects``: Firehose-style landing objects (batching, retries, layouts, names, writing);
* ``ids``: random identifiers from a seeded generator.
"""
