"""The Datadog dlt source: Model Lab runs and LLM Observability entities for one org.

Tables (schema ``datadog``):
- ``model_lab_runs``: one row per run, merged on ``id``.
- ``model_lab_run_metrics``, ``model_lab_run_params``, ``model_lab_run_tags``: one row per
  (run_id, key); all of a run's rows are replaced whenever the run is read again.
- ``llmobs_projects``, ``llmobs_datasets``, ``llmobs_dataset_records``, ``llmobs_experiments``,
  ``llmobs_experiment_runs``: one row per entity, merged on ``id``, soft deletes kept as
  ``is_deleted``.
- ``topic_discovery_runs``: one row per topic-discovery run with its configuration snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns, TWriteDisposition
from dlt.extract.hints import make_hints
from dlt.sources import DltResource

from sources.arrow_tables import EXTRA_FIELDS, DataIssues, json_hints
from sources.datadog import llm_obs, topic_discovery
from sources.datadog.client import SOURCE, make_client
from sources.datadog.model_lab import (
    CHILD_SCHEMAS,
    RUNS_TABLE,
    TOMBSTONE,
    ModelLabFilters,
    ModelLabReader,
)
from sources.datadog.settings import (
    DEFAULT_SITE,
    LLM_OBS_DEFAULT_PAGE_LIMIT,
    LLM_OBS_SCOPES,
    MODEL_LAB_DEFAULT_LAG_S,
    MODEL_LAB_FOLLOW_UNFINISHED_DAYS,
    SITES,
)
from sources.errors import ConfigError
from sources.http_client import DEFAULT_ATTEMPTS, RateLimitPacer, RetryPolicy, SourceStats, validate_base_url

__all__ = ["LLM_OBS_RESOURCES", "TOPIC_DISCOVERY_RESOURCE", "datadog", "datadog_base_url"]

EXTRA_FIELDS_HINT = json_hints([EXTRA_FIELDS])  # fields without a column of their own, as JSON

LLM_OBS_RESOURCES = tuple(llm_obs.TABLES[scope] for scope in LLM_OBS_SCOPES)
TOPIC_DISCOVERY_RESOURCE = topic_discovery.TABLE


def datadog_base_url(site: str, base_url: str | None) -> str:
    """The API base URL: an explicit ``base_url`` wins over the one derived from ``site`` (checked either way)."""
    if site not in SITES:
        hint = f" (did you mean {site.removeprefix('app.')!r}?)" if site.removeprefix("app.") in SITES else ""
        raise ConfigError(
            "datadog",
            f"DD_SITE={site!r} is not a Datadog site{hint}",
            f"Use one of: {', '.join(SITES)} (default {DEFAULT_SITE}).",
        )
    if base_url:
        return validate_base_url(base_url, "datadog", "SOURCES__DATADOG__BASE_URL", "https://api.datadoghq.eu")
    return SITES[site]


@dlt.source(name="datadog", section="datadog", max_table_nesting=0)
def datadog(
    api_key: str = dlt.secrets.value,
    app_key: str = dlt.secrets.value,
    site: str = DEFAULT_SITE,
    base_url: str | None = None,
    model_lab_project_ids: Sequence[int] | None = None,
    model_lab_statuses: Sequence[str] | None = None,
    model_lab_tags: str | None = None,
    model_lab_params: str | None = None,
    model_lab_parent_run_id: str | None = None,
    model_lab_text_filter: str | None = None,
    model_lab_lag_seconds: int = MODEL_LAB_DEFAULT_LAG_S,
    model_lab_follow_unfinished_days: int = MODEL_LAB_FOLLOW_UNFINISHED_DAYS,
    model_lab_run_ids: Sequence[int] | None = None,
    llm_obs_page_limit: int = LLM_OBS_DEFAULT_PAGE_LIMIT,
    llm_obs_content_preview_limit: int | None = None,
    llm_obs_query: str | None = None,
    llm_obs_include_user_data: bool = False,
    topic_discovery_config_ids: Sequence[str] | None = None,
    http_max_attempts: int = DEFAULT_ATTEMPTS,
    full_refresh: bool = False,
    stats: SourceStats | None = None,
) -> list[DltResource]:
    """Datadog resources for one org.

    Args:
        api_key, app_key: Datadog API and application keys.
        site: one of the nine Datadog sites; ``base_url`` overrides the URL derived from it.
        model_lab_*: optional Model Lab list filters; project ids and statuses fan out into
            one list walk each. ``model_lab_lag_seconds`` is how far below the stored cursor an
            incremental sync re-reads; unfinished runs are read again on every sync until their
            ``updated_at`` is ``model_lab_follow_unfinished_days`` old.
        model_lab_run_ids: read exactly these runs by id instead of walking the list.
        llm_obs_*: experimentation search page size, content-preview length, free-text query,
            and whether to ask for experiment authors (name and email).
        topic_discovery_config_ids: configurations whose topic-discovery runs are read.
        http_max_attempts: tries per request before a transient fault (429, 5xx, network) fails the sync.
        full_refresh: re-read everything and replace the tables (drops hard-deleted rows).
        stats: collects requests, progress and warnings for the caller.
    """
    url = datadog_base_url(site, base_url)
    retry = RetryPolicy(attempts=http_max_attempts)
    stats = stats if stats is not None else SourceStats()
    pacer = RateLimitPacer()  # one org: every endpoint shares its rate-limit buckets
    filters = ModelLabFilters(
        project_ids=tuple(model_lab_project_ids or ()),
        statuses=tuple(model_lab_statuses or ()),
        tags=model_lab_tags,
        params=model_lab_params,
        parent_run_id=model_lab_parent_run_id,
        text=model_lab_text_filter,
    )
    disposition: TWriteDisposition = "replace" if full_refresh else "merge"
    # A row flagged in TOMBSTONE deletes its parent's old child rows and is not kept (merge only).
    tombstone_hint: TTableSchemaColumns = {}
    if not full_refresh:
        tombstone_hint[TOMBSTONE] = {"data_type": "bool", "hard_delete": True}
    child_hints = {
        name: make_hints(
            table_name=name,
            primary_key=(),
            merge_key="run_id",
            write_disposition=disposition,
            columns={**EXTRA_FIELDS_HINT, **tombstone_hint},
        )
        for name in CHILD_SCHEMAS
    }

    @dlt.resource(name=RUNS_TABLE, primary_key="id", write_disposition="merge", columns=EXTRA_FIELDS_HINT)
    def model_lab_runs() -> Iterator[Any]:
        with client() as api:
            reader = ModelLabReader(
                api,
                dlt.current.resource_state(),
                filters=filters,
                lag_s=model_lab_lag_seconds,
                merge=not full_refresh,
                follow_unfinished_days=model_lab_follow_unfinished_days,
                on_page=stats.report_progress,
            )
            tables = reader.backfill(model_lab_run_ids) if model_lab_run_ids else reader.sync(full=full_refresh)
            for name, arrow_table in tables:
                stats.count_rows(f"datadog.{name}", arrow_table, marker=TOMBSTONE)
                if name == RUNS_TABLE:
                    yield arrow_table
                else:
                    yield dlt.mark.with_hints(arrow_table, child_hints[name], create_table_variant=True)
            stats.warnings.extend(reader.warnings)

    def client() -> Any:
        return make_client(
            api_key=api_key, app_key=app_key, base_url=url, site=site, pacer=pacer, stats=stats, retry=retry
        )

    aggregates_hints = make_hints(
        table_name=llm_obs.AGGREGATES_TABLE,
        primary_key=(),
        merge_key="experiment_id",
        write_disposition=disposition,
        columns=tombstone_hint or None,
    )

    def llm_obs_resource(scope: str) -> DltResource:
        @dlt.resource(
            name=llm_obs.TABLES[scope],
            primary_key="id",
            write_disposition=disposition,
            columns=json_hints(llm_obs.JSON_COLUMNS[scope]),
        )
        def search_scope() -> Iterator[Any]:
            with client() as api:
                reader = llm_obs.ExperimentationReader(
                    api,
                    dlt.current.resource_state(),
                    scope=scope,
                    page_limit=llm_obs_page_limit,
                    content_preview_limit=llm_obs_content_preview_limit,
                    query=llm_obs_query,
                    include_user_data=llm_obs_include_user_data,
                    lag_s=model_lab_lag_seconds,
                    on_page=stats.report_progress,
                )
                for name, arrow_table in reader.read(full=full_refresh):
                    stats.count_rows(f"datadog.{name}", arrow_table, marker=TOMBSTONE)
                    if name == llm_obs.AGGREGATES_TABLE:
                        yield dlt.mark.with_hints(arrow_table, aggregates_hints, create_table_variant=True)
                    else:
                        yield arrow_table
                stats.warnings.extend(reader.warnings)

        return search_scope

    @dlt.resource(
        name=topic_discovery.TABLE, primary_key="id", write_disposition=disposition, columns=EXTRA_FIELDS_HINT
    )
    def topic_discovery_runs() -> Iterator[Any]:
        issues = DataIssues(SOURCE)
        with client() as api:
            for arrow_table in topic_discovery.read_runs(
                api,
                list(topic_discovery_config_ids or ()),
                stats.report_progress,
                issues,
                dlt.current.resource_state(),
                full=full_refresh,
            ):
                stats.count_rows(f"datadog.{topic_discovery.TABLE}", arrow_table)
                yield arrow_table
        stats.warnings.extend(issues.warnings())

    if full_refresh:
        model_lab_runs.apply_hints(write_disposition="replace")
    return [model_lab_runs, *(llm_obs_resource(scope) for scope in LLM_OBS_SCOPES), topic_discovery_runs]
