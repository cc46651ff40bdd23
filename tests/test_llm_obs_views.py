"""The LLM Observability views against numbers recomputed in Python from the sandbox's data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pipelines.sync import sync
from sandbox import Sandbox
from tests.conftest import rows
from tests.test_llm_obs_sync import llm_settings

SNAPSHOT_FIELDS = (
    "evp_query",
    "hierarchy_depth",
    "num_records",
    "sampling_ratio",
    "model_name",
    "integration_provider",
    "account_id",
)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    db = tmp_path_factory.mktemp("llm-views") / "runyard.duckdb"
    with Sandbox(
        model_lab_runs=10, langsmith_runs=10, llm_obs_projects=2, llm_obs_records_per_dataset=30, experiment_ids=True
    ) as box:
        sync(db, ["llm_obs"], settings=llm_settings(box))
        return db, box.llm_obs.truth(), box.patterns.truth()


def _day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(UTC).date()


def test_experiment_overview(synced: tuple[Path, dict, dict]) -> None:
    db, truth, _ = synced
    projects = {p["id"]: p["attributes"]["name"] for p in truth["projects"]}
    datasets = {d["id"]: d["attributes"]["name"] for d in truth["datasets"]}
    runs = Counter(r["experiment_id"] for r in truth["experiment_runs"])
    expected = {
        (
            e["id"],
            projects.get(e["project_id"]),
            datasets.get(e["dataset_id"]),
            e.get("dataset_version"),
            e.get("status"),
            e.get("run_count"),
            runs[e["id"]],
            (e.get("author") or {}).get("name"),
            e.get("error"),
        )
        for e in truth["experiments"]
    }
    got = set(
        rows(
            db,
            "select experiment_id, project_name, dataset_name, dataset_version, status, run_count, "
            "runs_synced, author_name, error from analytics.llmobs_experiment_overview",
        )
    )
    assert got == expected


def test_experiment_metrics_long_form(synced: tuple[Path, dict, dict]) -> None:
    db, truth, _ = synced
    expected = set()
    for e in truth["experiments"]:
        if e.get("deleted_at") or not isinstance(e.get("aggregate_data"), dict):
            continue
        for metric, value in e["aggregate_data"].items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                expected.add((e["id"], metric, "value", float(value)))
            elif isinstance(value, dict):
                expected.update(
                    (e["id"], metric, stat, float(v))
                    for stat, v in value.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                )
    got = set(rows(db, "select experiment_id, metric_key, statistic, value from analytics.llmobs_experiment_metrics"))
    assert expected and got == expected


def test_dataset_growth(synced: tuple[Path, dict, dict]) -> None:
    db, truth, _ = synced
    added = Counter((r["dataset_id"], _day(r["created_at"])) for r in truth["dataset_records"])
    got = {
        (d, day): (n, total)
        for d, day, n, total in rows(
            db, "select dataset_id, day, records_added, records_total from analytics.llmobs_dataset_growth"
        )
    }
    assert {k: v[0] for k, v in got.items()} == dict(added)
    for (dataset, day), (_, total) in got.items():
        assert total == sum(n for (d, other), n in added.items() if d == dataset and other <= day)


def test_topic_discovery_history(synced: tuple[Path, dict, dict]) -> None:
    db, _, patterns = synced
    expected = {}
    for runs in patterns.values():
        ordered = sorted(runs, key=lambda r: (r["created_at"], r["id"]))
        for previous, run in zip([None, *ordered], ordered, strict=False):
            changed = (
                []
                if previous is None
                else [f for f in SNAPSHOT_FIELDS if previous["config_snapshot"].get(f) != run["config_snapshot"].get(f)]
            )
            expected[run["id"]] = ", ".join(changed)
    got = dict(rows(db, "select run_id, changed_fields from analytics.topic_discovery_history"))
    assert got == expected
    assert any(expected.values())
