"""The analytics views: each view's grain, and its numbers on a known data set (the live recordings)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipelines.sync import sync
from pipelines.views import SQL_DIR
from sandbox import Sandbox
from tests.conftest import TABLES, rows, settings_for

GRAINS = {
    "model_lab_run_summary": "run_id",
    "model_lab_metrics_long": "run_id, metric_key",
    "model_lab_metric_leaderboard": "project_id, metric_key, run_id",
    "llmobs_experiment_overview": "experiment_id",
    "llmobs_experiment_metrics": "experiment_id, metric_key, statistic",
    "llmobs_dataset_growth": "dataset_id, day",
    "topic_discovery_history": "run_id",
    "langsmith_daily_usage": "usage_date, project_id, model_name",
    "langsmith_traces": "trace_id",
    "langsmith_error_breakdown": "run_date, project_id, run_type, run_name",
    "platform_daily_activity": "activity_date",
}


@pytest.fixture(scope="module")
def recorded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    db = tmp_path_factory.mktemp("views") / "runyard.duckdb"
    with Sandbox(model_lab_recorded=True, langsmith_runs=10) as box:
        sync(db, settings=settings_for(box))
        return db, box.model_lab.truth()


def test_every_sql_file_has_a_grain_test() -> None:
    assert {p.stem for p in SQL_DIR.glob("*.sql")} == set(GRAINS)
    for path in SQL_DIR.glob("*.sql"):
        assert path.read_text().startswith("-- Grain: one row per"), path.name


@pytest.mark.parametrize(("view", "key"), GRAINS.items())
def test_grain(everything_db: Path, view: str, key: str) -> None:
    assert rows(everything_db, f"select count(*) from analytics.{view}")[0][0] > 0
    dupes = rows(everything_db, f"select {key}, count(*) from analytics.{view} group by all having count(*) > 1")
    assert dupes == []


def test_views_are_flat_and_typed_for_bi_tools(everything_db: Path) -> None:
    types = rows(everything_db, "select table_name, column_name, data_type from information_schema.columns "
                                "where table_schema = 'analytics'")  # fmt: skip
    assert {t for t, _, _ in types} == set(GRAINS)
    nested = [(t, c, d) for t, c, d in types if any(k in d for k in ("STRUCT", "MAP", "[]", "UNION", "JSON"))]
    assert nested == []
    naive = [(t, c) for t, c, d in types if d == "TIMESTAMP"]
    assert naive == []


def test_run_summary_counts_and_durations(recorded_db: tuple[Path, list[dict]]) -> None:
    db, truth = recorded_db
    got = {
        r[0]: r[1:]
        for r in rows(
            db,
            "select run_id, metric_count, param_count, tag_count, duration_s, "
            "is_finished from analytics.model_lab_run_summary",
        )
    }
    for run in truth:
        a = run["attributes"]
        metric_count, param_count, tag_count, duration_s, is_finished = got[int(run["id"])]
        assert (metric_count, param_count, tag_count) == (
            len(a["metric_summaries"]),
            len(a["params"] or []),
            len(a["tags"]),
        )
        assert duration_s == a.get("duration")  # the recordings have no run with one but not the other
        assert is_finished == (a["status"] in ("completed", "failed", "killed"))


def test_leaderboard_ranks_match_a_hand_computation(recorded_db: tuple[Path, list[dict]]) -> None:
    db, truth = recorded_db
    latest = {
        (run["attributes"]["project_id"], m["key"], int(run["id"])): m["latest"]
        for run in truth
        for m in run["attributes"]["metric_summaries"]
        if m.get("latest") is not None
    }
    per_group = Counter((p, k) for p, k, _ in latest)
    got = rows(
        db,
        "select project_id, metric_key, run_id, rank_highest_first, rank_lowest_first, runs_ranked "
        "from analytics.model_lab_metric_leaderboard",
    )
    assert len(got) == len(latest)
    for project, key, run_id, high, low, ranked in got:
        value = latest[(project, key, run_id)]
        peers = [v for (p, k, _), v in latest.items() if (p, k) == (project, key)]
        assert high == 1 + sum(v > value for v in peers)
        assert low == 1 + sum(v < value for v in peers)
        assert ranked == per_group[(project, key)]


def test_a_complete_sync_writes_every_table_and_nothing_else(everything_db: Path) -> None:
    written = rows(
        everything_db,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('datadog', 'langsmith') and table_type = 'BASE TABLE' "
        "and table_name not like '\\_dlt%' escape '\\'",
    )
    assert sorted(name for (name,) in written) == sorted(TABLES)
