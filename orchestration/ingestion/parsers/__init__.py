"""Pure parsers: a provider's record -> rows of its ``raw`` table. No I/O, no network.

``common`` (normalisation helpers, event keys, ``RecordError``), ``jsonstream`` (splits a stream
of concatenated or newline-separated JSON into records), and one module per provider: ``ses``,
``pinpoint``, ``emailit``, ``tracker``.
"""
