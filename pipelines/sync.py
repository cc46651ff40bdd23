"""The one way data gets in: ``sync()`` runs dlt pipelines into the DuckDB file and applies views.

The CLI, the demo, the Prefect flows and the tests all call ``sync()``; nothing else loads data.

Each upstream is one dlt pipeline (``runyard_datadog`` -> dataset ``datadog``) whose
incremental state lives in the database with the data it describes. The pipeline's working
directory is temporary: state is restored from the database at the start of every sync, so a
sync that fails leaves nothing pending behind and the next one starts clean from the last
state that actually landed.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import warehouse
from pipelines.config import DatadogSettings, MissingCredentials, datadog_settings
from pipelines.progress import SyncProgress
from sources.datadog import datadog
from sources.datadog.model_lab import CHILD_SCHEMAS, RUNS_TABLE
from sources.errors import ConfigError, SyncError, redact
from sources.http_client import SourceStats

log = logging.getLogger("runyard.sync")

ALL_SOURCES = ("model_lab", "llm_obs", "langsmith")
IMPLEMENTED = ("model_lab",)
DEFAULT_DB = Path("runyard.duckdb")


@dataclass
class SyncResult:
    """What one source's sync did; the CLI, flows and tests read the same numbers."""

    source: str
    status: str  # "ok", "skipped"
    tables: list[str] = field(default_factory=list)  # the tables this source writes
    rows_loaded: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    bytes_received: int = 0
    cursors: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notice: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())


@dataclass
class Settings:
    """Resolved settings per upstream; None where not configured."""

    datadog: DatadogSettings | None = None
    datadog_missing: MissingCredentials | None = None

    @classmethod
    def from_config(cls) -> Settings:
        try:
            return cls(datadog=datadog_settings())
        except MissingCredentials as exc:
            return cls(datadog_missing=exc)


ProgressFactory = Callable[[str, SourceStats], SyncProgress | None]


def configure_dlt() -> None:
    """dlt settings runyard relies on, whatever the user's .dlt/ holds."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    dlt.config["load.truncate_staging_dataset"] = True
    # --full-refresh loads into staging and swaps in one transaction per table.
    dlt.config["destination.replace_strategy"] = "insert-from-staging"
    logging.getLogger("dlt").setLevel(logging.ERROR)


def sync(
    db_path: Path,
    sources: Sequence[str] = (),
    *,
    full_refresh: bool = False,
    model_lab_run_ids: Sequence[int] = (),
    settings: Settings | None = None,
    progress: ProgressFactory | None = None,
) -> list[SyncResult]:
    """Sync the named sources (all configured ones when none are named) into ``db_path``.

    A named source without credentials is an error; when syncing everything it is skipped
    with a notice. All settings are checked before the first request. Raises SyncError.
    """
    names = _check_names(sources, model_lab_run_ids, full_refresh)
    explicit = bool(sources) or bool(model_lab_run_ids)
    settings = settings or Settings.from_config()
    plan: list[str] = []
    results: list[SyncResult] = []
    for name in names:
        missing = settings.datadog_missing if name == "model_lab" else None
        if missing is not None:
            if explicit:
                raise missing
            results.append(SyncResult(name, "skipped", notice=f"{missing.message} Skipped."))
            continue
        plan.append(name)
    if not plan:
        return results
    configure_dlt()
    created = not db_path.exists()
    warehouse.ensure_database(db_path)
    try:
        with warehouse.writer_lock(db_path):
            for name in plan:
                results.append(_RUNNERS[name](db_path, settings, full_refresh, model_lab_run_ids, progress))
            with warehouse.connect(db_path, read_only=False) as con:
                warehouse.apply_views(con)
    except BaseException:
        if created and db_path.exists() and not _has_tables(db_path):
            db_path.unlink()  # leave no empty file behind a first sync that failed
        raise
    return results


def _check_names(sources: Sequence[str], run_ids: Sequence[int], full_refresh: bool) -> list[str]:
    unknown = [s for s in sources if s not in ALL_SOURCES]
    if unknown:
        raise ConfigError(
            "runyard",
            f"unknown source {', '.join(map(repr, unknown))}",
            f"Choose from: {', '.join(ALL_SOURCES)}.",
        )
    pending = [s for s in sources if s not in IMPLEMENTED]
    if pending:
        raise ConfigError(
            "runyard",
            f"source {', '.join(map(repr, pending))} is not implemented yet",
            f"Available now: {', '.join(IMPLEMENTED)}.",
        )
    if run_ids:
        if any(s != "model_lab" for s in sources):
            raise ConfigError(
                "runyard", "--run-id applies to model_lab only", "Run `runyard sync model_lab --run-id N`."
            )
        if full_refresh:
            raise ConfigError(
                "runyard",
                "--run-id cannot be combined with --full-refresh",
                "Backfill ids with an incremental sync, or refresh everything without --run-id.",
            )
        return ["model_lab"]
    return list(dict.fromkeys(sources)) or list(IMPLEMENTED)


def _sync_model_lab(
    db_path: Path,
    settings: Settings,
    full_refresh: bool,
    run_ids: Sequence[int],
    progress: ProgressFactory | None,
) -> SyncResult:
    assert settings.datadog is not None
    stats = SourceStats()
    source = datadog(
        **settings.datadog.source_kwargs(),
        model_lab_run_ids=list(run_ids) or None,
        full_refresh=full_refresh,
        stats=stats,
    ).with_resources("model_lab_runs")
    result, state = _run_pipeline("model_lab", "datadog", db_path, source, stats, progress)
    result.tables = [f"datadog.{name}" for name in (RUNS_TABLE, *CHILD_SCHEMAS)]
    resource_state = state.get("sources", {}).get("datadog", {}).get("resources", {}).get("model_lab_runs", {})
    result.cursors = {key: part.get("cursor") for key, part in resource_state.get("partitions", {}).items()} | {
        "unfinished_runs": len(resource_state.get("unfinished", []))
    }
    _mark_runs_not_found(db_path, resource_state.get("not_found", {}))
    return result


_RUNNERS: dict[str, Callable[[Path, Settings, bool, Sequence[int], ProgressFactory | None], SyncResult]] = {
    "model_lab": _sync_model_lab,
}


def _run_pipeline(
    name: str,
    dataset: str,
    db_path: Path,
    source: Any,
    stats: SourceStats,
    progress: ProgressFactory | None,
) -> tuple[SyncResult, dict[str, Any]]:
    started = time.monotonic()
    collector = progress(name, stats) if progress else None
    try:
        with tempfile.TemporaryDirectory(prefix="runyard-dlt-") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=f"runyard_{dataset}",
                destination=dlt.destinations.duckdb(str(db_path)),
                dataset_name=dataset,
                pipelines_dir=workdir,
                **({"progress": collector} if collector else {}),
            )
            try:
                pipeline.run(source)
            except PipelineStepFailed as exc:
                raise translate_failure(name, db_path, exc) from None
            except duckdb.IOException as exc:
                raise warehouse.database_error(db_path, exc) from None
            state = dict(pipeline.state)
    finally:
        if collector:
            collector.close()
    result = SyncResult(
        source=name,
        status="ok",
        rows_loaded=dict(stats.rows),
        requests=dict(stats.requests),
        retries=stats.retries,
        bytes_received=stats.bytes_received,
        duration_s=time.monotonic() - started,
        warnings=list(stats.warnings),
    )
    return result, state


def translate_failure(name: str, db_path: Path, exc: PipelineStepFailed) -> SyncError:
    """The SyncError behind a dlt failure, or one paragraph describing what dlt hit."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, SyncError):
            return current
        if isinstance(current, duckdb.IOException):
            return warehouse.database_error(db_path, current)
        stack.extend([getattr(current, "exception", None), current.__cause__, current.__context__])
    inner = exc.exception
    return SyncError(
        name,
        f"the {exc.step} step failed: {type(inner).__name__}: {redact(str(inner)).splitlines()[0][:300]}",
        "Run again with --debug for the full traceback; the tables keep their previous contents.",
    )


def _mark_runs_not_found(db_path: Path, not_found: dict[str, str]) -> None:
    """Runs that answered 404 when re-read by id are kept, marked deleted at the time it was seen."""
    if not not_found:
        return
    with warehouse.connect(db_path, read_only=False) as con:
        con.executemany(
            "update datadog.model_lab_runs set deleted_at = ?::timestamptz where id = ? and deleted_at is null",
            [(seen_at, int(run_id)) for run_id, seen_at in not_found.items()],
        )


def _has_tables(db_path: Path) -> bool:
    try:
        with warehouse.connect(db_path, read_only=True, wait_s=0) as con:
            return warehouse.has_any_table(con)
    except SyncError:
        return True
