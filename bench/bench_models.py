"""The SQL models (dbt) at scale: load a simulator world once, then time `cicd-etl models` on it.

Phase 1 (load): start the simulator in its own process (``simulator.launch``, no latency, fixed clock),
load all four providers through the real sources (``pipelines.runner.load_providers``) into a DuckDB
file and into a PostgreSQL database (``--postgres URL``, default $CICD_ETL_TEST_POSTGRES; the bench
creates database ``cicd_bench_models_<scale>``). Phase 2 (models), per engine:

  cold build      ``build_models()`` = dbt build (seeds + models + data tests), no partial-parse cache
  warm build      the same again (dbt reuses target/partial_parse.msgpack: same profile, same vars)
  models only     ``build_models(run_tests=False)`` (seeds + models), warm parse

and where the time goes: dbt parse (cold and warm, measured with ``dbt parse``), and per resource type
the wall span and summed node time from run_results.json, plus the slowest models and tests.

    .venv/bin/python bench/bench_models.py --scale large                  # load, then models
    .venv/bin/python bench/bench_models.py --scale large --skip-load      # models on the kept load
    .venv/bin/python bench/bench_models.py --scale large --skip-load --write   # + BENCHMARKS.md

    .venv/bin/python bench/bench_models.py --scale small --engines duckdb --build-once --snapshot before
    .venv/bin/python bench/bench_models.py --scale small --engines duckdb --skip-load --build-once \
        --compare before                                                   # marts row for row vs before

The loaded databases are kept in ``--work`` (default /tmp/cicd-bench-models-<scale>) and the
PostgreSQL database, so the models phase can be repeated. ``--snapshot NAME`` copies every mart of the
DuckDB build into ``--work``/marts-NAME.duckdb; ``--compare NAME`` checks the current marts against it
with ``EXCEPT ALL`` both ways (a refactoring that must not change a single row), exiting 1 on any
difference. ``--write`` replaces the
``## Models (dbt)`` section of BENCHMARKS.md with the figures (the load figures come from the
``load.json`` the load phase wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import models as models_module  # noqa: E402
from pipelines.config import Destination, temporary_environment  # noqa: E402
from pipelines.models import build_models  # noqa: E402
from sources.registry import PROVIDERS  # noqa: E402

CLOCK = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
BENCHMARKS = ROOT / "BENCHMARKS.md"
SECTION = "## Models (dbt)"
MARTS = (
    "dim_scopes",
    "fct_pipeline_runs",
    "fct_stage_runs",
    "fct_deployments",
    "mart_run_health_weekly",
    "mart_stage_health_weekly",
    "mart_dora_weekly",
    "mart_dora_summary",
    "mart_metric_coverage",
)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def postgres_url(args) -> str | None:
    base = args.postgres or os.environ.get("CICD_ETL_TEST_POSTGRES")
    return with_database(base, f"cicd_bench_models_{args.scale}") if base else None


def recreate_database(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'drop database if exists "{dbname}" with (force)')
        cursor.execute(f'create database "{dbname}"')
    admin.close()


# --- phase 1: load ---------------------------------------------------------------------------------


def raw_counts(engine: str, work: Path, pg_url: str | None) -> dict[str, int]:
    """Rows per raw table (dlt's own tables left out)."""
    sql = (
        "select table_name from information_schema.tables where table_schema = 'cicd_raw' "
        "and table_name not like '\\_dlt%' escape '\\' order by table_name"
    )
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect(str(work / "cicd.duckdb"), read_only=True)
        tables = [row[0] for row in con.execute(sql).fetchall()]
        counts = {t: con.execute(f'select count(*) from cicd_raw."{t}"').fetchone()[0] for t in tables}
        con.close()
        return counts
    import psycopg2

    con = psycopg2.connect(pg_url)
    with con.cursor() as cursor:
        cursor.execute(sql)
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'select count(*) from cicd_raw."{table}"')
            counts[table] = cursor.fetchone()[0]
    con.close()
    return counts


def load(args, work: Path, pg_url: str | None) -> dict:
    from pipelines.runner import load_providers
    from simulator import launch

    engines = [engine for engine in args.engines if engine == "duckdb" or pg_url]
    if args.postgres_raw == "copy":
        engines = [engine for engine in engines if engine != "postgres"]
    report: dict = {"scale": args.scale, "clock": CLOCK.isoformat(), "engines": {}}
    started = time.perf_counter()
    log(f"starting the {args.scale} simulator (own process) ...")
    handle = launch(scale=args.scale, seed=42, clock=CLOCK)
    report["simulator_ready_sec"] = round(time.perf_counter() - started, 1)
    log(f"simulator ready in {report['simulator_ready_sec']} s at {handle.base_url}")
    saved = dict(os.environ)
    try:
        for engine in engines:
            os.environ.update(handle.env())
            os.environ["CICD_ETL_PIPELINES_DIR"] = str(work / f"pipelines-{engine}")
            shutil.rmtree(work / f"pipelines-{engine}", ignore_errors=True)
            if engine == "duckdb":
                (work / "cicd.duckdb").unlink(missing_ok=True)
                destination = Destination(kind="duckdb", duckdb_path=(work / "cicd.duckdb").resolve())
            else:
                recreate_database(pg_url)
                destination = Destination(kind="postgres", postgres_credentials=pg_url)
            log(f"loading {', '.join(PROVIDERS)} into {engine} (load average {load_average()}) ...")
            began = time.perf_counter()
            outcomes = load_providers(PROVIDERS, destination)
            wall = round(time.perf_counter() - began, 1)
            failed = [o for o in outcomes if not o.ok]
            for outcome in outcomes:
                log(
                    f"  {outcome.provider}: ok={outcome.ok} {outcome.total_rows:,} rows, "
                    f"{outcome.requests:,} requests, {outcome.duration_s:.1f} s {outcome.error or ''}"
                )
            counts = raw_counts(engine, work, pg_url)
            report["engines"][engine] = {
                "wall_sec": wall,
                "load_average_after": load_average(),
                "providers": {
                    o.provider: {
                        "ok": o.ok,
                        "rows": o.total_rows,
                        "requests": o.requests,
                        "sec": round(o.duration_s, 1),
                        "error": o.error,
                    }
                    for o in outcomes
                },
                "raw_rows": counts,
            }
            log(f"{engine} loaded in {wall} s: {sum(counts.values()):,} raw rows")
            if failed:
                raise SystemExit(f"{engine}: providers failed: {', '.join(o.provider for o in failed)}")
            (work / "load.json").write_text(json.dumps(report, indent=2))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        handle.stop()
    return report


def copy_raw_to_postgres(work: Path, pg_url: str) -> dict:
    """The PostgreSQL raw layer from the DuckDB load, through dlt with the raw tables' column hints
    (sources/raw_tables.py, as the sources declare them), instead of fetching the world over HTTP a
    second time. Same rows, same dlt types; used with --postgres-raw copy."""
    import dlt
    import duckdb

    from sources.raw_tables import RAW_TABLES, dlt_columns, primary_key

    recreate_database(pg_url)
    con = duckdb.connect(str(work / "cicd.duckdb"), read_only=True)

    def rows(table: str):
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'cicd_raw' and table_name = ? "
            "and column_name not like '\\_dlt%' escape '\\' order by ordinal_position",
            [table],
        ).fetchall()
        if not columns:
            return
        names = [name for name, _ in columns]
        json_columns = {i for i, (_, kind) in enumerate(columns) if kind.upper() == "JSON"}
        cursor = con.cursor()
        cursor.execute(f'select {", ".join(chr(34) + n + chr(34) for n in names)} from cicd_raw."{table}"')
        while batch := cursor.fetchmany(50_000):
            yield [
                {
                    name: (json.loads(value) if i in json_columns and value is not None else value)
                    for i, (name, value) in enumerate(zip(names, row, strict=True))
                }
                for row in batch
            ]

    @dlt.source(name="bench_copy", max_table_nesting=0)
    def copy_source():
        for name in RAW_TABLES:
            yield dlt.resource(
                rows(name),
                name=name,
                columns=dlt_columns(name),
                primary_key=primary_key(name),
                write_disposition="replace",
            )

    began = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="cicd_etl_bench_copy",
        destination=dlt.destinations.postgres(pg_url),
        dataset_name="cicd_raw",
        pipelines_dir=str(work / "pipelines-postgres-copy"),
    )
    pipeline.run(copy_source()).raise_on_failed_jobs()
    con.close()
    counts = raw_counts("postgres", work, pg_url)
    return {"wall_sec": round(time.perf_counter() - began, 1), "raw_rows": counts, "copied_from": "duckdb"}


# --- phase 2: models -------------------------------------------------------------------------------


def dbt_parse(engine: str, work: Path, pg_url: str | None, cold: bool) -> float:
    """Wall seconds of `dbt parse` with build_models' profile and target path (cold: no cache)."""
    from dbt.cli.main import dbtRunner

    profile = models_module._profile(engine, work / "cicd.duckdb", pg_url)
    target = work / f"dbt-{engine}" / "target"
    if cold:
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
    args = [
        "parse",
        "--project-dir",
        str(models_module.SQL_DIR),
        "--profiles-dir",
        str(models_module.SQL_DIR),
    ]
    args += ["--target", profile.target, "--target-path", str(target)]
    args += ["--log-path", str(work / f"dbt-{engine}" / "logs"), "--quiet"]
    began = time.perf_counter()
    with models_module._ENV_LOCK, temporary_environment(profile.env):
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            models_module._release_duckdb()
    if not outcome.success:
        raise RuntimeError(f"dbt parse failed: {outcome.exception}")
    return round(time.perf_counter() - began, 2)


def run_results_breakdown(engine: str, work: Path) -> dict:
    """Per resource type: nodes, wall span (first start to last end) and summed node seconds; the
    slowest models and tests; dbt's own elapsed time (parse excluded)."""
    data = json.loads((work / f"dbt-{engine}" / "target" / "run_results.json").read_text())
    spans: dict[str, list] = {}
    nodes = []
    for item in data["results"]:
        kind = item["unique_id"].split(".")[0]
        timing = [t for t in item.get("timing", []) if t.get("started_at") and t.get("completed_at")]
        if timing:
            start = min(datetime.fromisoformat(t["started_at"].replace("Z", "+00:00")) for t in timing)
            end = max(datetime.fromisoformat(t["completed_at"].replace("Z", "+00:00")) for t in timing)
            span = spans.setdefault(kind, [start, end, 0, 0.0])
            span[0], span[1] = min(span[0], start), max(span[1], end)
        else:
            span = spans.setdefault(kind, [None, None, 0, 0.0])
        span[2] += 1
        span[3] += item["execution_time"] or 0.0
        parts = item["unique_id"].split(".")
        name = parts[2] if kind == "test" and len(parts) > 3 else parts[-1]
        nodes.append((item["execution_time"] or 0.0, kind, name))
    by_type = {
        kind: {
            "nodes": count,
            "wall_sec": round((end - start).total_seconds(), 2) if start else 0.0,
            "node_sec": round(total, 2),
        }
        for kind, (start, end, count, total) in spans.items()
    }
    nodes.sort(reverse=True)
    return {
        "dbt_elapsed_sec": round(data.get("elapsed_time", 0.0), 2),
        "by_type": by_type,
        "slowest_models": [(name, round(sec, 2)) for sec, kind, name in nodes if kind == "model"][:8],
        "slowest_tests": [(name, round(sec, 2)) for sec, kind, name in nodes if kind == "test"][:5],
    }


def mart_counts(engine: str, work: Path, pg_url: str | None) -> dict[str, int]:
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect(str(work / "cicd.duckdb"), read_only=True)
        counts = {m: con.execute(f"select count(*) from analytics.{m}").fetchone()[0] for m in MARTS}
        con.close()
        return counts
    import psycopg2

    con = psycopg2.connect(pg_url)
    counts = {}
    with con.cursor() as cursor:
        for mart in MARTS:
            cursor.execute(f"select count(*) from analytics.{mart}")
            counts[mart] = cursor.fetchone()[0]
    con.close()
    return counts


def engine_kwargs(engine: str, work: Path, pg_url: str | None) -> dict:
    """build_models' arguments for the bench's database of `engine`, as of the world's clock (so the DORA
    window holds the loaded data, as in the demo)."""
    kwargs = {"destination": engine, "work_dir": work / f"dbt-{engine}", "quiet": True}
    kwargs["vars"] = {"as_of": CLOCK.isoformat()}
    if engine == "duckdb":
        kwargs["duckdb_path"] = work / "cicd.duckdb"
    else:
        kwargs["postgres_credentials"] = pg_url
    return kwargs


def time_models(engine: str, work: Path, pg_url: str | None) -> dict:
    kwargs = engine_kwargs(engine, work, pg_url)
    out: dict = {"load_average_before": load_average()}
    out["parse_cold_sec"] = dbt_parse(engine, work, pg_url, cold=True)
    out["parse_warm_sec"] = dbt_parse(engine, work, pg_url, cold=False)
    log(f"{engine}: dbt parse cold {out['parse_cold_sec']} s, warm {out['parse_warm_sec']} s")

    (work / f"dbt-{engine}" / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
    for label, run_tests in (("cold_build", True), ("warm_build", True), ("models_only", False)):
        began, cpu_began = time.perf_counter(), time.process_time()
        result = build_models(run_tests=run_tests, **kwargs)
        wall = round(time.perf_counter() - began, 2)
        out[label] = {
            "wall_sec": wall,
            # CPU of this process (dbt, and DuckDB's threads when the engine is DuckDB): on a shared
            # machine a steadier measure of the work than the wall clock
            "cpu_sec": round(time.process_time() - cpu_began, 2),
            "load_average": load_average(),
            "ok": result.ok,
            "seeds": result.count("seed"),
            "models": result.count("model"),
            "tests": result.count("test"),
            **run_results_breakdown(engine, work),
        }
        log(
            f"{engine}: {label} {wall} s, cpu {out[label]['cpu_sec']} s ({result.summary()}) "
            f"load average {out[label]['load_average']}"
        )
    out["load_average_after"] = load_average()
    out["mart_rows"] = mart_counts(engine, work, pg_url)
    return out


def snapshot_marts(work: Path, name: str) -> Path:
    """Copy every mart of the DuckDB build into work/marts-<name>.duckdb (replacing an older copy)."""
    import duckdb

    path = work / f"marts-{name}.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"attach '{work / 'cicd.duckdb'}' as built (read_only)")
    for mart in MARTS:
        con.execute(f"create table main.{mart} as select * from built.analytics.{mart}")
    con.close()
    return path


def compare_marts(work: Path, name: str) -> dict[str, dict]:
    """Each mart of the DuckDB build against the snapshot `name`: rows only in the build and rows only
    in the snapshot (EXCEPT ALL both ways, over the columns both have), and columns only in one."""
    import duckdb

    con = duckdb.connect(str(work / "cicd.duckdb"), read_only=True)
    con.execute(f"attach '{work / f'marts-{name}.duckdb'}' as snap (read_only)")

    def columns(catalog: str, schema: str, table: str) -> list[str]:
        return [
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = ? and table_schema = ? and table_name = ? order by column_name",
                [catalog, schema, table],
            ).fetchall()
        ]

    out = {}
    for mart in MARTS:
        built = columns("cicd", "analytics", mart)
        before = columns("snap", "main", mart)
        common = ", ".join(f'"{c}"' for c in built if c in before)
        new_rows, old_rows = (
            con.execute(
                f"select count(*) from (select {common} from {a} except all select {common} from {b})"
            ).fetchone()[0]
            for a, b in (
                (f"analytics.{mart}", f"snap.main.{mart}"),
                (f"snap.main.{mart}", f"analytics.{mart}"),
            )
        )
        out[mart] = {
            "rows": con.execute(f"select count(*) from analytics.{mart}").fetchone()[0],
            "only_in_build": new_rows,
            "only_in_snapshot": old_rows,
            "columns_added": [c for c in built if c not in before],
            "columns_removed": [c for c in before if c not in built],
        }
    con.close()
    return out


# --- report ----------------------------------------------------------------------------------------


def render(load_report: dict | None, models_report: dict, args) -> str:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        SECTION,
        "",
        f"Measured by `bench/bench_models.py` on {datetime.now(UTC):%Y-%m-%d}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, `uptime` when written: `{uptime}` (the machine is shared: "
        "other sessions' builds and tests ran at the same time, so wall-clock figures are upper bounds).",
        "",
        f"Reproduce: `. .ci/postgres.sh && .venv/bin/python bench/bench_models.py --scale {args.scale}` "
        "(loads, then builds; add `--skip-load` to rebuild on the kept load, `--write` to update this "
        "section).",
        "",
    ]
    if load_report:
        lines += [
            f"**Load** (`{load_report['scale']}` world at {load_report['clock']}, simulator in its own "
            f"process, no latency, ready in {load_report['simulator_ready_sec']} s; all four providers "
            "through the real sources with `load_providers`):",
            "",
            "| engine | wall s | northflank s | gorules s | yunxiao s | seamless s | raw rows |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for engine, data in load_report["engines"].items():
            if "providers" not in data:
                lines.append(
                    f"| {engine} (raw copied from the DuckDB load through dlt, not fetched again) | "
                    f"{data['wall_sec']:.0f} | - | - | - | - | {sum(data['raw_rows'].values()):,} |"
                )
                continue
            secs = " | ".join(f"{data['providers'][p]['sec']:.0f}" for p in PROVIDERS)
            lines.append(
                f"| {engine} | {data['wall_sec']:.0f} | {secs} | {sum(data['raw_rows'].values()):,} |"
            )
        first = next(iter(load_report["engines"].values()))
        lines += [
            "",
            "Raw rows per table: " + ", ".join(f"{t} {n:,}" for t, n in first["raw_rows"].items()),
            "",
        ]
    lines += [
        "**Models** (`build_models`: seeds + models + data tests, threads 4; parse = `dbt parse` alone):",
        "",
        "| engine | parse cold s | parse warm s | build cold s | build warm s | models only s | "
        "build warm cpu s | seeds s | models s | tests s | nodes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for engine, data in models_report.items():
        warm = data["warm_build"]
        types = warm["by_type"]
        lines.append(
            f"| {engine} | {data['parse_cold_sec']:.1f} | {data['parse_warm_sec']:.1f} | "
            f"{data['cold_build']['wall_sec']:.1f} | {warm['wall_sec']:.1f} | "
            f"{data['models_only']['wall_sec']:.1f} | {warm.get('cpu_sec', 0):.1f} | "
            f"{types.get('seed', {}).get('wall_sec', 0):.1f} | "
            f"{types.get('model', {}).get('wall_sec', 0):.1f} | "
            f"{types.get('test', {}).get('wall_sec', 0):.1f} | "
            f"{warm['seeds']} seeds, {warm['models']} models, {warm['tests']} tests |"
        )
    lines += [
        "",
        "seeds/models/tests s = wall span of that resource type in the warm build (dbt runs 4 threads, so "
        "node times overlap; tests start as soon as their model is built, so spans overlap too). build warm "
        "cpu s = CPU seconds of the bench process during the warm build: dbt and, on DuckDB, the engine's "
        "threads (on PostgreSQL the server's work is not in it).",
        "",
    ]
    for engine, data in models_report.items():
        after = {
            label: data[label].get("load_average", "?")
            for label in ("cold_build", "warm_build", "models_only")
        }
        lines.append(
            f"- {engine}: load average (1, 5, 15 min) after each build: cold {after['cold_build']}; "
            f"warm {after['warm_build']}; models only {after['models_only']}."
        )
    lines.append("")
    for engine, data in models_report.items():
        warm = data["warm_build"]
        lines.append(
            f"- {engine}: slowest models (s) "
            + ", ".join(f"{name} {sec:.1f}" for name, sec in warm["slowest_models"][:6])
            + "; slowest tests "
            + ", ".join(f"{name} {sec:.1f}" for name, sec in warm["slowest_tests"][:3])
            + f"; summed node time models {warm['by_type'].get('model', {}).get('node_sec', 0):.0f} s, "
            f"tests {warm['by_type'].get('test', {}).get('node_sec', 0):.0f} s. Load average "
            f"{data['load_average_before']} before, {data['load_average_after']} after."
        )
    first = next(iter(models_report.values()))
    lines += ["", "Mart rows: " + ", ".join(f"{m} {n:,}" for m, n in first["mart_rows"].items()), ""]
    if args.notes:
        lines += [Path(args.notes).read_text().strip(), ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    current = BENCHMARKS.read_text()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip() + "\n\n", current)
    else:
        updated = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    BENCHMARKS.write_text(updated.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--postgres", default=None, help="server URL (default $CICD_ETL_TEST_POSTGRES)")
    parser.add_argument("--skip-load", action="store_true", help="reuse the databases a previous run loaded")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument(
        "--postgres-raw",
        choices=("sources", "copy"),
        default="sources",
        help="load PostgreSQL through the sources (default) or copy the DuckDB raw layer through dlt",
    )
    parser.add_argument(
        "--build-once", action="store_true", help="one build (seeds, models, tests) instead of the timings"
    )
    parser.add_argument("--snapshot", metavar="NAME", help="copy the DuckDB marts to marts-NAME.duckdb")
    parser.add_argument("--compare", metavar="NAME", help="compare the DuckDB marts with snapshot NAME")
    parser.add_argument("--write", action="store_true", help="replace the section in BENCHMARKS.md")
    parser.add_argument("--notes", default=None, help="a file of findings appended to the section")
    args = parser.parse_args()
    args.engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    work = (args.work or Path(f"/tmp/cicd-bench-models-{args.scale}")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    pg_url = postgres_url(args)
    if "postgres" in args.engines and not pg_url:
        log("no PostgreSQL URL (--postgres or CICD_ETL_TEST_POSTGRES): DuckDB only")
        args.engines = [engine for engine in args.engines if engine != "postgres"]

    load_report = None
    if not args.skip_load:
        load_report = load(args, work, pg_url)
    elif (work / "load.json").exists():
        load_report = json.loads((work / "load.json").read_text())
    copy_needed = load_report is not None and "postgres" not in load_report["engines"]
    if pg_url and "postgres" in args.engines and args.postgres_raw == "copy" and copy_needed:
        log("copying the DuckDB raw layer to PostgreSQL through dlt ...")
        copied = copy_raw_to_postgres(work, pg_url)
        log(f"copied in {copied['wall_sec']} s: {sum(copied['raw_rows'].values()):,} rows")
        load_report["engines"]["postgres"] = copied
        (work / "load.json").write_text(json.dumps(load_report, indent=2))
    if args.load_only:
        return

    if args.build_once:
        for engine in args.engines:
            result = build_models(**engine_kwargs(engine, work, pg_url), raise_on_error=False)
            log(f"{engine}: {result}")
        if args.snapshot:
            log(f"marts copied to {snapshot_marts(work, args.snapshot)}")
        if args.compare:
            differences = compare_marts(work, args.compare)
            for mart, found in differences.items():
                log(f"{mart}: {json.dumps(found)}")
            changed = [m for m, f in differences.items() if f["only_in_build"] or f["only_in_snapshot"]]
            log(f"marts differing from {args.compare!r}: {', '.join(changed) or 'none'}")
            if changed:
                raise SystemExit(1)
        return

    models_report = {}
    for engine in args.engines:
        models_report[engine] = time_models(engine, work, pg_url)
        (work / f"models-{engine}.json").write_text(json.dumps(models_report[engine], indent=2))
    text = render(load_report, models_report, args)
    print()
    print(text)
    if args.write:
        write_section(text)
        log(f"wrote {SECTION} in {BENCHMARKS}")


if __name__ == "__main__":
    main()
