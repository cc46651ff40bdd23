"""The analytics layer: each view's grain and layer, its rows in three time zones, its data tests,
and its numbers on a known data set (the live recordings)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.sync import sync
from pipelines.views import Reads, ViewError, ViewFile, build_order, readme_section, view_files, view_names
from sandbox import Sandbox
from tests.conftest import REPO, TABLES, rows, settings_for
from tests.view_checks import ENUMS, KEYS, STAGED, TOTALS, failures

GRAINS = {
    "staging.langsmith_runs": "run_id",
    "staging.model_lab_runs": "run_id",
    "staging.model_lab_run_metrics": "run_id, metric_key",
    "staging.model_lab_run_params": "run_id, param_key",
    "staging.model_lab_run_tags": "run_id, tag_key",
    "staging.llmobs_projects": "project_id",
    "staging.llmobs_datasets": "dataset_id",
    "staging.llmobs_dataset_records": "record_id",
    "staging.llmobs_experiments": "experiment_id",
    "staging.llmobs_experiment_runs": "experiment_run_id",
    "staging.llmobs_experiment_aggregates": "experiment_id, metric_key, statistic",
    "staging.topic_discovery_runs": "run_id",
    "analytics.model_lab_run_summary": "run_id",
    "analytics.model_lab_metrics_long": "run_id, metric_key",
    "analytics.model_lab_metric_leaderboard": "project_id, metric_key, run_id",
    "analytics.llmobs_experiment_overview": "experiment_id",
    "analytics.llmobs_experiment_metrics": "experiment_id, metric_key, statistic",
    "analytics.llmobs_dataset_growth": "dataset_id, day",
    "analytics.topic_discovery_history": "run_id",
    "analytics.langsmith_daily_usage": "day, project_id, model_name",
    "analytics.langsmith_traces": "trace_id",
    "analytics.langsmith_error_breakdown": "day, project_id, run_type, run_name",
    "analytics.llm_calls": "span_id",
    "analytics.platform_daily_activity": "day",
}
RAW_SCHEMAS = {"datadog", "langsmith"}
TIME_ZONES = ("UTC", "America/Los_Angeles", "Asia/Tokyo")


@pytest.fixture(scope="module")
def recorded_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    db = tmp_path_factory.mktemp("views") / "runyard.duckdb"
    with Sandbox(model_lab_recorded=True, langsmith_runs=10) as box:
        sync(db, settings=settings_for(box))
        return db, box.model_lab.truth()


def test_every_view_file_has_a_grain_test_and_a_header() -> None:
    assert view_names() == sorted(GRAINS, key=lambda v: (v.split(".")[0] != "staging", v))
    for view in view_files():
        assert view.path.read_text().startswith("-- Grain: one row per"), view.relative
        assert view.header("Grain") and view.header("Answers"), view.relative


def test_staging_views_clean_one_raw_table_and_marts_read_only_views() -> None:
    for view, got in build_order(view_files()):
        assert isinstance(got, Reads), view.relative
        schemas = {table.split(".")[0] for table in got.tables}
        if view.schema == "staging":
            assert len(got.tables) == 1 and schemas <= RAW_SCHEMAS, view.relative
        else:
            assert schemas <= {"staging", "analytics"}, (view.relative, got.tables)
    assert {view.name for view in view_files() if view.schema == "staging"} == set(STAGED)


def test_views_are_built_after_the_views_they_read() -> None:
    order = [view.qualified for view, _ in build_order(view_files())]
    for view, got in build_order(view_files()):
        assert isinstance(got, Reads)
        for table in got.tables & set(order):
            assert order.index(table) < order.index(view.qualified), (view.qualified, table)


@pytest.mark.parametrize(("view", "key"), GRAINS.items())
def test_grain(everything_db: Path, view: str, key: str) -> None:
    assert rows(everything_db, f"select count(*) from {view}")[0][0] > 0
    dupes = rows(everything_db, f"select {key}, count(*) from {view} group by all having count(*) > 1")
    assert dupes == []


def test_views_are_flat_and_typed_for_bi_tools(everything_db: Path) -> None:
    types = rows(
        everything_db,
        "select table_schema || '.' || table_name, column_name, data_type "
        "from information_schema.columns where table_schema in ('analytics', 'staging')",
    )
    assert {t for t, _, _ in types} == set(GRAINS)
    nested = [(t, c, d) for t, c, d in types if any(k in d for k in ("STRUCT", "MAP", "[]", "UNION", "JSON"))]
    assert nested == []
    naive = [(t, c) for t, c, d in types if d == "TIMESTAMP"]
    assert naive == []
    days = [(t, c, d) for t, c, d in types if (c == "day" or c.endswith("_date")) and d != "DATE"]
    assert days == []


def test_every_view_reads_the_same_in_every_time_zone(everything_db: Path) -> None:
    """Days are UTC dates whatever the reader's TimeZone; timestamps are the same instants."""
    seen: dict[str, dict[str, list[tuple]]] = {}
    for zone in TIME_ZONES:
        with duckdb.connect(str(everything_db), read_only=True) as con:
            con.execute(f"set TimeZone = '{zone}'")
            seen[zone] = {view: sorted(con.execute(f"select * from {view}").fetchall(), key=repr) for view in GRAINS}
    for zone in TIME_ZONES[1:]:
        for view in GRAINS:
            assert _instants(seen[zone][view]) == _instants(seen["UTC"][view]), (zone, view)


def _instants(found: list[tuple]) -> list[tuple]:
    """Rows with each timestamp as its instant (a reader's zone changes how it prints, not what it is)."""
    return sorted((tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row) for row in found), key=repr)


def test_every_view_has_data_tests() -> None:
    assert set(KEYS) == set(GRAINS) == set(TOTALS)
    assert set(ENUMS) <= set(GRAINS)


@pytest.mark.parametrize("view", GRAINS)
def test_data_tests_pass_on_the_demo_data(everything_db: Path, view: str) -> None:
    with duckdb.connect(str(everything_db), read_only=True) as con:
        assert failures(con, view) == []


@pytest.mark.parametrize("view", GRAINS)
def test_data_tests_catch_a_view_that_drops_one_row_in_ten(everything_db: Path, tmp_path: Path, view: str) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(everything_db, copy)
    file = next(v for v in view_files() if v.qualified == view)
    with duckdb.connect(str(copy)) as con:
        con.execute(f"create or replace view {view} as select * from ({file.path.read_text()}) as full_view "
                    "qualify row_number() over () % 10 <> 1")  # fmt: skip
        assert any("differs from the raw tables" in f for f in failures(con, view))


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


def test_the_readme_lists_every_view_as_its_file_describes_it() -> None:
    readme = (REPO / "README.md").read_text()
    listed = readme.split("<!-- views: ", 1)[1].split("\n", 1)[1].split("<!-- /views -->", 1)[0].strip()
    assert listed == readme_section(), "the README's list of views is stale: run `uv run python -m pipelines.views`"


def test_views_that_read_each_other_in_a_circle_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("select * from analytics.b")
    (tmp_path / "b.sql").write_text("select * from analytics.a")
    files = [ViewFile("analytics", name, tmp_path / f"{name}.sql") for name in ("a", "b")]
    with pytest.raises(ViewError, match="read each other in a circle") as refused:
        build_order(files)
    assert str(tmp_path / "a.sql") in refused.value.cause and str(tmp_path / "b.sql") in refused.value.cause
