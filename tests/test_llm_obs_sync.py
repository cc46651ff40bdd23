"""LLM Observability end to end: experimentation search and topic-discovery runs into the real DuckDB file."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from pipelines.config import DatadogSettings
from pipelines.sync import Settings, sync
from sandbox import Sandbox
from sources.errors import ConfigError
from tests.conftest import rows, run_cli

SCOPE_TABLES = {
    "projects": "llmobs_projects",
    "datasets": "llmobs_datasets",
    "dataset_records": "llmobs_dataset_records",
    "experiments": "llmobs_experiments",
    "experiment_runs": "llmobs_experiment_runs",
}


def llm_settings(box: Sandbox, **overrides: object) -> Settings:
    datadog = DatadogSettings(
        api_key=box.config.datadog_api_key,
        app_key=box.config.datadog_app_key,
        site="datadoghq.com",
        base_url=box.url,
        llm_obs_page_limit=25,
        llm_obs_include_user_data=True,
        topic_discovery_config_ids=tuple(box.patterns.config_ids()),
    )
    return Settings(datadog=dataclasses.replace(datadog, **overrides))  # type: ignore[arg-type]


@pytest.fixture
def box() -> Sandbox:
    with Sandbox(model_lab_runs=10, langsmith_runs=10, llm_obs_projects=2, llm_obs_records_per_dataset=40) as sandbox:
        yield sandbox


def experiment_key(experiment: dict) -> str:
    """The service's id, or the documented fallback: sha1 of project, dataset, name and creation time."""
    if experiment.get("id"):
        return experiment["id"]
    parts = "\x1f".join(str(experiment[k]) for k in ("project_id", "dataset_id", "name", "created_at"))
    return "derived:" + hashlib.sha1(parts.encode()).hexdigest()


def expected_ids(box: Sandbox, scope: str) -> set[str]:
    truth = box.llm_obs.truth()[scope]
    if scope == "experiments":
        return {experiment_key(e) for e in truth}
    return {item["id"] for item in truth}


def soft_deleted(box: Sandbox, scope: str) -> set[str]:
    return {e.id for e in box.llm_obs.entities[scope].values() if e.deleted_us is not None}


def assert_matches_truth(db: Path, box: Sandbox) -> None:
    for scope, table in SCOPE_TABLES.items():
        got = rows(db, f"select id, is_deleted from datadog.{table}")
        assert len(got) == len({i for i, _ in got}), f"duplicate ids in {table}"
        assert {i for i, _ in got} == expected_ids(box, scope), table
        if scope not in ("experiments", "experiment_runs"):
            assert {i for i, deleted in got if deleted} == soft_deleted(box, scope), table


def test_every_scope_pages_to_the_end(box: Sandbox, db_path: Path) -> None:
    [result] = sync(db_path, ["llm_obs"], settings=llm_settings(box))

    assert_matches_truth(db_path, box)
    records = len(box.llm_obs.truth()["dataset_records"])
    assert records > 200
    # 25 per page: every scope needed many 206 pages.
    assert box.requests()["llm_obs.search"] > records / 25
    assert result.rows_loaded["datadog.llmobs_dataset_records"] == records
    types = dict(
        rows(
            db_path,
            "select column_name, data_type from information_schema.columns where "
            "table_schema = 'datadog' and table_name = 'llmobs_dataset_records'",
        )
    )
    assert types["input"] == types["expected_output"] == types["metadata"] == "JSON"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_incremental_sync_with_nothing_changed_reads_one_page_per_walk(box: Sandbox, db_path: Path) -> None:
    settings = llm_settings(box)
    sync(db_path, ["llm_obs"], settings=settings)
    box.reset_requests()

    sync(db_path, ["llm_obs"], settings=settings)

    # One page per scope, plus one for the soft-deleted walk of the four scopes without deleted_at.
    assert box.requests()["llm_obs.search"] == 5 + 4
    assert box.requests()["llm_obs.topic_discovery_runs"] == len(box.patterns.config_ids())
    assert_matches_truth(db_path, box)


def test_updates_soft_deletes_and_new_records_arrive(box: Sandbox, db_path: Path) -> None:
    settings = llm_settings(box)
    sync(db_path, ["llm_obs"], settings=settings)
    changed = box.advance(
        llm_obs={"update": 10, "soft_delete": 6, "new_records": 30, "new_experiments": 2, "bump_dataset_version": 1}
    )["llm_obs"]

    sync(db_path, ["llm_obs"], settings=settings)

    assert_matches_truth(db_path, box)
    new = set(changed["new_records"])
    assert new <= {r[0] for r in rows(db_path, "select id from datadog.llmobs_dataset_records")}
    experiments = {e["name"]: e for e in box.llm_obs.truth()["experiments"]}
    got = dict(rows(db_path, "select name, status from datadog.llmobs_experiments"))
    assert got == {name: e.get("status") for name, e in experiments.items()}
    # Aggregates follow their experiment: re-rolled ones replace the old rows, vanished ones go.
    expected_aggregates = {
        (experiment_key(e), metric, stat, float(v))
        for e in box.llm_obs.truth()["experiments"]
        if isinstance(e.get("aggregate_data"), dict)
        for metric, value in e["aggregate_data"].items()
        for stat, v in (value.items() if isinstance(value, dict) else [("value", value)])
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    got_aggregates = set(rows(db_path, "select experiment_id, metric_key, statistic, value "
                                       "from datadog.llmobs_experiment_aggregates"))  # fmt: skip
    assert got_aggregates == expected_aggregates


def test_full_refresh_reconciles_hard_deletes(box: Sandbox, db_path: Path) -> None:
    settings = llm_settings(box)
    sync(db_path, ["llm_obs"], settings=settings)
    gone = box.advance(llm_obs={"hard_delete": 8})["llm_obs"]["hard_delete"]
    sync(db_path, ["llm_obs"], settings=settings)
    assert (
        rows(
            db_path,
            f"select count(*) from datadog.llmobs_dataset_records where id in ({','.join(repr(g) for g in gone)})",
        )[0][0]
        >= 0
    )

    sync(db_path, ["llm_obs"], settings=settings, full_refresh=True)

    assert_matches_truth(db_path, box)
    for table in SCOPE_TABLES.values():
        assert not rows(db_path, f"select id from datadog.{table} where id in ({','.join(repr(g) for g in gone)})")


def test_json_values_of_every_shape_survive_and_are_queryable(box: Sandbox, db_path: Path) -> None:
    sync(db_path, ["llm_obs"], settings=llm_settings(box))

    truth = {r["id"]: r for r in box.llm_obs.truth()["dataset_records"]}
    import json

    got = rows(
        db_path,
        "select id, input::varchar, expected_output::varchar, json_type(input) from datadog.llmobs_dataset_records",
    )
    shapes = set()
    for record_id, input_text, output_text, kind in got:
        assert json.loads(input_text) == truth[record_id]["input"]
        expected = truth[record_id]["expected_output"]
        assert (json.loads(output_text) if output_text is not None else None) == expected
        shapes.add(kind)
    assert {"VARCHAR", "DOUBLE", "OBJECT", "ARRAY", "BOOLEAN"} <= shapes
    assert shapes & {"BIGINT", "UBIGINT"}
    # DuckDB's JSON functions reach inside: every object-shaped input's keys are listed.
    [(objects,)] = rows(
        db_path,
        "select count(*) from datadog.llmobs_dataset_records "
        "where json_type(input) = 'OBJECT' and json_keys(input) is not null",
    )
    assert objects == sum(isinstance(r["input"], dict) for r in truth.values())


@pytest.mark.parametrize("experiment_ids", [False, True])
def test_experiments_keyed_with_and_without_a_service_id(db_path: Path, experiment_ids: bool) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=10, llm_obs_projects=1, experiment_ids=experiment_ids) as box:
        sync(db_path, ["llm_obs"], settings=llm_settings(box))
        sync(db_path, ["llm_obs"], settings=llm_settings(box))  # keys are stable across syncs
        assert {r[0] for r in rows(db_path, "select id from datadog.llmobs_experiments")} == expected_ids(
            box, "experiments"
        )
    sources = {r[0] for r in rows(db_path, "select distinct id_source from datadog.llmobs_experiments")}
    assert sources == {"service" if experiment_ids else "derived"}
    authors = rows(db_path, "select count(*) from datadog.llmobs_experiments where author_email is null")
    assert authors == [(0,)]


def test_topic_discovery_snapshots_land_with_config_columns(box: Sandbox, db_path: Path) -> None:
    sync(db_path, ["llm_obs"], settings=llm_settings(box))

    truth = box.patterns.truth()
    expected = {
        (run["id"], config_id, run["config_snapshot"].get("model_name"), run["config_snapshot"].get("sampling_ratio"))
        for config_id, runs in truth.items()
        for run in runs
    }
    got = set(rows(db_path, "select id, config_id, model_name, sampling_ratio from datadog.topic_discovery_runs"))
    assert got == expected
    changed = rows(db_path, "select count(*) from analytics.topic_discovery_history where is_config_changed")
    assert changed[0][0] >= len(truth)  # every configuration's snapshot drifts at least once


def test_topic_discovery_is_skipped_without_config_ids(box: Sandbox, db_path: Path) -> None:
    [result] = sync(db_path, ["llm_obs"], settings=llm_settings(box, topic_discovery_config_ids=()))
    assert any("TOPIC_DISCOVERY_CONFIG_IDS" in n for n in result.notices)
    assert box.requests()["llm_obs.topic_discovery_runs"] == 0


def test_unknown_config_id_is_a_clear_error(box: Sandbox, db_path: Path) -> None:
    settings = llm_settings(box, topic_discovery_config_ids=("not-a-config",))
    with pytest.raises(ConfigError, match="topic-discovery configuration 'not-a-config' does not exist"):
        sync(db_path, ["llm_obs"], settings=settings)
    assert not db_path.exists()


def test_api_validation_errors_reach_the_user_clearly(box: Sandbox) -> None:
    import httpx

    headers = {"DD-API-KEY": box.config.datadog_api_key, "DD-APPLICATION-KEY": box.config.datadog_app_key}
    empty_scope = httpx.post(
        f"{box.url}/api/v2/llm-obs/v1/experimentation/search",
        headers=headers,
        json={"data": {"type": "experimentation", "attributes": {"filter": {"scope": []}}}},
    )
    assert empty_scope.status_code == 400 and empty_scope.json()["errors"][0]["title"] == "Bad Request"
    no_config = httpx.get(f"{box.url}/api/v2/llm-obs/v1/topic-discovery-runs", headers=headers)
    assert no_config.status_code == 400 and no_config.json()["errors"][0]["source"] == {"parameter": "config_id"}

    env = {
        "DD_API_KEY": box.config.datadog_api_key,
        "DD_APP_KEY": box.config.datadog_app_key,
        "SOURCES__DATADOG__BASE_URL": box.url,
    }
    box.faults.add(kind="status", status=400, endpoint="llm_obs.search")
    rejected = run_cli("sync", "llm_obs", env=env)
    assert rejected.code == 4 and "Traceback" not in rejected.stderr
    assert "datadog: POST /api/v2/llm-obs/v1/experimentation/search returned 400" in rejected.stderr
    # Settings that would draw a 400 are refused before any request.
    box.reset_requests()
    refused = run_cli("sync", "llm_obs", env={**env, "SOURCES__DATADOG__LLM_OBS_PAGE_LIMIT": "5000"})
    assert refused.code == 2
    assert "SOURCES__DATADOG__LLM_OBS_PAGE_LIMIT='5000' is not between 1 and 1000" in refused.stderr
    assert sum(box.requests().values()) == 0
