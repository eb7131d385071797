"""How a provider's work lands: one dlt pipeline per provider whose state is the destination's, and
commits that either load or are set aside.

* **The destination is the truth.** Before a provider runs, its local dlt folder is compared with the
  state stored with the data. Packages a crashed run left behind are completed only if the destination
  is still the one they were extracted against (the state hash this machine last loaded, kept beside
  them); otherwise they are discarded. A local state that differs from the stored one (a restored
  backup, another machine's run) is replaced by the stored one, never trusted.
* **A commit** is dlt's extract, normalize and load of one source. A package that fails to load twice
  is set aside (moved under `<pipelines dir>/set_aside/`, named in the output) and the local state is
  restored from the destination, so one bad package never blocks every later run. A destination that
  cannot be written (a full disk) fails the provider instead: its package stays pending for the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dlt
from dlt.destinations.exceptions import DestinationUndefinedEntity
from dlt.extract.source import DltSource

from pipelines import raw_dataset
from pipelines.config import RAW_DATASET, Destination
from pipelines.errors import describe_error, destination_unwritable

log = logging.getLogger("cicd_etl.runner")

LOADED_MARK = "cicd_etl_loaded.json"  # beside dlt's files: the state hash this machine last loaded
LOAD_WORKERS = 2  # load jobs at once; DuckDB is single-writer and each job is memory for its reader


def pipeline_for(provider: str, destination: Destination) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"cicd_etl_{provider}",
        pipelines_dir=str(destination.pipelines_dir),
        destination=destination.dlt_destination(),
        dataset_name=RAW_DATASET,
    )


class Committer:
    """One provider's pipeline: aligned with the destination, then one commit after another."""

    def __init__(self, provider: str, destination: Destination, load_lock: threading.Lock) -> None:
        self.provider = provider
        self.destination = destination
        self.lock = load_lock
        self.pipeline = pipeline_for(provider, destination)
        self.set_aside: list[str] = []
        self.rows: dict[str, int] = {}

    # -- the destination is the truth ---------------------------------------------------------------

    def align(self) -> None:
        """Complete or discard what a crashed run left, then take the destination's state (under lock)."""
        stored = self._stored_hash()
        if self.pipeline.has_pending_data:
            if stored == self._loaded_mark():
                log.warning("%s: completing a load interrupted by an earlier run", self.provider)
                self.pipeline.normalize()
                self._load()
            else:
                log.warning(
                    "%s: discarding work extracted against another copy of the destination "
                    "(restored from a backup, or written by another machine); it is read again",
                    self.provider,
                )
        if self.pipeline.has_pending_data or self._local_hash() != stored:
            self.pipeline = self.pipeline.drop()
            self.pipeline.sync_destination()
        self._mark_loaded()

    def _stored_hash(self) -> str | None:
        try:
            state = self.pipeline._restore_state_from_destination()  # the newest completed load's state
        except DestinationUndefinedEntity:
            return None
        return state.get("_version_hash") if state else None

    def _local_hash(self) -> str | None:
        if self.pipeline.first_run and not self.pipeline.default_schema_name:
            return None
        return self.pipeline.state.get("_version_hash")

    def _loaded_mark(self) -> str | None:
        path = Path(self.pipeline.working_dir) / LOADED_MARK
        try:
            return json.loads(path.read_text())["state_hash"]
        except (OSError, ValueError, KeyError):
            return None

    def _mark_loaded(self) -> None:
        path = Path(self.pipeline.working_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / LOADED_MARK).write_text(json.dumps({"state_hash": self._local_hash()}))

    # -- commits ------------------------------------------------------------------------------------

    def commit(
        self,
        source: DltSource,
        *,
        refresh: bool = False,
        extracted: Callable[[], None] | None = None,
        after_load: Callable[[dlt.Pipeline], None] | None = None,
    ) -> bool:
        """Extract, normalize and load one source; `extracted` runs once its package is on disk (its
        rows are then safe from a kill), `after_load` under the load lock right after it landed.
        False when the package was set aside."""
        self.pipeline.extract(source)
        if extracted:
            extracted()
        self.pipeline.normalize()
        info = self.pipeline.last_trace.last_normalize_info if self.pipeline.last_trace else None
        counts = {t: n for t, n in (info.row_counts if info else {}).items() if not t.startswith("_dlt")}
        with self.lock:
            landed = self._load()
            if landed:  # rows count once they are in the destination, not when set aside
                for table, count in counts.items():
                    self.rows[table] = self.rows.get(table, 0) + count
            if after_load:
                after_load(self.pipeline)
        return landed

    def _load(self) -> bool:
        """Load pending packages; one that fails twice is set aside and the state restored. A destination
        that cannot be written at all (a full disk) is no package's fault: the error is raised and the
        package stays pending, to be completed by the next run (`align`). True when it landed."""
        for attempt in (1, 2):
            try:
                self.pipeline.load(workers=LOAD_WORKERS)
                self._mark_loaded()
                self._forget_loaded()
                raw_dataset.forget_older_states(self.pipeline)
                if self.destination.kind == "duckdb":
                    raw_dataset.checkpoint(self.pipeline)
                return True
            except Exception as exc:
                if destination_unwritable(exc):
                    raise
                if attempt == 1:
                    log.warning(
                        "%s: loading failed (%s); trying once more", self.provider, _load_failure(exc)
                    )
                    continue
                self._set_aside(exc)
        return False

    def _forget_loaded(self) -> None:
        """Delete loaded packages but the newest: dlt keeps each one (with a copy of the state, ~1 MB
        for the largest provider at medium), so an hourly load's folder grew by gigabytes a year. The
        destination holds what they held."""
        storage = self.pipeline._get_load_storage()  # dlt has no public call to delete a loaded package
        for load_id in sorted(storage.list_loaded_packages(), key=float)[:-1]:
            storage.delete_loaded_package(load_id)

    def _set_aside(self, exc: Exception) -> None:
        packages = list(self.pipeline.list_normalized_load_packages())
        root = Path(self.pipeline.pipelines_dir) / "set_aside" / self.pipeline.pipeline_name
        for load_id in packages:
            source = Path(self.pipeline.working_dir) / "load" / "normalized" / load_id
            target = root / f"{load_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(source, target)
                self.set_aside.append(str(target))
        self.pipeline.abort_packages()
        self.pipeline = self.pipeline.drop()
        self.pipeline.sync_destination()
        self._mark_loaded()
        log.error(
            "%s: a load failed twice (%s); set aside in %s, read again next run",
            self.provider,
            _load_failure(exc),
            ", ".join(self.set_aside[-len(packages) :]) or root,
        )


def _load_failure(exc: BaseException) -> str:
    """The failing job's table and the root cause, when dlt says which job failed."""
    failed = getattr(exc, "exception", None)  # dlt's PipelineStepFailed wraps the job's failure
    job = getattr(failed, "job_id", None)
    return f"{str(job).split('.')[0]}: {describe_error(exc)}" if job else describe_error(exc)
