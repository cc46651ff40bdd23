"""The Prefect flows against the sandbox: same syncs as the CLI, retries, the writer guard, schedules, serve, deploy.

Flows run under one ``prefect_test_harness`` for the module (it takes ~15 s to start). Settings
come from the environment, as for ``runyard sync``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
from prefect.states import State
from prefect.testing.utilities import prefect_test_harness

from flows import deployments, tasks
from flows.flows import JOBS, SOURCE_FLOWS, sync_all, sync_topic_discovery
from flows.report import RunSummary
from flows.schedules import DEFAULT_CRONS, cron_for
from flows.server import local_server
from pipelines.registry import SOURCES
from sandbox import Sandbox
from sources.errors import ConfigError, SyncError
from tests.conftest import REPO, rows
from tests.serve_helpers import Served, prefect_api

FAKE_KEY = "dd-fake-DO-NOT-LEAK-5b7e0c2d"
TOPIC_TABLE = "datadog.topic_discovery_runs"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("prefect-home")
    with (
        temporary_settings(updates={PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}),
        prefect_test_harness(server_startup_timeout=90),
    ):
        yield


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A sandbox, and runyard configured for every source through the environment."""
    with Sandbox(model_lab_runs=60, langsmith_runs=60, llm_obs_projects=1, llm_obs_records_per_dataset=5) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        yield sandbox


def table_contents(db: Path) -> dict[str, list[tuple]]:
    """Every source table's rows, without dlt's per-load columns, in a stable order."""
    tables = rows(
        db,
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema in ('datadog', 'langsmith') and table_name not like '\\_dlt\\_%' escape '\\'",
    )
    contents = {}
    for schema, table in tables:
        columns = rows(
            db,
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "and column_name not like '\\_dlt\\_%' escape '\\'",
            [schema, table],
        )
        select = ", ".join(f'"{c}"::varchar' for (c,) in columns)
        contents[f"{schema}.{table}"] = sorted(rows(db, f'select {select} from "{schema}"."{table}"'), key=repr)
    return contents


def flow_run_logs(state: State[Any], containing: str) -> list[Any]:
    """The flow run's logs as Prefect stored them, once one contains ``containing`` (they ship in batches)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # sends what is queued, and waits
    deadline = time.monotonic() + 15
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )
            if any(containing in log.message for log in logs) or time.monotonic() > deadline:
                return logs
            time.sleep(0.2)


def task_runs(state: State[Any]) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )


# -- flows under the harness -------------------------------------------------------------------


def test_sync_all_loads_every_configured_source(harness: None, box: Sandbox, db_path: Path) -> None:
    summary = sync_all(db_path)

    assert isinstance(summary, RunSummary) and not summary.failed
    assert [(r.source, r.status) for r in summary.results] == [(name, "ok") for name in SOURCES]
    counts = dict(rows(db_path, "select 'datadog.model_lab_runs', count(*) from datadog.model_lab_runs"))
    assert counts == {"datadog.model_lab_runs": 60}
    for result in summary.results:
        assert result.rows_loaded and all(n > 0 for n in result.rows_loaded.values()), result.source
        assert result.cursors and sum(result.requests.values()) > 0 and result.duration_s > 0
        for table, loaded in result.rows_loaded.items():
            assert rows(db_path, f"select count(*) from {table}") == [(loaded,)], table
    assert summary.rows_loaded[TOPIC_TABLE] > 0


def test_sync_all_skips_a_source_without_credentials(
    harness: None, box: Sandbox, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGSMITH_API_KEY")

    summary = sync_all(db_path)

    skipped = {r.source: r.notices for r in summary.results if r.status == "skipped"}
    assert list(skipped) == ["langsmith"] and "LANGSMITH_API_KEY is not set" in skipped["langsmith"][0]
    assert "langsmith skipped (not configured)" in summary.headline()


def test_hourly_llm_obs_leaves_topic_discovery_to_its_daily_flow(harness: None, box: Sandbox, db_path: Path) -> None:
    hourly = SOURCE_FLOWS["llm_obs"](db_path)

    [result] = hourly.results
    assert result.rows_loaded and TOPIC_TABLE not in result.rows_loaded
    assert not any("topic-discovery" in notice for notice in result.notices)  # left out on purpose, not "skipped"
    assert box.requests()["llm_obs.topic_discovery_runs"] == 0

    daily = sync_topic_discovery(db_path)

    assert daily.results[0].rows_loaded[TOPIC_TABLE] > 0
    assert rows(db_path, f"select count(*) > 0 from {TOPIC_TABLE}") == [(True,)]


def test_overlapping_runs_and_a_shell_sync_queue_on_one_database(harness: None, box: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "shared.duckdb"
    spans: dict[str, tuple[float, float]] = {}
    errors: list[BaseException] = []

    def run(label: str) -> None:
        started = time.monotonic()
        try:
            sync_all(db)
        except BaseException as exc:
            errors.append(exc)
        spans[label] = (started, time.monotonic())

    shell = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=run, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a flow run did not finish in 120 s"
    _, shell_err = shell.communicate(timeout=120)

    assert not errors and shell.returncode == 0, (errors, shell_err)
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())  # they overlapped
    sequential = tmp_path / "sequential.duckdb"
    sync_all(sequential)
    assert table_contents(db) == table_contents(sequential)


def test_a_transient_failure_is_retried_and_succeeds(
    harness: None, box: Sandbox, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks.sync_source, "retry_delay_seconds", [0, 0, 0])
    # Each sync gives up after one 503 (the HTTP client's own retries are off); the task retries it.
    box.faults.add(kind="status", status=503, endpoint="model_lab.list_runs", count=2)

    with stamina.set_testing(True, attempts=1):
        state = SOURCE_FLOWS["model_lab"](db_path, return_state=True)

    assert state.is_completed(), state.message
    [task_run] = task_runs(state)
    assert task_run.run_count == 3
    assert state.result().results[0].rows_loaded["datadog.model_lab_runs"] == 60


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("DD_API_KEY", FAKE_KEY, "403"),  # CredentialsError
        ("SOURCES__DATADOG__MODEL_LAB_STATUSES", "bogus", "unknown value 'bogus'"),  # ConfigError
    ],
)
def test_credential_and_config_errors_fail_at_once_with_the_cli_message(
    harness: None,
    box: Sandbox,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(setting, value)
    started = time.monotonic()

    state = SOURCE_FLOWS["model_lab"](db_path, return_state=True)

    assert state.is_failed()
    assert time.monotonic() - started < 20  # a retry would wait a minute first
    [task_run] = task_runs(state)
    assert task_run.run_count == 1
    error = state.result(raise_on_failure=False)
    assert isinstance(error, SyncError) and not isinstance(error, tasks.RETRIABLE)
    assert expected in error.message and error.message in state.message
    assert FAKE_KEY not in state.message
    logs = flow_run_logs(state, error.message[:60])  # the Prefect logs carry the message, never the key
    assert any(error.message[:60] in log.message for log in logs)
    assert not any(FAKE_KEY in log.message for log in logs)
    line = [line for line in capsys.readouterr().err.splitlines() if "sync-model-lab (" in line and "failed" in line]
    assert line and line[0].endswith(error.message)


# -- schedules and deployments --------------------------------------------------------------------


def test_schedules_default_and_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert {key: cron_for(key) for key in DEFAULT_CRONS} == {
        "langsmith": "*/15 * * * *",
        "model_lab": "0 * * * *",
        "llm_obs": "0 * * * *",
        "topic_discovery": "0 2 * * *",
        "full_refresh": "30 3 * * 0",
    }
    assert cron_for("a_new_source") == "0 * * * *"

    monkeypatch.setenv("RUNYARD__SCHEDULES__LANGSMITH", "*/5 * * * *")
    assert cron_for("langsmith") == "*/5 * * * *"
    # .dlt/config.toml is read once per process, so ask a fresh one.
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text('[runyard.schedules]\nmodel_lab = "30 */2 * * *"\nllm_obs = "off"\n')
    code = "from flows.schedules import cron_for; print(cron_for('model_lab'), cron_for('llm_obs'), sep='|')"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert fresh.stdout.strip() == "30 */2 * * *|None", fresh.stderr

    monkeypatch.setenv("RUNYARD__SCHEDULES__FULL_REFRESH", "every sunday")
    with pytest.raises(ConfigError, match="RUNYARD__SCHEDULES__FULL_REFRESH='every sunday' is not a five-field cron"):
        cron_for("full_refresh")


def test_deployments_carry_the_configured_crons(box: Sandbox, monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    monkeypatch.setenv("RUNYARD__SCHEDULES__LANGSMITH", "*/5 * * * *")
    monkeypatch.setenv("RUNYARD__SCHEDULES__TOPIC_DISCOVERY", "off")

    built = {job.flow.name: deployments._deployment(job.flow, cron, db_path) for job, cron in deployments.plan()}

    crons = {name: [s.schedule.cron for s in d.schedules] for name, d in built.items()}
    assert crons == {
        "sync-model-lab": ["0 * * * *"],
        "sync-llm-obs": ["0 * * * *"],
        "sync-langsmith": ["*/5 * * * *"],
        "sync-topic-discovery": [],
        "full-refresh": ["30 3 * * 0"],
        "sync-all": [],
    }
    assert all(s.schedule.timezone == "UTC" for d in built.values() for s in d.schedules)
    assert all(d.parameters == {"db": str(db_path.resolve())} for d in built.values())


def test_only_configured_upstreams_are_scheduled(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DD_API_KEY")

    assert [job.flow.name for job, _ in deployments.plan()] == ["sync-langsmith", "full-refresh", "sync-all"]
    printed = capsys.readouterr().err
    assert "not scheduled datadog: DD_API_KEY is not set" in printed and "under [sources.datadog] in" in printed

    monkeypatch.delenv("LANGSMITH_API_KEY")
    with pytest.raises(ConfigError, match="no source has credentials"):
        deployments.plan()


def test_every_source_has_a_job() -> None:
    scheduled = {job.schedule for job in JOBS}
    assert set(SOURCES) | {"topic_discovery", "full_refresh", None} == scheduled


def test_deploy_registers_the_deployments_for_a_work_pool(harness: None, box: Sandbox, db_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no work pool 'runyard-test'.*work-pool create runyard-test --type process"):
        deployments.deploy(db_path, "runyard-test")
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="runyard-test", type="process"))

    names = deployments.deploy(db_path, "runyard-test")

    assert len(names) == len(JOBS)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("sync-langsmith/runyard")
    assert deployment.work_pool_name == "runyard-test"
    assert [s.schedule.cron for s in deployment.schedules] == ["*/15 * * * *"]
    assert deployment.entrypoint == "flows/flows.py:sync_langsmith"
    assert deployment.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
    assert deployment.parameters == {"db": str(db_path.resolve())}

    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(ConfigError, match="PREFECT_API_URL is not set"),
    ):
        deployments.deploy(db_path, "runyard-test")


# -- runyard serve ----------------------------------------------------------------------------------


def test_cli_sync_and_demo_do_not_import_prefect() -> None:
    code = (
        "import sys, pipelines.cli, pipelines.sync, pipelines.demo; "
        "sys.exit(any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0


def test_local_server_that_does_not_start_in_time_is_stopped(tmp_path: Path) -> None:
    with (
        pytest.raises(SyncError, match="local Prefect server was not healthy after"),
        local_server(tmp_path / "home", startup_timeout_s=0.2),
    ):
        pass
    assert (tmp_path / "home" / "server.log").exists()


def test_serve_starts_its_own_server_runs_flows_and_stops_it(box: Sandbox, tmp_path: Path) -> None:
    """`runyard serve` with no PREFECT_API_URL: local server, a triggered run, one line per run, clean stop."""
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "user-prefect-home"),  # no profile from the machine's ~/.prefect
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
        "COLUMNS": "200",
    }
    serve = Served("--db", "served.duckdb", env=env, cwd=tmp_path)
    wait_for, seen = serve.wait_for, serve.seen

    try:
        api = wait_for(r"Prefect API (http://127\.0\.0\.1:\d+/api)")[1]
        wait_for(r"^Serving")
        deployment = prefect_api("GET", f"{api}/deployments/name/sync-langsmith/runyard")
        prefect_api("POST", f"{api}/deployments/{deployment['id']}/create_flow_run", json={})
        wait_for(r"sync-langsmith \(.+\) started")
        done = wait_for(r"sync-langsmith \(.+\) completed: (\d+) rows loaded")
        scheduled = prefect_api(
            "POST",
            f"{api}/flow_runs/filter",
            json={
                "deployments": {"id": {"any_": [deployment["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            },
        )
    finally:
        serve.process.send_signal(signal.SIGINT)
        try:
            serve.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.process.kill()
            serve.drain()
            raise AssertionError("serve did not stop within 60 s of SIGINT:\n" + "\n".join(seen)) from None

    assert serve.process.returncode == 0, "\n".join(seen)
    assert int(done[1]) == rows(tmp_path / "served.duckdb", "select count(*) from langsmith.runs")[0][0] > 0
    assert not any("| INFO" in line or "Traceback" in line for line in seen), "\n".join(seen)  # one line per run
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{api}/health", timeout=2)  # the local server stopped with it
    assert (tmp_path / ".prefect" / "prefect.db").exists()
    # Prefect 3.8.8's scheduler needs sqlalchemy<2.1 (pinned): with 2.1 it logs "Can't evaluate bulk DML".
    assert scheduled, "the server scheduled no runs for sync-langsmith"
