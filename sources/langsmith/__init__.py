"""The LangSmith dlt source: traced runs from ``POST /api/v2/runs/query``.

Table (schema ``langsmith``):
- ``runs``: one row per run id in its latest state, merged on ``id``; one column per selected
  field (``sources.langsmith.run_table.COLUMN_TYPES``), nested values as JSON columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from sources.arrow_tables import json_hints
from sources.errors import ConfigError
from sources.http_client import DEFAULT_ATTEMPTS, RetryPolicy, SourceStats, validate_base_url
from sources.langsmith.client import SOURCE, make_client
from sources.langsmith.run_table import json_columns, normalize_selects
from sources.langsmith.runs import RunQuery, RunsReader, parse_initial_start
from sources.langsmith.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_FEEDBACK_LOOKBACK_HOURS,
    DEFAULT_SELECTS,
    DEFAULT_WINDOW_HOURS,
)

__all__ = ["RUNS_RESOURCE", "langsmith"]

RUNS_RESOURCE = "runs"


@dlt.source(name="langsmith", section="langsmith", max_table_nesting=0)
def langsmith(
    api_key: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    project_ids: Sequence[str] | None = None,
    reference_dataset_id: str | None = None,
    initial_start: str | None = None,
    filter: str | None = None,
    trace_filter: str | None = None,
    tree_filter: str | None = None,
    is_root: bool | None = None,
    run_type: str | None = None,
    has_error: bool | None = None,
    selects: Sequence[str] = DEFAULT_SELECTS,
    window_hours: int = DEFAULT_WINDOW_HOURS,
    concurrency: int = DEFAULT_CONCURRENCY,
    feedback_lookback_hours: int = DEFAULT_FEEDBACK_LOOKBACK_HOURS,
    workspace_id: str | None = None,
    http_max_attempts: int = DEFAULT_ATTEMPTS,
    full_refresh: bool = False,
    stats: SourceStats | None = None,
) -> list[DltResource]:
    """LangSmith runs of some tracing projects (or of one reference dataset's experiments).

    Args:
        api_key: LangSmith API key; ``workspace_id`` is sent as ``X-Tenant-Id`` when set.
        base_url: API host without ``/api``, e.g. https://eu.api.smith.langchain.com.
        project_ids, reference_dataset_id: exactly one: where the runs live.
        initial_start: RFC 3339 lower bound of the first sync (default: 30 days ago).
        filter, trace_filter, tree_filter, is_root, run_type, has_error: row filters, sent as is.
        selects: fields to read (ID, START_TIME, END_TIME and STATUS are always added); tokens
            the server refuses are dropped with a warning.
        window_hours, concurrency: backfills are cut into windows of this many hours, this
            many fetched at once.
        feedback_lookback_hours: when the server refuses the late-feedback query
            (``min_feedback_modified_at``), every sync re-reads the runs that started this many
            hours back; 0 leaves late feedback unfollowed.
        http_max_attempts: tries per request before a transient fault (429, 5xx, network) fails the sync.
        full_refresh: read everything from ``initial_start`` again and replace the table.
        stats: collects requests, progress and warnings for the caller.
    """
    url = validate_base_url(base_url, SOURCE, "LANGSMITH_ENDPOINT", "https://eu.api.smith.langchain.com")
    stats = stats if stats is not None else SourceStats()
    query = RunQuery(
        project_ids=tuple(project_ids or ()),
        reference_dataset_id=reference_dataset_id,
        filter=filter,
        trace_filter=trace_filter,
        tree_filter=tree_filter,
        is_root=is_root,
        run_type=run_type,
        has_error=has_error,
    )
    if window_hours < 1 or concurrency < 1 or feedback_lookback_hours < 0:
        raise ConfigError(
            SOURCE,
            f"window_hours={window_hours} and concurrency={concurrency} must both be at least 1, and "
            f"feedback_lookback_hours={feedback_lookback_hours} at least 0",
            "For example SOURCES__LANGSMITH__WINDOW_HOURS=24, SOURCES__LANGSMITH__CONCURRENCY=4 and "
            "SOURCES__LANGSMITH__FEEDBACK_LOOKBACK_HOURS=72.",
        )
    tokens = normalize_selects(selects)
    start = parse_initial_start(initial_start, datetime.now(UTC))

    @dlt.resource(
        name=RUNS_RESOURCE,
        primary_key="id",
        # Windows are disjoint in start_time, a restarted walk skips the ids it already passed and
        # the pending refresh skips runs the walk saw: a load never holds a run twice, so dlt can
        # skip its ROW_NUMBER() dedup over the staged rows (the peak of memory in the load).
        write_disposition={"disposition": "merge", "strategy": "delete-insert", "deduplicated": True},
        columns=json_hints(json_columns(tokens)),
    )
    def runs() -> Iterator[pa.Table]:
        with make_client(
            api_key=api_key, base_url=url, workspace_id=workspace_id, stats=stats, retry=RetryPolicy(http_max_attempts)
        ) as client:
            reader = RunsReader(
                client,
                dlt.current.resource_state(),
                query=query,
                selects=tokens,
                initial_start=start,
                window=timedelta(hours=window_hours),
                concurrency=concurrency,
                now=datetime.now(UTC),
                feedback_lookback=timedelta(hours=feedback_lookback_hours),
                on_progress=stats.report_progress,
            )
            for page in reader.sync(full=full_refresh):
                stats.count_rows(f"{SOURCE}.{RUNS_RESOURCE}", page)
                yield page
            stats.warnings.extend(reader.warnings)

    if full_refresh:
        runs.apply_hints(write_disposition="replace")
    return [runs]
