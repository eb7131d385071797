"""Pipeline assembly and the `cicd-etl` command line."""
