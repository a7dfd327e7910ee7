"""The ``mailtrail`` command. The Dagster code location never imports this package: the CLI is a
client of the code location, running its jobs through the Dagster instance."""
