"""Pipeline assembly and the `cicd-etl` command line."""

from pipelines.privacy import keep_private

keep_private()  # before dlt or dbt read their settings: see pipelines/privacy.py
