"""Backfill throughput against the API's rate-limit ceiling (``stkpi bench``)."""
