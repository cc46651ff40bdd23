"""LangSmith runs end to end: real HTTP against the sandbox, the real pipeline, the real DuckDB file."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from pipelines.config import LangSmithSettings
from pipelines.sync import Settings, sync
from sandbox import Sandbox
from sources.arrow_tables import DataIssues, parse_timestamp
from sources.http_client import parse_json_body
from sources.langsmith.run_table import (
    COLUMN_TYPES,
    RunTables,
    TypedPage,
    json_columns,
    normalize_selects,
    run_schema,
    runs_table,
)
from sources.langsmith.runs import INGEST_LAG
from sources.langsmith.settings import DEFAULT_SELECTS, SELECT_TOKENS
from sources.langsmith.windows import BUFFERED_PAGES, fetch_concurrently, plan_windows
from tests.conftest import rows, run_cli

FAKE_KEY = "lsv2_fake_DO-NOT-LEAK_3f9a1c7e"
COMPARED = (
    "status", "start_time", "end_time", "prompt_tokens", "completion_tokens", "total_tokens",
    "prompt_cost", "completion_cost", "total_cost", "latency_seconds", "trace_id", "is_root",
)  # fmt: skip
TIMES = ("start_time", "end_time")
# The columns the analytics views read (staging.langsmith_runs): a narrower select list than this
# cannot feed them (tests/test_view_failures.py checks the two agree).
VIEW_SELECTS = (
    "ID", "PROJECT_ID", "NAME", "RUN_TYPE", "STATUS", "START_TIME", "END_TIME", "FIRST_TOKEN_TIME", "LATENCY_SECONDS",
    "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS", "TOTAL_COST", "PROMPT_COST", "COMPLETION_COST",
    "PROMPT_TOKEN_DETAILS", "COMPLETION_TOKEN_DETAILS", "METADATA", "TRACE_ID", "THREAD_ID", "PARENT_RUN_IDS",
    "IS_ROOT", "ERROR",
)  # fmt: skip


def langsmith_settings(box: Sandbox, **overrides: Any) -> Settings:
    """Settings pointing at the sandbox, reading from its earliest run."""
    given: dict[str, Any] = {
        "api_key": box.config.langsmith_api_key,
        "base_url": box.url,
        "project_ids": tuple(box.langsmith.project_ids()),
        "initial_start": box.langsmith.earliest_start(),
    }
    return Settings(langsmith=LangSmithSettings(**{**given, **overrides}))


def truth_since(box: Sandbox, start: str) -> dict[str, dict[str, Any]]:
    low = parse_timestamp(start)
    return {r["id"]: r for r in box.langsmith.truth() if parse_timestamp(r["start_time"]) >= low}


def assert_matches(db: Path, truth: dict[str, dict[str, Any]]) -> None:
    """The table holds exactly these runs, one row each, with their current state."""
    got = {r[0]: r[1:] for r in rows(db, f"select id, {', '.join(COMPARED)} from langsmith.runs")}
    assert rows(db, "select count(*) - count(distinct id) from langsmith.runs") == [(0,)]
    assert got.keys() == truth.keys()
    for run_id, run in truth.items():
        want = tuple(
            parse_timestamp(run[c]) if c in TIMES and run.get(c) else run.get(c)  # absent loads as NULL
            for c in COMPARED
        )
        assert got[run_id] == want, run_id


@pytest.fixture
def box() -> Iterator[Sandbox]:
    # strict: the selects are checked against the published reference, as an older self-hosted server does
    with Sandbox(model_lab_runs=10, langsmith_runs=2500, strict=True) as sandbox:
        yield sandbox


def test_first_sync_reads_history_older_than_the_api_default_day(box: Sandbox, db_path: Path) -> None:
    settings = langsmith_settings(box)

    [result] = sync(db_path, ["langsmith"], settings=settings)

    assert result.status == "ok"
    truth = truth_since(box, settings.langsmith.initial_start)
    assert len(truth) == 2500
    assert_matches(db_path, truth)
    [(oldest,)] = rows(db_path, "select min(start_time) from langsmith.runs")
    assert oldest < datetime.now(UTC) - timedelta(days=25)  # the API alone would serve one day
    assert result.rows_loaded["langsmith.runs"] == 2500
    # 30 days in 24-hour windows of under 1000 runs each: one request per window.
    windows = len(plan_windows(parse_timestamp(settings.langsmith.initial_start), datetime.now(UTC), timedelta(1)))
    assert box.requests()["langsmith.query_runs"] in (windows - 1, windows)


def test_a_run_pending_for_days_ends_with_its_final_state(box: Sandbox, db_path: Path) -> None:
    settings = langsmith_settings(box)
    [first] = sync(db_path, ["langsmith"], settings=settings)
    days_ago = datetime.now(UTC) - timedelta(days=2)
    old_pending = [
        r["id"]
        for r in box.langsmith.truth()
        if r["status"] == "PENDING" and parse_timestamp(r["start_time"]) < days_ago
    ]
    assert old_pending, "the sandbox should have runs stuck pending for days"
    target = old_pending[0]
    assert rows(db_path, f"select status, end_time, total_tokens from langsmith.runs where id = '{target}'") == [
        ("PENDING", None, None)
    ]

    finished = box.advance(langsmith={"finish_pending": [target]})["langsmith"]["finish_pending"]
    [second] = sync(db_path, ["langsmith"], settings=settings)

    assert target in finished
    truth = truth_since(box, settings.langsmith.initial_start)
    assert all(truth[i]["status"] != "PENDING" and truth[i]["end_time"] for i in finished)
    assert_matches(db_path, truth)
    [(status, end_time)] = rows(db_path, f"select status, end_time from langsmith.runs where id = '{target}'")
    assert status in ("SUCCESS", "ERROR") and end_time is not None
    assert second.cursors["runs"]["pending runs"] == first.cursors["runs"]["pending runs"] - len(finished)


def test_incremental_sync_with_nothing_new_queries_one_window_the_feedback_and_the_pending(
    box: Sandbox, db_path: Path
) -> None:
    settings = langsmith_settings(box)
    [first] = sync(db_path, ["langsmith"], settings=settings)
    lag_start = parse_timestamp(first.cursors["runs"]["start_time"]) - INGEST_LAG
    [(outside,)] = rows(
        db_path,
        f"select count(*) from langsmith.runs where end_time is null and start_time < '{lag_start.isoformat()}'",
    )
    assert outside > 0, "some pending runs should be older than the re-read window"
    box.reset_requests()

    [second] = sync(db_path, ["langsmith"], settings=settings)

    # one window walk, one query for runs whose feedback changed, the pending runs 1000 at a time
    assert box.requests()["langsmith.query_runs"] == 1 + 1 + math.ceil(outside / 1000)
    assert_matches(db_path, truth_since(box, settings.langsmith.initial_start))
    assert second.cursors["runs"]["start_time"] > first.cursors["runs"]["start_time"]


def test_new_traces_arrive_in_the_next_sync(box: Sandbox, db_path: Path) -> None:
    settings = langsmith_settings(box)
    sync(db_path, ["langsmith"], settings=settings)
    new = box.advance(langsmith={"new_traces": 3, "finish_pending": 4})["langsmith"]["new_traces"]

    sync(db_path, ["langsmith"], settings=settings)

    assert_matches(db_path, truth_since(box, settings.langsmith.initial_start))
    [(pending_new,)] = rows(
        db_path, f"select count(*) from langsmith.runs where status = 'PENDING' and id in {tuple(new)}"
    )
    assert pending_new == len(new)  # new traces start with every run pending


def test_adding_a_project_reads_its_history_from_the_initial_start(box: Sandbox, db_path: Path) -> None:
    first, second = box.langsmith.project_ids()
    [before] = sync(db_path, ["langsmith"], settings=langsmith_settings(box, project_ids=(first,)))
    assert {r[0] for r in rows(db_path, "select distinct project_id from langsmith.runs")} == {first}

    [after] = sync(db_path, ["langsmith"], settings=langsmith_settings(box, project_ids=(first, second)))

    assert not before.warnings and "read again from SOURCES__LANGSMITH__INITIAL_START" in after.warnings[0]
    assert_matches(db_path, truth_since(box, box.langsmith.earliest_start()))


def test_concurrent_windows_load_the_same_table_as_one_sequential_walk(box: Sandbox, tmp_path: Path) -> None:
    concurrent, sequential = tmp_path / "concurrent.duckdb", tmp_path / "sequential.duckdb"
    sync(concurrent, ["langsmith"], settings=langsmith_settings(box, window_hours=6, concurrency=4))
    windowed = box.requests()["langsmith.query_runs"]
    box.reset_requests()
    sync(sequential, ["langsmith"], settings=langsmith_settings(box, window_hours=24 * 365, concurrency=1))

    assert box.requests()["langsmith.query_runs"] == 3  # 2500 runs, 1000 per page, one walk
    assert windowed > 100  # 30 days in 6-hour windows
    query = "select * from langsmith.runs order by id"
    assert rows(concurrent, query) == rows(sequential, query)


def test_windows_are_handed_on_as_they_arrive_each_in_its_own_order() -> None:
    first_may_finish = threading.Event()

    def fetch(window: int) -> Iterator[int]:
        if window == 0:  # the oldest window is slow: later ones must not wait for it
            first_may_finish.wait(timeout=5)
        yield from (window * 10 + k for k in range(3))

    got = []
    for item in fetch_concurrently(range(8), fetch, concurrency=4):
        got.append(item)
        if len(got) == 21:  # every other window is in
            first_may_finish.set()

    assert got[21:] == [0, 1, 2]
    assert sorted(got) == [w * 10 + k for w in range(8) for k in range(3)]
    for w in range(8):
        assert [item for item in got if item // 10 == w] == [w * 10 + k for k in range(3)]


def test_walks_pause_while_the_consumer_is_behind() -> None:
    produced = 0
    lock = threading.Lock()

    def fetch(window: int) -> Iterator[int]:
        nonlocal produced
        for k in range(50):
            with lock:
                produced += 1
            yield k

    ahead = []
    for consumed, _item in enumerate(fetch_concurrently(range(6), fetch, concurrency=3), 1):
        time.sleep(0.002)
        with lock:
            ahead.append(produced - consumed)
    # what the queue holds, plus one item per walk waiting to be put
    assert max(ahead) <= BUFFERED_PAGES + 3
    assert consumed == 300


def test_a_failed_window_raises_and_stops_the_others() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def fetch(window: int) -> Iterator[int]:
        with lock:
            started.append(window)
        if window == 1:
            raise RuntimeError("window 1 failed")
        yield from range(100)  # more than the queue holds: these walks pause until consumed

    with pytest.raises(RuntimeError, match="window 1 failed"):
        for _item in fetch_concurrently(range(20), fetch, concurrency=3):
            pass
    assert len(started) < 20  # the remaining windows were cancelled


def test_selects_choose_the_columns_and_nested_fields_are_json(box: Sandbox, db_path: Path) -> None:
    selects = (*VIEW_SELECTS, "INPUTS", "TAGS")
    sync(db_path, ["langsmith"], settings=langsmith_settings(box, selects=tuple(s.lower() for s in selects)))

    types = dict(
        rows(
            db_path,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'langsmith' and table_name = 'runs'",
        )
    )
    assert set(types) == {s.lower() for s in normalize_selects(selects)} | {"extra_fields"}
    assert (types["metadata"], types["inputs"], types["tags"]) == ("JSON", "JSON", "JSON")
    assert (types["start_time"], types["total_tokens"], types["total_cost"], types["is_root"]) == (
        "TIMESTAMP WITH TIME ZONE",
        "BIGINT",
        "DOUBLE",
        "BOOLEAN",
    )
    got = {
        r[0]: r[1:]
        for r in rows(
            db_path,
            "select id, json_extract_string(metadata, '$.ls_model_name'), inputs->>'question', "
            "json_array_length(tags) from langsmith.runs",
        )
    }
    truth = box.langsmith.truth()
    for run in truth:
        want = (run["metadata"].get("ls_model_name"), run["inputs"].get("question"), len(run["tags"]))
        assert got[run["id"]] == want
    assert sum(1 for v in got.values() if v[0]) > 500


def test_every_select_token_has_a_column_type() -> None:
    assert set(COLUMN_TYPES) == set(SELECT_TOKENS)
    assert normalize_selects(["name"])[:4] == ("ID", "NAME", "STATUS", "START_TIME")
    assert set(normalize_selects(["name"])) == {"ID", "NAME", "STATUS", "START_TIME", "END_TIME"}


def test_one_drifted_value_changes_nothing_for_the_rest_of_its_page(box: Sandbox) -> None:
    """A page of plain runs is read by the struct path; one value that does not fit sends the whole
    page down the per-column path. Both must give the other runs the same rows."""
    selects = normalize_selects(SELECT_TOKENS)
    schema, json_names = run_schema(selects), frozenset(json_columns(selects))
    runs = box.langsmith.truth()[:200]
    plain = runs_table(runs, schema, json_names, DataIssues("langsmith"))
    drifted = runs_table([*runs, {**runs[0], "id": "drifted", "is_root": "true"}], schema, json_names,
                         DataIssues("langsmith"))  # fmt: skip
    assert plain.num_rows == len(runs) and plain.column("start_time").null_count == 0
    assert drifted.slice(0, len(runs)).equals(plain)
    assert drifted.column("is_root")[len(runs)].as_py() is True  # "true" read losslessly, on the slow path


def _page(runs: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"items": runs, "next_cursor": "next"})


@pytest.mark.parametrize("selects", [DEFAULT_SELECTS, SELECT_TOKENS], ids=["default", "every"])
def test_the_direct_path_reads_a_page_as_the_general_path_does(box: Sandbox, selects: tuple[str, ...]) -> None:
    """msgspec straight into typed columns (nested values as the JSON text sent) against orjson,
    Python values and runs_table: the same table, the same cursor, nothing to report."""
    tokens = normalize_selects(selects)
    runs = [{k: v for k, v in run.items() if k.upper() in tokens} for run in box.langsmith.truth()[:500]]
    content = _page(runs)
    issues = DataIssues("langsmith")
    tables = RunTables(tokens, issues)
    decoded = tables.decode(content)
    assert isinstance(decoded, TypedPage)
    direct, cursor = tables.read(decoded)
    general = runs_table(orjson.loads(content)["items"], run_schema(tokens), frozenset(json_columns(tokens)), issues)
    assert cursor == "next" and direct.num_rows == len(runs)
    assert direct.equals(general)
    assert direct.column("metadata").null_count < len(runs)  # nested values are there, as text
    assert issues.warnings() == []


@pytest.mark.parametrize(
    ("change", "direct"),
    [
        ({"unknown_field": 1}, False),  # no column: kept in extra_fields
        ({"total_tokens": "12"}, False),  # a number as text: converted, and counted
        ({"total_tokens": 3.5}, False),  # does not fit: NULL, the value kept in extra_fields
        ({"total_tokens": 2**64 - 1}, False),  # beyond int64
        ({"is_root": 1}, False),
        ({"name": 7}, False),
        ({"name": "nul\x00inside"}, False),  # stripped: PostgreSQL cannot store it
        ({"metadata": {"nul": "\x00"}}, False),
        ({"id": None}, True),  # left out, and reported, on either path
        ({"start_time": "2026-01-01T00:00:00.123456789Z"}, True),  # nanoseconds: parsed by table() on either path
    ],
    ids=lambda value: repr(value)[:30] if isinstance(value, dict) else str(value),
)
def test_pages_with_drift_read_as_the_general_path_reads_them(
    box: Sandbox, change: dict[str, Any], direct: bool
) -> None:
    tokens = normalize_selects(DEFAULT_SELECTS)
    runs = [{k: v for k, v in run.items() if k.upper() in tokens} for run in box.langsmith.truth()[:50]]
    runs[7] = {**runs[7], **change}
    content = _page(runs)
    expected_issues = DataIssues("langsmith")
    expected = runs_table(
        parse_json_body(content)["items"], run_schema(tokens), frozenset(json_columns(tokens)), expected_issues
    )
    tables = RunTables(tokens, DataIssues("langsmith"))
    decoded = tables.decode(content)
    read, _ = tables.read(decoded)
    assert isinstance(decoded, TypedPage) is direct
    assert read.equals(expected)
    assert tables.issues.warnings() == expected_issues.warnings()
    assert "\x00" not in str(read.to_pylist())


@pytest.mark.parametrize(
    ("find", "replace", "column"),
    [
        (b'"metadata":{', b'"metadata":{"bad":"\xff\xfe",', "metadata"),  # invalid UTF-8
        (b'"metadata":{', b'"metadata":{"bad":"\\ud800",', "metadata"),  # an unpaired surrogate escape
        (b'"name":"', b'"name":"\\udc00', "name"),
    ],
    ids=["invalid-utf8-nested", "lone-surrogate-nested", "lone-surrogate-string"],
)
def test_text_no_destination_can_store_is_replaced_not_loaded(
    box: Sandbox, find: bytes, replace: bytes, column: str
) -> None:
    tokens = normalize_selects(DEFAULT_SELECTS)
    runs = [{k: v for k, v in run.items() if k.upper() in tokens} for run in box.langsmith.truth()[:5]]
    content = _page(runs).replace(find, replace, 1)
    tables = RunTables(tokens, DataIssues("langsmith"))
    decoded = tables.decode(content)
    assert not isinstance(decoded, TypedPage)
    read, _ = tables.read(decoded)
    assert any("\ufffd" in text for text in read.column(column).drop_null().to_pylist())


def test_a_first_sync_appends_and_rows_without_their_state_are_merged_over(box: Sandbox, db_path: Path) -> None:
    """A first sync appends (no staging copy); a sync killed after its rows landed but before its
    state did leaves rows with no cursor, and the next sync must merge over them, not append again."""
    settings = langsmith_settings(box)
    sync(db_path, ["langsmith"], settings=settings)
    staged = "select count(*) from information_schema.tables where table_schema = 'langsmith_staging'"
    assert rows(db_path, staged) == [(0,)]
    con = duckdb.connect(str(db_path))
    try:
        con.execute("delete from langsmith._dlt_pipeline_state")  # as if killed before the state landed
    finally:
        con.close()

    sync(db_path, ["langsmith"], settings=settings)

    assert_matches(db_path, truth_since(box, settings.langsmith.initial_start))


def test_full_refresh_replaces_the_table(box: Sandbox, db_path: Path) -> None:
    settings = langsmith_settings(box)
    sync(db_path, ["langsmith"], settings=settings)
    con = duckdb.connect(str(db_path))
    try:
        con.execute("insert into langsmith.runs (id, start_time, status) values ('deleted-upstream', now(), 'SUCCESS')")
    finally:
        con.close()

    sync(db_path, ["langsmith"], settings=settings, full_refresh=True)

    assert_matches(db_path, truth_since(box, settings.langsmith.initial_start))


def test_wrong_key_exits_3_naming_the_setting_without_printing_the_key(box: Sandbox, tmp_path: Path) -> None:
    env = {**box.env(), "LANGSMITH_API_KEY": FAKE_KEY}
    for debug in ((), ("--debug",)):
        result = run_cli("sync", "langsmith", *debug, env=env)
        assert result.code == 3, result.stderr
        assert "langsmith:" in result.stderr and "LANGSMITH_API_KEY" in result.stderr and "401" in result.stderr
        assert "LANGSMITH_ENDPOINT" in result.stderr
        assert FAKE_KEY not in result.stdout + result.stderr
    assert not (tmp_path / "runyard.duckdb").exists()
