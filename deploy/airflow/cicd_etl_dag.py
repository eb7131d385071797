"""cicd-etl on Airflow: copy this file into the `dags/` folder of an Airflow whose environment has
`pip install 'cicd-etl[airflow]'` (see docs/scheduling.md, section Airflow).

Provider settings are the SOURCES__... variables of `cicd-etl run`: set them in the workers' environment,
or put a secrets.toml in the Airflow Variable `dlt_secrets_toml` (dlt reads it inside tasks).
"""

import os

from pipelines.airflow_dag import cicd_etl_dag

dag = cicd_etl_dag(
    os.environ.get("CICD_ETL_DAG_ID", "cicd_etl"),
    schedule=os.environ.get("CICD_ETL_SCHEDULE", "*/30 * * * *"),
    destination=os.environ.get("CICD_ETL_DESTINATION", "duckdb"),
    duckdb_path=os.environ.get("CICD_ETL_DUCKDB", "/srv/cicd-etl/cicd.duckdb"),
    tags=["cicd-etl"],
)
