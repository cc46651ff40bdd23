"""Data tests for every view, as SQL over a synced DuckDB file (dbt's convention: a check passes when
it finds nothing wrong).

- ``KEYS``: columns that are never NULL;
- ``ENUMS``: columns whose values stay within the accepted ones (NULLs are the keys' business);
- ``TOTALS``: a total over the view that must equal the same total over the raw tables.
"""

from __future__ import annotations

from typing import Any

import duckdb

LANGSMITH_STATUSES = ("success", "error", "pending")
LANGSMITH_RUN_TYPES = ("tool", "chain", "llm", "retriever", "embedding", "prompt", "parser")
MODEL_LAB_STATUSES = ("pending", "running", "completed", "failed", "killed", "unresponsive", "paused")
EXPERIMENT_STATUSES = ("running", "completed", "failed", "interrupted")
LLM = "from langsmith.runs where upper(run_type) = 'LLM'"

KEYS: dict[str, tuple[str, ...]] = {
    "staging.langsmith_runs": ("run_id", "trace_id", "run_type", "status", "started_at", "started_date",
                               "is_llm_call", "is_error", "is_finished"),
    "staging.model_lab_runs": ("run_id", "project_id", "status", "created_at", "created_date", "is_finished",
                               "is_deleted"),
    "staging.model_lab_run_metrics": ("run_id", "metric_key"),
    "staging.model_lab_run_params": ("run_id", "param_key"),
    "staging.model_lab_run_tags": ("run_id", "tag_key"),
    "staging.llmobs_projects": ("project_id", "is_deleted"),
    "staging.llmobs_datasets": ("dataset_id", "is_deleted"),
    "staging.llmobs_dataset_records": ("record_id", "dataset_id", "created_date", "is_deleted"),
    "staging.llmobs_experiments": ("experiment_id", "status", "created_date", "is_finished", "is_deleted"),
    "staging.llmobs_experiment_runs": ("experiment_run_id", "experiment_id", "created_date"),
    "staging.llmobs_experiment_aggregates": ("experiment_id", "metric_key", "statistic", "value"),
    "staging.topic_discovery_runs": ("run_id", "config_id", "status", "created_date"),
    "analytics.langsmith_daily_usage": ("day", "project_id", "run_count", "llm_call_count", "total_tokens", "cost_usd"),
    "analytics.langsmith_error_breakdown": ("day", "project_id", "run_type", "run_count", "error_count"),
    "analytics.langsmith_traces": ("trace_id", "status", "is_error", "run_count", "latency_rank", "cost_rank"),
    "analytics.llm_calls": ("trace_id", "span_id", "parent_span_id", "day", "status", "is_error"),
    "analytics.llmobs_dataset_growth": ("dataset_id", "day", "records_added", "records_total"),
    "analytics.llmobs_experiment_metrics": ("experiment_id", "metric_key", "statistic", "value"),
    "analytics.llmobs_experiment_overview": ("experiment_id", "status", "runs_synced", "is_deleted"),
    "analytics.model_lab_metric_leaderboard": ("project_id", "metric_key", "run_id", "rank_highest_first",
                                               "rank_lowest_first"),
    "analytics.model_lab_metrics_long": ("run_id", "metric_key", "run_status"),
    "analytics.model_lab_run_summary": ("run_id", "status", "created_date", "metric_count"),
    "analytics.platform_daily_activity": ("day", "langsmith_llm_calls", "model_lab_runs_started"),
    "analytics.topic_discovery_history": ("run_id", "config_id", "run_number", "is_config_changed"),
}  # fmt: skip

ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "staging.langsmith_runs": {"status": LANGSMITH_STATUSES, "run_type": LANGSMITH_RUN_TYPES},
    "staging.model_lab_runs": {"status": MODEL_LAB_STATUSES},
    "staging.llmobs_experiments": {"status": EXPERIMENT_STATUSES},
    "analytics.langsmith_error_breakdown": {"run_type": LANGSMITH_RUN_TYPES},
    "analytics.langsmith_traces": {"status": LANGSMITH_STATUSES},
    "analytics.llm_calls": {"status": LANGSMITH_STATUSES, "gen_ai_operation_name": ("chat", "text_completion")},
    "analytics.llmobs_experiment_metrics": {"status": EXPERIMENT_STATUSES},
    "analytics.llmobs_experiment_overview": {"status": EXPERIMENT_STATUSES},
    "analytics.model_lab_metric_leaderboard": {"run_status": MODEL_LAB_STATUSES},
    "analytics.model_lab_metrics_long": {"run_status": MODEL_LAB_STATUSES},
    "analytics.model_lab_run_summary": {"status": MODEL_LAB_STATUSES},
}

STAGED = {
    "langsmith_runs": "langsmith.runs",
    **{name: f"datadog.{name}" for name in (
        "model_lab_runs", "model_lab_run_metrics", "model_lab_run_params", "model_lab_run_tags", "llmobs_projects",
        "llmobs_datasets", "llmobs_dataset_records", "llmobs_experiments", "llmobs_experiment_runs",
        "llmobs_experiment_aggregates", "topic_discovery_runs")},
}  # fmt: skip
_RUNS_WITH_METRICS = "from datadog.model_lab_run_metrics m join datadog.model_lab_runs r on r.id = m.run_id"
_ROOTS = "from langsmith.runs where is_root"
# (what is compared, the total over the view, the same total over the raw tables)
TOTALS: dict[str, list[tuple[str, str, str]]] = {
    **{f"staging.{view}": [("rows", "count(*)", f"select count(*) from {raw}")] for view, raw in STAGED.items()},
    "analytics.langsmith_daily_usage": [
        ("runs", "sum(run_count)", "select count(*) from langsmith.runs"),
        ("LLM calls", "sum(llm_call_count)", f"select count(*) {LLM}"),
        ("tokens", "sum(total_tokens)", f"select coalesce(sum(total_tokens), 0) {LLM}"),
        ("cost", "round(sum(cost_usd), 6)", f"select round(coalesce(sum(total_cost), 0), 6) {LLM}"),
    ],
    "analytics.langsmith_error_breakdown": [
        ("runs", "sum(run_count)", "select count(*) from langsmith.runs"),
        ("errors", "sum(error_count)", "select count(*) from langsmith.runs where upper(status) = 'ERROR'"),
    ],
    "analytics.langsmith_traces": [
        ("traces", "count(*)", f"select count(*) {_ROOTS}"),
        ("runs in them", "sum(run_count)",
         f"select count(*) from langsmith.runs where trace_id in (select trace_id {_ROOTS})"),
        ("cost", "round(sum(cost_usd), 6)", f"select round(sum(total_cost), 6) {_ROOTS}"),
    ],
    "analytics.llm_calls": [
        ("calls", "count(*)", f"select count(*) {LLM}"),
        ("input tokens", "sum(gen_ai_usage_input_tokens)", f"select sum(prompt_tokens) {LLM}"),
        ("output tokens", "sum(gen_ai_usage_output_tokens)", f"select sum(completion_tokens) {LLM}"),
        ("cached input tokens", "sum(gen_ai_usage_cache_read_input_tokens)",
         f"select sum(cast((prompt_token_details -> 'raw') ->> 'cache_read' as bigint)) {LLM}"),
        ("errors", "count(error_type)", f"select count(*) {LLM} and upper(status) = 'ERROR'"),
    ],
    "analytics.llmobs_dataset_growth": [
        ("records", "sum(records_added)", "select count(*) from datadog.llmobs_dataset_records"),
    ],
    "analytics.llmobs_experiment_metrics": [
        ("values", "count(*)", "select count(*) from datadog.llmobs_experiment_aggregates a "
                               "join datadog.llmobs_experiments e on e.id = a.experiment_id where not e.is_deleted"),
    ],
    "analytics.llmobs_experiment_overview": [
        ("experiments", "count(*)", "select count(*) from datadog.llmobs_experiments"),
        ("runs", "sum(runs_synced)", "select count(*) from datadog.llmobs_experiment_runs "
                                     "where experiment_id in (select id from datadog.llmobs_experiments)"),
    ],
    "analytics.model_lab_metric_leaderboard": [
        ("ranked", "count(*)",
         f"select count(*) {_RUNS_WITH_METRICS} where r.deleted_at is null and m.latest is not null"),
    ],
    "analytics.model_lab_metrics_long": [("metrics", "count(*)", f"select count(*) {_RUNS_WITH_METRICS}")],
    "analytics.model_lab_run_summary": [
        ("runs", "count(*)", "select count(*) from datadog.model_lab_runs"),
        ("metrics", "sum(metric_count)", f"select count(*) {_RUNS_WITH_METRICS}"),
        ("tags", "sum(tag_count)", "select count(*) from datadog.model_lab_run_tags "
                                   "where run_id in (select id from datadog.model_lab_runs)"),
    ],
    "analytics.platform_daily_activity": [
        ("LLM calls", "sum(langsmith_llm_calls)", f"select count(*) {LLM}"),
        ("runs started", "sum(model_lab_runs_started)", "select count(started_at) from datadog.model_lab_runs"),
        ("runs completed", "sum(model_lab_runs_completed)", "select count(completed_at) from datadog.model_lab_runs"),
        ("experiments", "sum(experiments_created)", "select count(*) from datadog.llmobs_experiments"),
    ],
    "analytics.topic_discovery_history": [("runs", "count(*)", "select count(*) from datadog.topic_discovery_runs")],
}  # fmt: skip


def failures(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    """Every data test of ``view`` that finds something wrong, described; [] when all pass."""
    found: list[str] = []
    for column in KEYS[view]:
        [(nulls,)] = con.execute(f"select count(*) from {view} where {column} is null").fetchall()
        if nulls:
            found.append(f"{view}.{column} is NULL in {nulls} rows")
    for column, accepted in ENUMS.get(view, {}).items():
        values = ", ".join(f"'{v}'" for v in accepted)
        other = con.execute(f"select distinct {column} from {view} where {column} not in ({values})").fetchall()
        if other:
            found.append(f"{view}.{column} has values outside the accepted ones: {sorted(v for (v,) in other)}")
    for label, over_view, over_raw in TOTALS[view]:
        [(mine,)] = con.execute(f"select {over_view} from {view}").fetchall()
        [(raw,)] = con.execute(over_raw).fetchall()
        if _number(mine) != _number(raw):
            found.append(f"{view}: {label} total {mine} differs from the raw tables' {raw}")
    return found


def _number(value: Any) -> Any:
    return float(value) if value is not None else 0.0
