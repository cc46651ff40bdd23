"""What each runyard source writes and where its reading stands, without importing dlt or the sources.

``runyard status`` needs only this (importing dlt takes most of a second); pipelines/registry.py
adds how each source is built and loaded. The table names are the ones the sources declare
(tests/test_cli.py checks that they agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Cursors = Callable[[dict[str, Any]], dict[str, dict[str, Any]]]  # resource states -> {table: {what: value}}


@dataclass(frozen=True)
class SourceInfo:
    name: str
    upstream: str  # "datadog" or "langsmith": the dlt pipeline runyard_<upstream>, dataset <upstream>
    tables: tuple[str, ...]  # tables written, in schema <upstream>
    cursors: Cursors  # where each table's incremental read stands, from the resource states


MODEL_LAB_RUNS = "model_lab_runs"
LLM_OBS_TABLES = ("llmobs_projects", "llmobs_datasets", "llmobs_dataset_records", "llmobs_experiments",
                  "llmobs_experiment_runs")  # fmt: skip
LANGSMITH_RUNS = "runs"


def _model_lab(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    state = resources.get(MODEL_LAB_RUNS, {})
    cursors: dict[str, Any] = {
        "updated_at" if key == "all" else f"updated_at ({key})": part.get("cursor")
        for key, part in state.get("partitions", {}).items()
    }
    cursors["unfinished runs followed"] = len(state.get("unfinished", []))
    return {MODEL_LAB_RUNS: cursors}


def _llm_obs(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        table: {
            "created_at" if table.endswith("experiment_runs") else "updated_at": resources.get(table, {}).get("cursor")
        }
        for table in LLM_OBS_TABLES
    }


def _langsmith(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    state = resources.get(LANGSMITH_RUNS, {})
    cursors = {
        "start_time": state.get("cursor"),
        "pending runs": len(state.get("pending", [])),
        "late feedback": state.get("late_feedback"),
    }
    if state.get("refused_selects"):
        cursors["selects the server refused"] = ", ".join(state["refused_selects"])
    return {LANGSMITH_RUNS: cursors}


CATALOG: dict[str, SourceInfo] = {
    "model_lab": SourceInfo(
        "model_lab",
        "datadog",
        (MODEL_LAB_RUNS, "model_lab_run_metrics", "model_lab_run_params", "model_lab_run_tags"),
        _model_lab,
    ),
    "llm_obs": SourceInfo(
        "llm_obs", "datadog", (*LLM_OBS_TABLES, "llmobs_experiment_aggregates", "topic_discovery_runs"), _llm_obs
    ),
    "langsmith": SourceInfo("langsmith", "langsmith", (LANGSMITH_RUNS,), _langsmith),
}
