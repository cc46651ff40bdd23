"""Drift and bad data: new fields, changed types, missing fields and keys, values at the edges.

Every test serves a sandbox whose answers are rewritten on the way out (``Sandbox.drift``), syncs
over real HTTP with the real pipeline and reads the real DuckDB file (once PostgreSQL too). A
drifted sync must complete, keep every value somewhere (its column, or ``extra_fields``), report
what did not fit as warnings, and leave the column types exactly as a clean sync makes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import psycopg2
import pytest

from pipelines.sync import SyncResult, sync
from sandbox import Sandbox
from sources.errors import UpstreamError
from tests.conftest import rows, settings_for
from tests.drift_helpers import (
    DEEP,
    DELETE,
    HUGE,
    INF,
    INT64_PAST,
    LONG,
    NAN,
    TEXT,
    TEXT_STORED,
    by_id,
    column_types,
    extras,
    rewrite,
    rows_by_first_column,
    setting,
)
from tests.postgres_server import postgres_server
from tests.test_langsmith_sync import langsmith_settings
from tests.test_llm_obs_sync import llm_settings


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=30, langsmith_runs=60, llm_obs_projects=1, llm_obs_records_per_dataset=6,
                 topic_configs=1, days=3) as sandbox:  # fmt: skip
        yield sandbox


def warned(result: SyncResult, *texts: str) -> None:
    """Every text appears in one of the sync's warnings."""
    for text in texts:
        assert any(text in w for w in result.warnings), f"no warning says {text!r}: {result.warnings}"


# -- Model Lab ------------------------------------------------------------------------------


def test_model_lab_list_drift_lands_without_loss(box: Sandbox, tmp_path: Path) -> None:
    clean, drifted = tmp_path / "clean.duckdb", tmp_path / "drifted.duckdb"
    sync(clean, ["model_lab"], settings=settings_for(box))
    # Among the oldest updates: none of them is the newest run, which gives the cursor.
    runs = sorted(
        (r for r in box.model_lab.truth() if r["attributes"]["metric_summaries"]),
        key=lambda r: r["attributes"]["updated_at"],
    )
    a, b, c, d, e, f = (r["id"] for r in runs[:6])
    metric = runs[0]["attributes"]["metric_summaries"][0]["key"]
    box.drift(
        "model_lab.list_runs",
        rewrite(
            {
                a: setting(attributes__gpu_hours=12.5, attributes__labels={"team": "nlp"}, attributes__notes=None,
                           attributes__description=LONG, attributes__name=TEXT,
                           attributes__metric_summaries__0__median=0.5, attributes__metric_summaries__0__count="7"),
                b: setting(attributes__duration="12.5", attributes__project_id="not-a-number",
                           attributes__is_pinned="true"),
                c: setting(attributes__name=DELETE, attributes__updated_at=DELETE),
                d: setting(id=DELETE),
                e: setting(attributes__metric_summaries="n/a"),
                f: setting(attributes__duration=NAN, attributes__project_id=HUGE, attributes__deep=DEEP,
                           attributes__empty_list=[], attributes__empty_object={}),
            },
            strict=False,  # NaN and a 100-bit integer: the body is not strict JSON
        ),
    )  # fmt: skip

    [result] = sync(drifted, ["model_lab"], settings=settings_for(box))

    assert result.status == "ok" and result.cursors["model_lab_runs"]["updated_at"]
    assert column_types(drifted, "datadog") == column_types(clean, "datadog")
    got = by_id(drifted, "datadog.model_lab_runs", "name, description, duration, project_id, is_pinned, updated_at")
    assert len(got) == len(box.model_lab.truth()) - 1 and int(d) not in got
    assert got[int(a)][:2] == (TEXT_STORED, LONG)
    assert got[int(b)][2:5] == (12.5, None, True)
    assert got[int(c)][0::5] == (None, None)
    assert math.isnan(got[int(f)][2]) and got[int(f)][3] is None
    assert extras(drifted, "datadog.model_lab_runs") == {
        int(a): {"gpu_hours": 12.5, "labels": {"team": "nlp"}},  # null fields and descendant_match are not kept
        int(b): {"project_id": "not-a-number"},
        int(e): {"metric_summaries": "n/a"},
        int(f): {"deep": DEEP, "empty_list": [], "empty_object": {}, "project_id": HUGE},
    }
    assert rows(drifted, f"select count(*) from datadog.model_lab_run_metrics where run_id = {e}") == [(0,)]
    summary = f"select count, extra_fields from datadog.model_lab_run_metrics where run_id = {a} and key = '{metric}'"
    assert rows(drifted, summary) == [(7, '{"median":0.5}')]
    warned(
        result,
        "model_lab_runs.duration: 1 record(s) held a value of another type than the column's (e.g. str '12.5'); "
        "1 converted without loss",
        "model_lab_runs.project_id: 2 record(s) held a value of another type than the column's (e.g. str "
        "'not-a-number'); 2 stored as NULL with the original value in extra_fields",
        "model_lab_runs.is_pinned: 1 record(s) held a value of another type than the column's (e.g. str 'true'); "
        "1 converted without loss",
        "model_lab_runs.name: 1 record(s) came without this required field; they were kept with NULL in this column",
        "model_lab_runs.updated_at: 1 record(s) came without this required field",
        "model_lab_runs.id: 1 record(s) came without a usable id; they cannot be merged and were left out",
        "model_lab_runs.metric_summaries: 1 record(s) held something other than a list of objects (e.g. str 'n/a')",
        "model_lab_run_metrics.count: 1 record(s)",
    )

    # The incremental walk reads the same list: the run without updated_at stays out of its order check.
    [again] = sync(drifted, ["model_lab"], settings=settings_for(box))
    assert again.status == "ok"
    assert rows(drifted, "select count(*) from datadog.model_lab_runs") == [(len(got),)]


def test_model_lab_get_by_id_drift_keeps_child_rows_and_edge_values(box: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "runyard.duckdb"
    sync(db, ["model_lab"], settings=settings_for(box))
    with_children = (
        r for r in box.model_lab.truth() if r["attributes"]["metric_summaries"] and r["attributes"]["params"]
    )
    target, keyless = next(with_children), next(with_children)
    target_id, keyless_id = int(target["id"]), int(keyless["id"])
    metrics = f"select * from datadog.model_lab_run_metrics where run_id = {target_id} order by key"
    metrics_before = rows(db, metrics)
    param = target["attributes"]["params"][0]["key"]
    box.drift(
        "model_lab.get_run",
        rewrite(
            {
                target["id"]: setting(attributes__metric_summaries={"loss": 0.1}, attributes__region="eu",
                                      attributes__description=TEXT, attributes__project_id=INT64_PAST,
                                      attributes__external_url=LONG, attributes__tags=[],
                                      attributes__params__0__value=12.5, attributes__params__0__source="cli"),
                keyless["id"]: setting(id=DELETE, attributes__name="never stored"),
            }
        ),
    )  # fmt: skip

    [result] = sync(db, ["model_lab"], model_lab_run_ids=[target_id, keyless_id], settings=settings_for(box))

    assert result.status == "ok"
    got = by_id(db, "datadog.model_lab_runs", "description, project_id, external_url, name")
    assert got[target_id][:3] == (TEXT_STORED, None, LONG)
    assert got[keyless_id][3] == keyless["attributes"]["name"]  # the answer without an id changed nothing
    assert extras(db, "datadog.model_lab_runs")[target_id] == {
        "metric_summaries": {"loss": 0.1},
        "project_id": INT64_PAST,
        "region": "eu",
    }
    assert rows(db, metrics) == metrics_before  # summaries of another shape leave the metric rows as they were
    params = f"select value, extra_fields from datadog.model_lab_run_params where run_id = {target_id} and key = ?"
    assert rows(db, params.replace("?", f"'{param}'")) == [("12.5", '{"source":"cli"}')]
    assert rows(db, f"select count(*) from datadog.model_lab_run_tags where run_id = {target_id}") == [(0,)]
    warned(
        result,
        "model_lab_runs.id: 1 record(s) came without a usable id",
        "model_lab_runs.metric_summaries: 1 record(s) held something other than a list of objects (e.g. dict "
        "{'loss': 0.1}); the value is kept in extra_fields, and the rows built from it keep their previous state",
        "model_lab_runs.project_id: 1 record(s) held a value of another type than the column's (e.g. int "
        "9223372036854775808); 1 stored as NULL with the original value in extra_fields",
        "model_lab_run_params.value: 1 record(s) held a value of another type than the column's (e.g. float 12.5); "
        "1 converted without loss",
    )


# -- LLM Observability and topic discovery --------------------------------------------------


def test_llm_obs_and_topic_discovery_drift_lands_without_loss(box: Sandbox, tmp_path: Path) -> None:
    clean, drifted = tmp_path / "clean.duckdb", tmp_path / "drifted.duckdb"
    sync(clean, ["llm_obs"], settings=llm_settings(box))
    truth = box.llm_obs.truth()
    [project] = (p["id"] for p in truth["projects"])
    dataset, big_dataset = (d["id"] for d in truth["datasets"][:2])
    record, keyless, undated, split = (r["id"] for r in truth["dataset_records"][:4])
    experiment = truth["experiments"][0]["name"]  # the sandbox sends experiments without an id
    experiment_run = truth["experiment_runs"][0]["id"]
    [config] = box.patterns.config_ids()
    topic, topic_nulled, topic_keyless = (r["id"] for r in box.patterns.truth()[config][:3])
    box.drift(
        "llm_obs.search",
        rewrite(
            {
                project: setting(attributes__owner_team="ml", attributes__name=DELETE, attributes__description=TEXT),
                dataset: setting(attributes__current_version="3"),
                big_dataset: setting(attributes__current_version=INT64_PAST, attributes__tags=[]),
                record: setting(input={"deep": DEEP, "nan": NAN, "empty": [], "obj": {}}, expected_output=""),
                keyless: setting(id=DELETE),
                undated: setting(updated_at=DELETE),
                split: setting(split="test", metadata={}),
                experiment: setting(run_count="many", status=DELETE, description=LONG, author__team="evals",
                                    aggregate_data={"drift_kept": 3, "drift_beyond_a_float": {"mean": 10**400}}),
                experiment_run: setting(run_number=2.0, aggregate_data={"score": NAN, "n": HUGE, "inf": INF}),
            },
            strict=False,
        ),
    )  # fmt: skip
    box.drift(
        "llm_obs.topic_discovery_runs",
        rewrite(
            {
                topic: setting(duration_s=12, config_snapshot__new_knob=True, config_snapshot__hierarchy_depth="3",
                               config_snapshot__evp_query=TEXT),
                topic_nulled: setting(status=DELETE, config_snapshot__sampling_ratio="high"),
                topic_keyless: setting(id=DELETE),
            }
        ),
    )  # fmt: skip

    [result] = sync(drifted, ["llm_obs"], settings=llm_settings(box))

    assert result.status == "ok"
    assert column_types(drifted, "datadog") == column_types(clean, "datadog")
    assert by_id(drifted, "datadog.llmobs_projects", "name, description")[project] == (None, TEXT_STORED)
    datasets = by_id(drifted, "datadog.llmobs_datasets", "current_version")
    assert (datasets[dataset], datasets[big_dataset]) == ((3,), (None,))
    records = by_id(drifted, "datadog.llmobs_dataset_records", "input, expected_output, updated_at")
    assert keyless not in records and len(records) == len(truth["dataset_records"]) - 1
    assert records[record][:2] == ({"deep": DEEP, "nan": None, "empty": [], "obj": {}}, '""')
    assert records[undated][2] is None
    experiments = by_id(drifted, "datadog.llmobs_experiments", "run_count, status, description", key="name")
    assert experiments[experiment] == (None, None, LONG)
    aggregates = (
        "select metric_key, statistic, value from datadog.llmobs_experiment_aggregates where metric_key like 'drift%'"
    )
    assert rows(drifted, aggregates) == [("drift_kept", "value", 3.0)]  # a number no float holds is left out
    runs = by_id(drifted, "datadog.llmobs_experiment_runs", "run_number, aggregate_data")
    assert runs[experiment_run] == (2, {"score": None, "n": HUGE, "inf": None})  # JSON holds no NaN or Infinity
    topics = by_id(drifted, "datadog.topic_discovery_runs", "status, evp_query, hierarchy_depth, sampling_ratio")
    assert topic_keyless not in topics
    assert topics[topic][1:3] == (TEXT_STORED, 3) and topics[topic_nulled][0::3] == (None, None)
    assert extras(drifted, "datadog.llmobs_projects") == {project: {"owner_team": "ml"}}
    assert extras(drifted, "datadog.llmobs_datasets") == {big_dataset: {"current_version": INT64_PAST, "tags": []}}
    assert extras(drifted, "datadog.llmobs_dataset_records") == {split: {"split": "test"}}
    assert extras(drifted, "datadog.llmobs_experiments", key="name") == {
        experiment: {"author_team": "evals", "run_count": "many"}  # the author's avatar is dropped on purpose
    }
    assert extras(drifted, "datadog.topic_discovery_runs") == {
        topic: {"config_snapshot": {"new_knob": True}, "duration_s": 12},
        topic_nulled: {"sampling_ratio": "high"},
    }
    warned(
        result,
        "llmobs_projects.name: 1 record(s) came without this required field",
        "llmobs_datasets.current_version: 2 record(s) held a value of another type than the column's (e.g. int "
        "9223372036854775808); 1 converted without loss and 1 stored as NULL with the original value in extra_fields",
        "llmobs_dataset_records.id: 1 record(s) came without a usable id",
        "llmobs_dataset_records.updated_at: 1 record(s) came without this required field",
        "llmobs_experiments.run_count: 1 record(s)",
        "llmobs_experiments.status: 1 record(s) came without this required field",
        "llmobs_experiment_runs.run_number: 1 record(s) held a value of another type than the column's (e.g. float "
        "2.0); 1 converted without loss",
        "topic_discovery_runs.hierarchy_depth: 1 record(s)",
        "topic_discovery_runs.sampling_ratio: 1 record(s)",
        "topic_discovery_runs.status: 1 record(s) came without this required field",
        "topic_discovery_runs.id: 1 record(s) came without a usable id",
    )
    # The analytics views stay flat and keep working over the drifted tables.
    view_columns = "select column_name from information_schema.columns where table_schema = 'analytics'"
    assert ("extra_fields",) not in rows(drifted, view_columns)
    overview = rows(drifted, "select count(*) from analytics.llmobs_experiment_overview")
    assert overview == [(len(truth["experiments"]),)]


# -- LangSmith ------------------------------------------------------------------------------


def langsmith_drift(box: Sandbox) -> dict[str, str]:
    """Drift every LangSmith answer; returns the ids of the runs it changed, by role."""
    finished = [r for r in box.langsmith.truth() if r.get("end_time") and r.get("total_tokens") is not None]
    roles = ("new", "types", "unnamed", "keyless", "undated", "edge")
    ids = dict(zip(roles, (r["id"] for r in finished), strict=False))
    box.drift(
        "langsmith.query_runs",
        rewrite(
            {
                ids["new"]: setting(feedback_url="https://smith/f/1", share_url="https://public/r/1", tags=[],
                                    metadata={}, name=TEXT, error=LONG, query_metadata=None),
                ids["types"]: setting(total_tokens="12", prompt_tokens="lots", is_root="true"),
                ids["unnamed"]: setting(name=DELETE),
                ids["keyless"]: setting(id=DELETE),
                ids["undated"]: setting(start_time=DELETE),
                ids["edge"]: setting(latency_seconds=NAN, total_cost=INF, prompt_cost=-INF, completion_tokens=HUGE,
                                     metadata={"deep": DEEP, "nan": NAN, "empty": []}, blob=LONG),
            },
            strict=False,
        ),
    )  # fmt: skip
    return ids


def test_langsmith_drift_lands_without_loss(box: Sandbox, tmp_path: Path) -> None:
    clean, drifted = tmp_path / "clean.duckdb", tmp_path / "drifted.duckdb"
    sync(clean, ["langsmith"], settings=langsmith_settings(box))
    ids = langsmith_drift(box)

    [result] = sync(drifted, ["langsmith"], settings=langsmith_settings(box))

    assert result.status == "ok"
    assert column_types(drifted, "langsmith") == column_types(clean, "langsmith")
    columns = "name, error, tags, metadata, total_tokens, prompt_tokens, is_root, start_time"
    runs = by_id(drifted, "langsmith.runs", f"{columns}, latency_seconds, total_cost, prompt_cost, completion_tokens")
    assert ids["keyless"] not in runs and len(runs) == len(box.langsmith.truth()) - 1
    assert runs[ids["new"]][:4] == (TEXT_STORED, LONG, [], {})
    assert runs[ids["types"]][4:7] == (12, None, True)
    assert runs[ids["unnamed"]][0] is None and runs[ids["undated"]][7] is None
    edge = runs[ids["edge"]]
    assert edge[3] == {"deep": DEEP, "nan": None, "empty": []}
    assert math.isnan(edge[8]) and edge[9:] == (INF, -INF, None)
    # A field nobody selected (share_url is opt-in) is not kept; a field the API never had is.
    assert extras(drifted, "langsmith.runs") == {
        ids["new"]: {"feedback_url": "https://smith/f/1"},
        ids["types"]: {"prompt_tokens": "lots"},
        ids["edge"]: {"blob": LONG, "completion_tokens": HUGE},
    }
    warned(
        result,
        "runs.total_tokens: 1 record(s) held a value of another type than the column's (e.g. str '12'); 1 converted "
        "without loss",
        "runs.prompt_tokens: 1 record(s) held a value of another type than the column's (e.g. str 'lots'); 1 stored "
        "as NULL with the original value in extra_fields",
        "runs.name: 1 record(s) came without this required field",
        "runs.start_time: 1 record(s) came without this required field",
        "runs.id: 1 record(s) came without a usable id",
    )


def test_json_nested_beyond_what_can_be_read_stops_the_sync_clearly(box: Sandbox, tmp_path: Path) -> None:
    def nest(body: dict[str, Any]) -> bytes:
        body["items"][0]["metadata"] = "TOO DEEP"
        return orjson.dumps(body).replace(b'"TOO DEEP"', b"[" * 1100 + b"]" * 1100)

    box.drift("langsmith.query_runs", nest)
    with pytest.raises(UpstreamError, match="returned JSON nested more than 1024 levels deep, which runyard cannot"):
        sync(tmp_path / "runyard.duckdb", ["langsmith"], settings=langsmith_settings(box, window_hours=24 * 365))
    assert box.requests()["langsmith.query_runs"] == 1  # not worth a retry


def test_edge_values_load_the_same_into_postgresql(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = langsmith_drift(box)
    duck = tmp_path / "runyard.duckdb"
    sync(duck, ["langsmith"], settings=langsmith_settings(box))
    with postgres_server() as pg:
        dsn = pg.create_database("drift")
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
        [result] = sync(
            tmp_path / "unused.duckdb", ["langsmith"], settings=langsmith_settings(box), destination="postgres"
        )
        assert result.status == "ok"
        con = psycopg2.connect(dsn)
        try:
            cur = con.cursor()
            cur.execute("select * from langsmith.runs")
            in_postgres = rows_by_first_column(cur)
        finally:
            con.close()
    with duckdb.connect(str(duck), read_only=True) as con:
        in_duckdb = rows_by_first_column(con.execute("select * from langsmith.runs"))
    json_columns = {column for (_, column), kind in column_types(duck, "langsmith").items() if kind == "JSON"}

    def comparable(row: dict[str, Any], json_as_text: bool) -> dict[str, Any]:
        """DuckDB hands JSON back as text, psycopg2 parsed; NaN never equals itself."""
        out = {}
        for name, value in row.items():
            if name in json_columns and value is not None and json_as_text:
                value = json.loads(value)
            elif isinstance(value, float) and math.isnan(value):
                value = "NaN"
            elif isinstance(value, datetime):
                value = value.astimezone(UTC)
            out[name] = value
        return out

    assert in_duckdb.keys() == in_postgres.keys()
    for run_id, row in in_duckdb.items():
        assert comparable(row, json_as_text=True) == comparable(in_postgres[run_id], json_as_text=False), run_id
    edge = comparable(in_postgres[ids["edge"]], json_as_text=False)
    assert (edge["latency_seconds"], edge["total_cost"], edge["prompt_cost"]) == ("NaN", INF, -INF)
    assert edge["metadata"]["deep"] == DEEP and edge["extra_fields"]["completion_tokens"] == HUGE
    assert (in_postgres[ids["new"]]["name"], in_postgres[ids["new"]]["error"]) == (TEXT_STORED, LONG)
