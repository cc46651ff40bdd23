"""Shared fixtures: an isolated working directory and environment, a sandbox, settings pointing at it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.config import DatadogSettings
from pipelines.sync import Settings
from sandbox import Sandbox
from sources.datadog.model_lab import ModelLabFilters

REPO = Path(__file__).resolve().parent.parent
# Every table a complete sync writes: the spec the tests hold the registry to, kept apart from it.
TABLES = (
    "datadog.model_lab_runs", "datadog.model_lab_run_metrics", "datadog.model_lab_run_params",
    "datadog.model_lab_run_tags", "datadog.llmobs_projects", "datadog.llmobs_datasets",
    "datadog.llmobs_dataset_records", "datadog.llmobs_experiments", "datadog.llmobs_experiment_aggregates",
    "datadog.llmobs_experiment_runs", "datadog.topic_discovery_runs", "langsmith.runs",
)  # fmt: skip
_ISOLATED_PREFIXES = ("DD_", "LANGSMITH_", "SOURCES__", "DESTINATION__", "RUNYARD_", "DLT_", "PREFECT_")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own directory, with no runyard/dlt/vendor settings from the outside."""
    for name in list(os.environ):
        if name.startswith(_ISOLATED_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=450, langsmith_runs=50, llm_obs_projects=1, llm_obs_records_per_dataset=5) as box:
        yield box


@pytest.fixture(scope="session")
def everything_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every source synced from one sandbox, as the demo does; shared read-only by view and report tests."""
    from pipelines.demo import sandbox_settings
    from pipelines.sync import sync

    db = tmp_path_factory.mktemp("everything") / "runyard.duckdb"
    with Sandbox(model_lab_runs=300, langsmith_runs=1500, llm_obs_projects=2, llm_obs_records_per_dataset=20) as box:
        sync(db, settings=sandbox_settings(box))
    return db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runyard.duckdb"


def settings_for(box: Sandbox, lag_seconds: int = 600, **filters: object) -> Settings:
    return Settings(
        datadog=DatadogSettings(
            api_key=box.config.datadog_api_key,
            app_key=box.config.datadog_app_key,
            site="datadoghq.com",
            base_url=box.url,
            model_lab=ModelLabFilters(**filters),  # type: ignore[arg-type]
            model_lab_lag_seconds=lag_seconds,
        )
    )


@pytest.fixture
def settings(sandbox: Sandbox) -> Settings:
    return settings_for(sandbox)


def rows(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """The rows of one query, read from the file read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> CliResult:
    """The real ``runyard`` entry point in a subprocess, as a user runs it."""
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
