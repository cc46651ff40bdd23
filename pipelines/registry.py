"""What each runyard source name means: which upstream, which dlt resources, which tables.

``runyard sync model_lab`` and a Prefect flow for Model Lab both look the source up here; a new
source is one more entry, not new plumbing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlt.extract.source import DltSource

from pipelines.catalog import CATALOG, SourceInfo
from pipelines.destinations import Session
from sources.datadog import LLM_OBS_RESOURCES, TOPIC_DISCOVERY_RESOURCE, datadog
from sources.datadog.model_lab import RUNS_TABLE
from sources.http_client import SourceStats
from sources.langsmith import RUNS_RESOURCE, langsmith


@dataclass(frozen=True)
class SyncOptions:
    full_refresh: bool = False
    model_lab_run_ids: Sequence[int] = ()
    topic_discovery: bool = True  # False: llm_obs leaves topic-discovery runs to their own (daily) flow


@dataclass(frozen=True)
class SourceSpec:
    info: SourceInfo  # name, upstream, tables, cursors (pipelines/catalog.py)
    build: Callable[[Any, SyncOptions, SourceStats], tuple[DltSource, list[str]]]  # source, notices
    after_load: Callable[[Session, dict[str, Any]], None] | None = None
    # Merge tables whose loads never hold a key twice: while such a table is empty (a first sync)
    # appending gives the rows a merge would, without copying them through a staging table.
    append_while_empty: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def upstream(self) -> str:
        return self.info.upstream

    @property
    def tables(self) -> tuple[str, ...]:
        return self.info.tables

    def cursors(self, resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return self.info.cursors(resources)


def _build_model_lab(settings: Any, options: SyncOptions, stats: SourceStats) -> tuple[DltSource, list[str]]:
    source = datadog(
        **settings.source_kwargs(),
        model_lab_run_ids=list(options.model_lab_run_ids) or None,
        full_refresh=options.full_refresh,
        stats=stats,
    )
    return source.with_resources(RUNS_TABLE), []


def _mark_model_lab_runs_not_found(session: Session, resources: dict[str, Any]) -> None:
    """Runs that answered 404 when re-read by id stay, marked deleted at the time that was seen."""
    not_found = resources.get(RUNS_TABLE, {}).get("not_found", {})
    if not not_found:
        return
    # One statement for all of them (a round trip each would grow with the list on a server).
    # Both values come from runyard's own state: an integer and an ISO timestamp it wrote.
    values = ", ".join(
        f"({int(run_id)}, cast('{datetime.fromisoformat(seen_at).astimezone(UTC):%Y-%m-%d %H:%M:%S.%f+00}' "
        "as timestamp with time zone))"
        for run_id, seen_at in not_found.items()
    )
    session.execute(
        f"update datadog.{RUNS_TABLE} as r set deleted_at = v.seen_at from (values {values}) as v(id, seen_at) "
        "where r.id = v.id and r.deleted_at is null"
    )


def _build_llm_obs(settings: Any, options: SyncOptions, stats: SourceStats) -> tuple[DltSource, list[str]]:
    source = datadog(**settings.source_kwargs(), full_refresh=options.full_refresh, stats=stats)
    resources = list(LLM_OBS_RESOURCES)
    notices = []
    if options.topic_discovery and settings.topic_discovery_config_ids:
        resources.append(TOPIC_DISCOVERY_RESOURCE)
    elif options.topic_discovery:
        notices.append(
            "topic-discovery runs skipped: no configuration ids set "
            "(SOURCES__DATADOG__TOPIC_DISCOVERY_CONFIG_IDS=<config id>,<config id>)"
        )
    return source.with_resources(*resources), notices


def _build_langsmith(settings: Any, options: SyncOptions, stats: SourceStats) -> tuple[DltSource, list[str]]:
    return langsmith(**settings.source_kwargs(), full_refresh=options.full_refresh, stats=stats), []


SOURCES: dict[str, SourceSpec] = {
    "model_lab": SourceSpec(CATALOG["model_lab"], _build_model_lab, after_load=_mark_model_lab_runs_not_found),
    "llm_obs": SourceSpec(CATALOG["llm_obs"], _build_llm_obs),
    "langsmith": SourceSpec(CATALOG["langsmith"], _build_langsmith, append_while_empty=(RUNS_RESOURCE,)),
}
