"""Nothing leaves the machine but requests to the configured providers (contract §5), whatever the
working directory: no telemetry from dlt or dbt, no DuckDB extension downloads.

dlt sends anonymous usage events unless its `runtime.dlthub_telemetry` setting is false, and dbt unless
`send_anonymous_usage_stats` is false; both read the environment, so `keep_private()` sets them there as
the package is imported, before either library reads its configuration (a checkout's `.dlt/config.toml`
is not needed for this). Child processes (the simulator, the report's kernel) inherit them.

DuckDB's Python client installs and loads "known" extensions on demand from the network by default,
e.g. the SQLite scanner when it is pointed at a SQLite file. Every DuckDB connection cicd-etl opens
passes `DUCKDB_CONFIG` when it connects (a setting changed later would come too late for the file it
opens): `connect_duckdb` for our own, `pipelines.config.PrivateDuckDbCredentials` for dlt's, and the
`config_options` of `sql/profiles.yml` for dbt's. DuckDB also refuses a second connection to a file
with a different configuration in one process, so these must stay equal (tests/test_privacy.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
TELEMETRY_OFF = {"RUNTIME__DLTHUB_TELEMETRY": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def keep_private() -> None:
    """Turn dlt's and dbt's usage telemetry off for this process and its children."""
    os.environ.update(TELEMETRY_OFF)
    if "dlt.common.runtime.anon_tracker" in sys.modules:  # a host process started dlt before us
        from dlt.common.runtime.anon_tracker import disable_anon_tracker

        disable_anon_tracker()


def connect_duckdb(path: str | Path, read_only: bool = False):
    """`duckdb.connect` that never installs or loads an extension by itself."""
    import duckdb

    return duckdb.connect(str(path), read_only=read_only, config=DUCKDB_CONFIG)
