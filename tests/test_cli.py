"""The ``runyard`` command as a user runs it: a subprocess, real exit codes, real output."""

from __future__ import annotations

from pathlib import Path

from sandbox import Sandbox
from tests.conftest import rows, run_cli

FAKE_KEY = "dd-fake-DO-NOT-LEAK-7c1e9a6b"


def sandbox_env(box: Sandbox, **overrides: str) -> dict[str, str]:
    env = {
        "DD_API_KEY": box.config.datadog_api_key,
        "DD_APP_KEY": box.config.datadog_app_key,
        "SOURCES__DATADOG__BASE_URL": box.url,
    }
    return {**env, **overrides}


def test_sync_status_and_sql(sandbox: Sandbox, tmp_path: Path) -> None:
    env = sandbox_env(sandbox)
    synced = run_cli("sync", "model_lab", "--db", "warehouse.duckdb", env=env)
    assert synced.code == 0, synced.stderr
    assert "datadog.model_lab_runs" in synced.stdout and "450" in synced.stdout

    # A publish setting is the sync's business: readers ignore it, even one naming this very file.
    status = run_cli("status", "--db", "warehouse.duckdb", env={"RUNYARD_PUBLISH": "warehouse.duckdb"})
    assert status.code == 0, status.stderr
    assert "datadog.model_lab_runs" in status.stdout and "unfinished runs followed: " in status.stdout

    query = run_cli(
        "sql",
        "select count(*) as n from analytics.model_lab_run_summary",
        "--db",
        "warehouse.duckdb",
        "--csv",
    )
    assert query.code == 0 and query.stdout.splitlines() == ["n", "450"]

    write = run_cli("sql", "delete from datadog.model_lab_runs", "--db", "warehouse.duckdb")
    assert write.code != 0 and "read-only" in write.stderr
    assert rows(tmp_path / "warehouse.duckdb", "select count(*) from datadog.model_lab_runs") == [(450,)]


def test_wrong_key_fails_clearly_without_printing_it(sandbox: Sandbox, tmp_path: Path) -> None:
    for debug in ((), ("--debug",)):
        result = run_cli("sync", "model_lab", *debug, env=sandbox_env(sandbox, DD_API_KEY=FAKE_KEY))
        assert result.code == 3
        assert "datadog:" in result.stderr and "DD_API_KEY" in result.stderr and "403" in result.stderr
        assert FAKE_KEY not in result.stdout + result.stderr
    assert not (tmp_path / "runyard.duckdb").exists()  # a first sync that failed leaves no file behind


def test_plain_http_to_a_remote_host_is_refused_before_any_request(sandbox: Sandbox) -> None:
    result = run_cli("sync", "model_lab", env=sandbox_env(sandbox, SOURCES__DATADOG__BASE_URL="http://10.1.2.3:8080"))
    assert result.code == 2
    assert "plain http to a non-loopback host" in result.stderr and "Traceback" not in result.stderr
    assert sum(sandbox.requests().values()) == 0


def test_missing_credentials_skip_or_fail() -> None:
    everything = run_cli("sync")  # nothing configured at all: a settings error (issue 21), not a quiet exit 0
    assert everything.code == 2 and "no source is configured" in everything.stderr and "DD_API_KEY" in everything.stderr
    named = run_cli("sync", "model_lab")
    assert named.code == 2 and "DD_API_KEY and DD_APP_KEY are not set" in named.stderr
    assert "under [sources.datadog] in" in " ".join(named.stderr.split())  # printed as is, not as markup
    unknown = run_cli("sync", "mlflow")
    assert unknown.code == 2 and "unknown source 'mlflow'" in unknown.stderr


def test_settings_from_dlt_toml_files(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "secrets.toml").write_text(
        f'[sources.datadog]\napi_key = "{sandbox.config.datadog_api_key}"\n'
        f'app_key = "{sandbox.config.datadog_app_key}"\n'
    )
    (tmp_path / ".dlt" / "config.toml").write_text(
        f'[sources.datadog]\nbase_url = "{sandbox.url}"\nmodel_lab_project_ids = [482]\n'
    )
    result = run_cli("sync", "model_lab")
    assert result.code == 0, result.stderr
    projects = rows(tmp_path / "runyard.duckdb", "select distinct project_id from datadog.model_lab_runs")
    assert projects == [(482,)]


def test_demo_runs_twice_and_protects_real_data(tmp_path: Path) -> None:
    first = run_cli("demo")
    assert first.code == 0, first.stderr
    assert "Sample analysis" in first.stdout and "datadog.model_lab_run_metrics" in first.stdout
    again = run_cli("demo")  # a previous demo file is replaced
    assert again.code == 0, again.stderr
    assert rows(tmp_path / "runyard.duckdb", "select count(*) from datadog.model_lab_runs") == [(2000,)]

    import duckdb

    duckdb.connect(str(tmp_path / "real.duckdb")).execute("create table important as select 1 as x").close()
    refused = run_cli("demo", "--db", "real.duckdb")
    assert refused.code != 0 and "never overwrites a real warehouse" in refused.stderr
    assert rows(tmp_path / "real.duckdb", "select x from important") == [(1,)]
