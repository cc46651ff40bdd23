"""Faults, crashes, data moving under a walk, refused cursors and broken disks, against every source.

The promise: a sync either completes correctly or stops with a clear message, and the next sync
ends with exactly the tables a fault-free sync produces. Every scenario compares the real DuckDB
tables with those of a fault-free sync of the same sandbox data. ``python -m tests.reliability_report``
runs this module and prints the table of scenarios and results the README shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pytest
import stamina

from pipelines.demo import sandbox_settings
from pipelines.sync import sync
from sandbox import Sandbox
from sandbox.common import parse_rfc3339
from sources.errors import SyncError
from tests.conftest import REPO, TABLES, CliResult, run_cli

# What syncs ask for. Model Lab's get_run is not among them: unfinished runs are read again through
# the list, and a GET only confirms one gone missing (tests/test_model_lab_sync.py).
ENDPOINTS = ("model_lab.list_runs", "llm_obs.search", "llm_obs.topic_discovery_runs", "langsmith.query_runs")


def snapshot(db: Path) -> dict[str, Counter[tuple]]:
    """Every row of every table (load bookkeeping left out), for comparing two syncs."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {}
        for table in TABLES:
            columns = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and column_name not like '\\_dlt%' escape '\\' order by ordinal_position", table.split(".")
            ).fetchall()]  # fmt: skip
            if columns:  # tables of sources that have not synced into this file are left out
                tables[table] = Counter(con.execute(f"select {', '.join(columns)} from {table}").fetchall())
        return tables
    finally:
        con.close()


def assert_same(db: Path, reference: dict[str, Counter[tuple]]) -> None:
    got = snapshot(db)
    for table, rows in reference.items():
        have = got.get(table, Counter())
        assert have == rows, f"{table}: {(rows - have).total()} missing, {(have - rows).total()} unexpected or twice"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, dict[str, Counter[tuple]]]]:
    """One sandbox for the module, and the tables a fault-free sync of it produces."""
    with Sandbox(model_lab_runs=350, langsmith_runs=2500, llm_obs_projects=1, llm_obs_records_per_dataset=60) as box:
        reference = tmp_path_factory.mktemp("reference") / "reference.duckdb"
        sync(reference, settings=sandbox_settings(box))
        yield box, snapshot(reference)


@pytest.fixture
def clean(world: tuple[Sandbox, dict]) -> Iterator[tuple[Sandbox, dict]]:
    box, reference = world
    yield box, reference
    box.faults.clear()


# -- transient faults --------------------------------------------------------------------------------


FAULTS = {
    "429": {"kind": "status", "status": 429, "retry_after": 0},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "504": {"kind": "status", "status": 504},
    "dropped connection": {"kind": "drop"},
    "cut-off body": {"kind": "truncate"},
    "invalid JSON": {"kind": "invalid_json"},
}


def no_backoff_waits() -> contextlib.AbstractContextManager[None]:
    """Retries as configured, without sleeping between them: for tests of what a sync ends with.
    (Pacing and Retry-After are what the 429-storm test is about; it waits for real.)"""
    return stamina.set_testing(True, attempts=1_000, cap=True)


# Two faults in a row on every endpoint, each kind in one pair: every fault type is covered, with
# a quarter of the backoff waits that one test per type would spend.
@pytest.mark.parametrize(
    "pair", [("429", "500"), ("502", "dropped connection"), ("503", "cut-off body"), ("504", "invalid JSON")],
    ids=" then ".join,
)  # fmt: skip
def test_bursts_of_a_fault_on_every_endpoint_are_retried(clean: tuple, tmp_path: Path, pair: tuple[str, str]) -> None:
    """Two faults in a row on every endpoint: the syncs finish with the fault-free tables."""
    box, reference = clean
    for endpoint in ENDPOINTS:
        for name in pair:
            box.faults.add(endpoint=endpoint, count=1, **FAULTS[name])

    fired = box.faults.fired

    # The second sync is incremental: a burst there hits its refreshes of unfinished and pending runs.
    with no_backoff_waits():
        results = [*sync(tmp_path / "db.duckdb", settings=sandbox_settings(box)),
                   *sync(tmp_path / "db.duckdb", settings=sandbox_settings(box))]  # fmt: skip

    assert sum(r.retries for r in results) == box.faults.fired - fired == 2 * len(ENDPOINTS)
    assert_same(tmp_path / "db.duckdb", reference)


def test_random_faults_on_ten_percent_of_requests(clean: tuple, tmp_path: Path) -> None:
    """10% of all requests fail at random (429, 5xx, dropped, cut off, invalid JSON); same tables."""
    box, reference = clean
    for fault in ({"kind": "status", "status": 429, "retry_after": 0}, {"kind": "status", "status": 503},
                  {"kind": "drop"}, {"kind": "truncate"}, {"kind": "invalid_json"}):  # fmt: skip
        box.faults.add(endpoint="*", count=None, rate=0.02, **fault)
    fired = box.faults.fired
    settings = sandbox_settings(box)  # 6-hour LangSmith windows: ~150 requests, so 10% is a dozen faults
    settings.langsmith = dataclasses.replace(settings.langsmith, window_hours=6)

    with no_backoff_waits():
        results = sync(tmp_path / "db.duckdb", settings=settings)

    assert box.faults.fired - fired >= 5 and sum(r.retries for r in results) == box.faults.fired - fired
    assert_same(tmp_path / "db.duckdb", reference)


def test_429_storm_slows_down_and_never_exceeds_the_advertised_limit(tmp_path: Path) -> None:
    """A small rate limit (8 requests per 2 s) and a 429 storm: paced, retried, complete."""
    with Sandbox(model_lab_runs=350, langsmith_runs=50, llm_obs_projects=1, llm_obs_records_per_dataset=20,
                 rate_limit=8, rate_limit_period_s=2) as box:  # fmt: skip
        box.faults.add(kind="status", status=429, retry_after=1, endpoint="datadog", count=4)
        results = sync(tmp_path / "db.duckdb", ["model_lab", "llm_obs"], settings=sandbox_settings(box))
        truth = {int(r["id"]) for r in box.model_lab.truth()}
        assert box.rate_limiter.rejected == 0  # every 429 was injected; pacing never hit the real limit
        assert box.rate_limiter.max_in_window <= 8
    assert sum(r.retries for r in results) == 4
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert {r[0] for r in con.execute("select id from datadog.model_lab_runs").fetchall()} == truth
    con.close()


def test_a_fault_that_does_not_pass_ends_the_sync_clearly_and_writes_nothing(clean: tuple, tmp_path: Path) -> None:
    box, _ = clean
    db = tmp_path / "db.duckdb"
    sync(db, ["model_lab"], settings=sandbox_settings(box))
    before = snapshot(db)
    box.faults.add(kind="invalid_json", endpoint="llm_obs.search", count=None)

    settings = sandbox_settings(box)
    settings = dataclasses.replace(settings, datadog=dataclasses.replace(settings.datadog, http_max_attempts=2))
    with pytest.raises(SyncError, match="datadog: POST /api/v2/llm-obs/v1/experimentation/search kept failing"):
        sync(db, ["llm_obs"], settings=settings)

    assert snapshot(db) == before


# -- the process killed mid-sync ---------------------------------------------------------------------

KILL_AFTER_REQUESTS = (3, 12, 30)
KILL_AFTER_FRACTION = (0.45, 0.6, 0.75)  # late enough to be loading, early enough to be running (±15% run to run)


def cli_env(box: Sandbox) -> dict[str, str]:
    """The settings of the reference sync (pipelines.demo.sandbox_settings), through the environment."""
    return {**os.environ, **box.env(), "SOURCES__DATADOG__LLM_OBS_PAGE_LIMIT": "500",
            "SOURCES__DATADOG__LLM_OBS_INCLUDE_USER_DATA": "true"}  # fmt: skip


def _cli_sync(box: Sandbox, db: Path, publish: Path) -> subprocess.Popen[str]:
    env = {**cli_env(box), "RUNYARD_PUBLISH": str(publish)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--db", str(db)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


class TimedSync(NamedTuple):
    seconds: float  # the shorter of two complete first syncs through the CLI here: places the kill points
    published: Path  # the reader copy it published


@pytest.fixture(scope="module")
def timed_sync(world: tuple[Sandbox, dict], tmp_path_factory: pytest.TempPathFactory) -> TimedSync:
    box, _ = world
    tmp = tmp_path_factory.mktemp("timing")
    seconds = []
    for attempt in range(2):  # the shorter of two: a first run pays for cold caches the kill runs do not
        started = time.monotonic()
        proc = _cli_sync(box, tmp / f"timing-{attempt}.duckdb", tmp / "timing-bi.duckdb")
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
        seconds.append(time.monotonic() - started)
    return TimedSync(min(seconds), tmp / "timing-bi.duckdb")


@pytest.mark.parametrize("point", [f"after {n} requests" for n in KILL_AFTER_REQUESTS]
                         + [f"at {int(f * 100)}% of a sync" for f in KILL_AFTER_FRACTION])  # fmt: skip
def test_killed_mid_sync_then_rerun(clean: tuple, tmp_path: Path, timed_sync: TimedSync, point: str) -> None:
    """SIGKILL at a point of a first sync, then run it again: readers never saw a half-loaded copy,
    the file still opens, and the re-run ends with the fault-free tables."""
    box, reference = clean
    db, published = tmp_path / "db.duckdb", tmp_path / "db-bi.duckdb"
    # Readers hold a copy published by an earlier complete sync (into another working file).
    shutil.copyfile(timed_sync.published, published)
    published_before = snapshot(published)

    box.reset_requests()
    proc = _cli_sync(box, db, published)
    if point.startswith("after"):
        target = int(point.split()[1])
        deadline = time.monotonic() + 60
        while sum(box.requests().values()) < target and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
    else:
        time.sleep(timed_sync.seconds * int(point.split()[1].rstrip("%")) / 100)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL, "the sync ended before the kill point"

    assert snapshot(published) == published_before  # readers: the last complete copy, untouched
    if db.exists():
        duckdb.connect(str(db)).close()  # not corrupted: DuckDB opens (and recovers) it
    rerun = _cli_sync(box, db, published)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert_same(db, reference)
    assert_same(published, reference)


# -- data moving under a walk, refused cursors -----------------------------------------------------


def test_llm_obs_changes_while_paging_are_caught_by_the_next_sync(tmp_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=10, llm_obs_projects=1, llm_obs_records_per_dataset=80) as box:
        settings = sandbox_settings(box)
        settings.datadog = dataclasses.replace(settings.datadog, llm_obs_page_limit=20)
        box.after_requests("llm_obs.search", 4, llm_obs={"update": 15, "new_records": 10, "soft_delete": 5,
                                                        "hard_delete": 3})  # fmt: skip
        box.after_requests("llm_obs.search", 9, llm_obs={"update": 10, "new_experiments": 2})
        db = tmp_path / "db.duckdb"
        sync(db, ["llm_obs"], settings=settings)
        sync(db, ["llm_obs"], settings=settings)
        truth = box.llm_obs.truth()
        con = duckdb.connect(str(db), read_only=True)
        for scope in ("projects", "datasets", "dataset_records", "experiments", "experiment_runs"):
            key = "name" if scope == "experiments" else "id"  # the live service sends experiments without an id
            has_updates = scope != "experiment_runs"
            stored = dict(con.execute(
                f"select {key}, {'epoch_us(updated_at)' if has_updates else 'null'} from datadog.llmobs_{scope}"
            ).fetchall())  # fmt: skip
            expected = {_field(item, key): has_updates and _field(item, "updated_at") for item in truth[scope]}
            # Hard-deleted entities stay until a full refresh; everything that exists is there, as updated.
            assert expected.keys() <= stored.keys(), scope
            if has_updates:
                assert {k: parse_rfc3339(v) for k, v in expected.items()} == {k: stored[k] for k in expected}, scope
        con.close()


def _field(item: dict, name: str) -> Any:
    """A field of an LLM Observability search item (projects and datasets nest theirs under attributes)."""
    return item["id"] if name == "id" else item.get("attributes", item)[name]


def test_langsmith_changes_while_paging_are_caught_by_the_next_sync(tmp_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=3000, llm_obs_projects=1) as box:
        settings = sandbox_settings(box)
        box.after_requests("langsmith.query_runs", 2, langsmith={"new_traces": 20, "finish_pending": 10})
        db = tmp_path / "db.duckdb"
        sync(db, ["langsmith"], settings=settings)
        sync(db, ["langsmith"], settings=settings)
        truth = {r["id"]: r for r in box.langsmith.truth()}
        con = duckdb.connect(str(db), read_only=True)
        got = dict(con.execute("select id, status from langsmith.runs").fetchall())
        con.close()
    assert got == {run_id: run["status"] for run_id, run in truth.items()}


@pytest.mark.parametrize("endpoint", ["llm_obs.search", "langsmith.query_runs"])
def test_a_refused_cursor_restarts_that_walk(tmp_path: Path, endpoint: str) -> None:
    """The service refuses a cursor it handed out (400): the walk starts over, the sync completes."""
    with Sandbox(model_lab_runs=10, langsmith_runs=3000, llm_obs_projects=1, llm_obs_records_per_dataset=80) as box:
        settings = sandbox_settings(box)
        settings.datadog = dataclasses.replace(settings.datadog, llm_obs_page_limit=20)
        settings.langsmith = dataclasses.replace(settings.langsmith, window_hours=24 * 365)
        source = "llm_obs" if endpoint.startswith("llm_obs") else "langsmith"
        box.faults.add(kind="status", status=400, endpoint=endpoint, paged_only=True, count=1)  # a 2nd page's cursor

        [result] = sync(tmp_path / "db.duckdb", [source], settings=settings)

        assert any("read again from the first page" in w for w in result.warnings)
        reference = tmp_path / "reference.duckdb"
        sync(reference, [source], settings=settings)
    tables = [t for t in TABLES if t.startswith("langsmith" if source == "langsmith" else "datadog.llmobs")]
    got, want = snapshot(tmp_path / "db.duckdb"), snapshot(reference)
    for table in tables:
        assert got[table] == want[table], table


def test_a_refused_first_page_is_an_error_not_a_restart(tmp_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=100, llm_obs_projects=1) as box:
        box.faults.add(kind="status", status=400, endpoint="llm_obs.search", count=1)
        with pytest.raises(SyncError, match="returned 400"):
            sync(tmp_path / "db.duckdb", ["llm_obs"], settings=sandbox_settings(box))


# -- the disk ------------------------------------------------------------------------------------


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs mount of our own: a disk that can be made full or read-only for real."""
    point = tmp_path / "mnt"
    point.mkdir()
    yield point
    subprocess.run(["umount", str(point)], capture_output=True, check=False)


def _mount(point: Path, options: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True, capture_output=True)


def _cli(box: Sandbox, *args: str) -> CliResult:
    return run_cli(*args, env=cli_env(box), cwd=REPO)


def test_read_only_location_is_a_clear_error(clean: tuple, mountpoint: Path) -> None:
    box, _ = clean
    _mount(mountpoint, "ro,size=16m")
    result = _cli(box, "sync", "model_lab", "--db", str(mountpoint / "runyard.duckdb"))
    assert result.code == 6 and "Traceback" not in result.stderr, result.stderr
    assert "cannot be written" in " ".join(result.stderr.split())
    assert not (mountpoint / "runyard.duckdb").exists()


def test_an_existing_file_on_a_read_only_disk_keeps_its_data(clean: tuple, mountpoint: Path) -> None:
    box, _ = clean
    _mount(mountpoint, "size=64m")
    db = mountpoint / "runyard.duckdb"
    assert _cli(box, "sync", "model_lab", "--db", str(db)).code == 0
    before = snapshot(db)
    subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True, capture_output=True)
    result = _cli(box, "sync", "model_lab", "--db", str(db))
    assert result.code == 6 and "Traceback" not in result.stderr, result.stderr
    assert snapshot(db) == before


def test_a_full_disk_is_a_clear_error_and_the_previous_data_is_intact(clean: tuple, mountpoint: Path) -> None:
    box, reference = clean
    _mount(mountpoint, "size=40m")
    db = mountpoint / "runyard.duckdb"
    first = _cli(box, "sync", "model_lab", "--db", str(db))
    assert first.code == 0, first.stderr
    before = snapshot(db)
    filler = mountpoint / "filler"
    free = shutil.disk_usage(mountpoint).free
    with open(filler, "wb") as handle:  # leave a few hundred KB: less than the next sync needs
        handle.write(b"\0" * max(0, free - 300_000))

    result = _cli(box, "sync", "--db", str(db))

    assert result.code == 6, result.stdout + result.stderr
    assert "full" in result.stderr and "Traceback" not in result.stderr, result.stderr
    filler.unlink()
    after = snapshot(db)  # the file opens; every table the first sync wrote holds the same rows
    assert {table: after[table] for table in before} == before
    rerun = _cli(box, "sync", "--db", str(db))
    assert rerun.code == 0, rerun.stderr
    assert_same(db, reference)
