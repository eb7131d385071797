"""The HTTP layer shared by every provider source (auth, retries, limits, counters, errors)."""
