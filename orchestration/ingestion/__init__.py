"""Ingestion: provider events -> ``raw.*``, exactly once. No Dagster here (that is
:mod:`orchestration.defs.ingestion`, which calls into this package).

Layers, each using only the ones above it:

* ``parsers/``: pure - one provider record -> rows, the JSON stream splitter, shared helpers and
  ``RecordError``; no I/O, no network.
* ``sources``: ``RecordSource`` and the one registry of sources (ses, pinpoint, emailit, tracker),
  each saying how its records arrive (landing objects or an API); ``source(name)``.
* ``clients/``: HTTP I/O - the JSON-over-HTTP client with its retry rules, and the Emailit and
  tracker API clients (with the pure cursor logic of their incremental reads).
* ``landing``: the landing location (a folder or S3): listing and opening objects.
* ``loader``: the COPY loader - one object per transaction, the manifest, ``LoadCounts``.
* ``objects``, ``apis``, ``sqs``: the ways in - landing objects, the provider APIs (and files of
  saved responses), and SES notifications through SNS -> SQS.
"""
