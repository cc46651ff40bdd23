"""The one way data gets in: ``sync()`` runs dlt pipelines into the DuckDB file and applies views.

The CLI, the demo, the Prefect flows and the tests all call ``sync()``; nothing else loads data.

Each upstream is one dlt pipeline (``runyard_datadog`` -> dataset ``datadog``) whose
incremental state lives in the database with the data it describes. The pipeline's working
directory is temporary: state is restored from the database at the start of every sync, so a
sync that fails leaves nothing pending behind and the next one starts clean from the last
state that actually landed.

A sync that finds nothing new loads nothing: the sources drop rows they read again unchanged
(sources/rereads.py), and when no rows are left and their state did not change, the load step
is skipped (``_extract_and_load``). The views are re-created only when what they are built from
changed (``apply_views_if_changed``), and a published copy is rewritten only when the data or
the views changed. When each source last synced successfully is runyard's own record
(``_runyard.meta``), written after every sync, loaded or not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines import warehouse
from pipelines.config import (
    DatadogSettings,
    LangSmithSettings,
    MissingCredentials,
    datadog_settings,
    langsmith_settings,
)
from pipelines.destinations import (
    DuckDBSession,
    Session,
    Warehouse,
    foreign_tables,
    holds_rows,
    last_load_ids,
    meta_value,
    open_warehouse,
    set_meta,
    table_counts,
)
from pipelines.progress import SyncProgress
from pipelines.registry import SOURCES, SourceSpec, SyncOptions
from pipelines.settings import runyard_settings
from pipelines.views import apply_views_if_changed
from sources.errors import ConfigError, SyncError, causes, redact
from sources.http_client import SourceStats

log = logging.getLogger("runyard.sync")

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
    notices: list[str] = field(default_factory=list)
    published: warehouse.Published | None = None  # the reader copy written after this sync, if any
    loaded: bool = False  # False: nothing new to load or record, so the load step was skipped
    table_rows: dict[str, int] = field(default_factory=dict)  # rows in each of its tables after the sync

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())


_RESOLVERS: dict[str, Callable[[], Any]] = {"datadog": datadog_settings, "langsmith": langsmith_settings}


@dataclass
class Settings:
    """Resolved settings per upstream; an upstream without credentials is listed in ``missing``."""

    datadog: DatadogSettings | None = None
    langsmith: LangSmithSettings | None = None
    missing: dict[str, MissingCredentials] = field(default_factory=dict)

    @classmethod
    def from_config(cls, upstreams: Sequence[str] = tuple(_RESOLVERS)) -> Settings:
        """Resolve (and validate) the settings of these upstreams. Raises ConfigError."""
        settings = cls()
        for upstream in upstreams:
            try:
                setattr(settings, upstream, _RESOLVERS[upstream]())
            except MissingCredentials as exc:
                settings.missing[upstream] = exc
        return settings

    def missing_for(self, upstream: str) -> MissingCredentials | None:
        if getattr(self, upstream) is not None:
            return None
        return self.missing.get(upstream) or MissingCredentials(upstream, "no settings given", "Configure it.")


ProgressFactory = Callable[[str, SourceStats], SyncProgress | None]


def configure_dlt() -> None:
    """dlt settings runyard relies on, whatever the user's .dlt/ holds."""
    dlt.config["load.truncate_staging_dataset"] = True
    # --full-refresh loads into staging and swaps in one transaction per table.
    dlt.config["destination.replace_strategy"] = "insert-from-staging"
    # The Parquet files between extract and load live for one sync on this machine: lz4 writes and
    # reads them in about a third of the time snappy (dlt's default) takes, at much the same size.
    if dlt.config.get("data_writer.compression") is None:
        dlt.config["data_writer.compression"] = "lz4"
    # dlt's own log lines (tracebacks of retried load jobs) repeat what our error says; the CLI
    # shows them with --debug, which sets a level before this runs.
    dlt_log = logging.getLogger("dlt")
    if dlt_log.level in (logging.NOTSET, logging.WARNING, logging.INFO):
        dlt_log.setLevel(logging.CRITICAL)


def sync(
    db_path: Path,
    sources: Sequence[str] = (),
    *,
    full_refresh: bool = False,
    model_lab_run_ids: Sequence[int] = (),
    topic_discovery: bool = True,
    settings: Settings | None = None,
    progress: ProgressFactory | None = None,
    publish: Path | None = None,
    destination: str | None = None,
    force_publish: bool = False,
) -> list[SyncResult]:
    """Sync the named sources (every configured one when none are named) into ``db_path``.

    A named source without credentials is an error; when syncing everything it is skipped
    with a notice. All settings are checked before the first request. ``destination`` (or the
    ``runyard.destination`` setting) picks the warehouse: the DuckDB file at ``db_path`` by
    default, or a dlt SQL destination such as postgres. With ``publish`` (or the
    ``runyard.publish`` setting) a DuckDB copy for readers is written after the sync; it replaces
    only a file runyard published (or an empty one) unless ``force_publish``. Raises SyncError.
    """
    run_settings = runyard_settings(db_path, publish, destination)
    names = _check_names(sources, model_lab_run_ids, full_refresh)
    explicit = bool(sources) or bool(model_lab_run_ids)
    settings = settings or Settings.from_config(list(dict.fromkeys(SOURCES[n].upstream for n in names)))
    options = SyncOptions(
        full_refresh=full_refresh, model_lab_run_ids=tuple(model_lab_run_ids), topic_discovery=topic_discovery
    )
    plan: list[SourceSpec] = []
    skipped: dict[str, list[str]] = {}  # upstream without credentials -> the sources it leaves out
    for name in names:
        missing = settings.missing_for(SOURCES[name].upstream)
        if missing is None:
            plan.append(SOURCES[name])
        elif explicit:
            raise missing
        else:
            skipped.setdefault(SOURCES[name].upstream, []).append(name)
    unset = {upstream: missing for upstream in skipped if (missing := settings.missing_for(upstream))}
    if not plan:
        raise ConfigError(
            "runyard",
            f"no source is configured ({'; '.join(m.cause for m in unset.values())})",
            "Set the keys of at least one upstream (see the README's configuration), or try runyard against "
            "the built-in sandbox with `runyard demo`.",
        )
    results: list[SyncResult] = []
    for upstream, left_out in skipped.items():  # the notice once per upstream, on its first source
        notice = f"{unset[upstream].message} Skipped {' and '.join(left_out)}."
        results += [SyncResult(name, "skipped", notices=[notice] if i == 0 else []) for i, name in enumerate(left_out)]
    configure_dlt()
    _remove_abandoned_workdirs()
    target = open_warehouse(run_settings.destination, db_path, run_settings.duckdb_memory_limit)
    created = target.prepare(run_settings.storage_version)
    try:
        with target.writing(run_settings.lock_wait_seconds) as session:
            if run_settings.publish and not force_publish:
                ours = meta_value(session, _publish_key(run_settings.publish)) is not None
                warehouse.check_publish_target(run_settings.publish.resolve(), ours=ours)
            _refuse_foreign_tables(session, plan, target)
            for spec in plan:
                results.append(_sync_one(spec, target, session, getattr(settings, spec.upstream), options, progress))
                set_meta(session, {f"synced:{spec.name}": datetime.now(UTC).isoformat()})
            apply_views_if_changed(session)
            totals = table_counts(session)  # counted here: the file is open already
            for result in results:
                result.table_rows = {table: totals[table] for table in result.tables if table in totals}
            if run_settings.publish:
                assert isinstance(session, DuckDBSession)
                published = _publish_if_changed(session, run_settings.publish, run_settings.storage_version)
                for result in results:
                    result.published = published
    except BaseException:
        if created:
            target.discard_if_empty()  # leave no empty file behind a first sync that failed
        raise
    return results


def _check_names(sources: Sequence[str], run_ids: Sequence[int], full_refresh: bool) -> list[str]:
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ConfigError(
            "runyard", f"unknown source {', '.join(map(repr, unknown))}", f"Choose from: {', '.join(SOURCES)}."
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
    return list(dict.fromkeys(sources)) or list(SOURCES)


def _sync_one(
    spec: SourceSpec,
    target: Warehouse,
    session: Session,
    settings: Any,
    options: SyncOptions,
    progress: ProgressFactory | None,
) -> SyncResult:
    started = time.monotonic()
    stats = SourceStats()
    source, notices = spec.build(settings, options, stats)
    for table in spec.append_while_empty:
        _append_while_empty(source.resources[table], session, f"{spec.upstream}.{table}")
    collector = progress(spec.name, stats) if progress else None
    monitoring: dict[str, Any] = {"progress": collector} if collector else {}  # else dlt's default, none
    try:
        with tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name=f"runyard_{spec.upstream}",
                destination=target.dlt_destination(session),
                dataset_name=spec.upstream,
                pipelines_dir=workdir,
                **monitoring,
            )
            try:
                loaded = _extract_and_load(pipeline, source, spec.upstream, stats, target.run_kwargs)
            except SyncError:
                raise
            except Exception as exc:
                raise translate_failure(spec.name, target, exc) from None
            resources = _resource_states(pipeline, spec.upstream)
    finally:
        if collector:
            collector.close()
    if spec.after_load:
        spec.after_load(session, resources)
    return SyncResult(
        source=spec.name,
        status="ok",
        tables=[f"{spec.upstream}.{table}" for table in spec.tables],
        rows_loaded=dict(stats.rows),
        requests=dict(stats.requests),
        retries=stats.retries,
        bytes_received=stats.bytes_received,
        cursors=spec.cursors(resources),
        duration_s=time.monotonic() - started,
        warnings=list(stats.warnings),
        notices=notices,
        loaded=loaded,
    )


def _extract_and_load(
    pipeline: dlt.Pipeline, source: Any, upstream: str, stats: SourceStats, run_kwargs: dict[str, Any]
) -> bool:
    """``pipeline.run`` in its steps, skipping normalize and load when the extract left nothing to
    load and no state to record (a sync that found nothing new). Returns whether it loaded."""
    pipeline.sync_destination()
    before = json.dumps(_resource_states(pipeline, upstream), sort_keys=True, default=str)
    pipeline.extract(source, **run_kwargs)
    if (
        not sum(stats.rows.values())
        and json.dumps(_resource_states(pipeline, upstream), sort_keys=True, default=str) == before
    ):
        return False
    pipeline.normalize()
    pipeline.load()
    return True


def _resource_states(pipeline: dlt.Pipeline, upstream: str) -> dict[str, Any]:
    return pipeline.state.get("sources", {}).get(upstream, {}).get("resources", {})


def _refuse_foreign_tables(session: Session, plan: list[SourceSpec], target: Warehouse) -> None:
    """Before anything is written: tables of runyard's names that another application created stop the sync."""
    wanted: dict[str, set[str]] = {}
    for spec in plan:
        wanted.setdefault(spec.upstream, set()).update(spec.tables)
    foreign = foreign_tables(session, wanted)
    if foreign:
        raise ConfigError(
            "runyard",
            f"{target.describe()} already has {', '.join(foreign)}, which runyard did not create; nothing was changed",
            "runyard writes the schemas datadog and langsmith: sync into another file with --db (or another "
            "database), or rename those tables.",
        )


WORKDIR_PREFIX = "runyard-dlt-"  # dlt's working directory of one sync: runyard-dlt-<pid>-<random>


def _remove_abandoned_workdirs() -> None:
    """Working directories of syncs that were killed (their process is gone) are removed."""
    for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        pid = workdir.name.removeprefix(WORKDIR_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(workdir, ignore_errors=True)
        except PermissionError:  # alive, another user's
            continue


def _publish_key(target: Path) -> str:
    """The ``_runyard.meta`` key recording what was last published to ``target``."""
    return "published:" + hashlib.sha1(str(target.resolve()).encode()).hexdigest()[:16]


def _publish_if_changed(session: DuckDBSession, target: Path, storage_version: str) -> warehouse.Published | None:
    """Publish the reader copy unless the copy at ``target`` already holds what the warehouse holds."""
    key = _publish_key(target)
    version = hashlib.sha1(
        json.dumps(
            [last_load_ids(session, sorted({s.upstream for s in SOURCES.values()})), meta_value(session, "views")]
        ).encode()
    ).hexdigest()
    if target.exists() and meta_value(session, key) == version:
        return None
    published = warehouse.publish(session.con, target, storage_version)
    set_meta(session, {key: version})
    return published


def _append_while_empty(resource: DltResource, session: Session, table: str) -> None:
    """Load a merge resource by appending while its table holds no rows (see SourceSpec).

    Checked on the destination under the writer lock, not in the state: a sync killed after its
    rows landed but before its state did leaves rows, and the next sync merges over them.
    """
    disposition = resource.write_disposition
    if isinstance(disposition, dict):
        disposition = disposition.get("disposition")
    if disposition == "merge" and not holds_rows(session, table):
        resource.apply_hints(write_disposition="append")


def translate_failure(name: str, target: Warehouse, exc: BaseException) -> SyncError:
    """The SyncError behind a dlt failure, or one paragraph describing what dlt hit."""
    for current in causes(exc):
        if isinstance(current, SyncError):
            return current
        mapped = target.error(current)
        if mapped is not None:
            return mapped
    inner = exc.exception if isinstance(exc, PipelineStepFailed) else exc
    step = f"the {exc.step} step" if isinstance(exc, PipelineStepFailed) else "the sync"
    first = redact(str(inner)).strip().splitlines()[:1]
    return SyncError(
        name,
        f"{step} failed: {type(inner).__name__}{': ' + first[0][:300] if first else ''}",
        "Run again with --debug for the full traceback; the tables keep their previous contents.",
    )
