"""Statistics (seed 004 8(6)): hourly, daily and monthly waiting and service figures from the event log, with Polars."""

#: The granularities, finest first (kept here so the command line need not load Polars).
GRANULARITIES = ("hour", "day", "month")
