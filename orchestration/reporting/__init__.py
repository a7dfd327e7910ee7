"""Reports for people who do not use a BI tool, read from the marts."""
