"""One dlt source per CI/CD provider, plus the shared HTTP layer in `sources.common`."""
