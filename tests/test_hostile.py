"""Hostile input: what a new user can get wrong in the first hour, each as that user meets it.

Every test runs the real ``runyard`` command against the sandbox (or nothing) and checks the
exit code, that the output names the setting or file and never a key, and that nothing the user
had was changed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from sandbox import Sandbox
from sources.errors import SecretRegistry
from tests.conftest import REPO, rows, run_cli
from tests.serve_helpers import Served, prefect_api

KEY = "ddK3y7Qz9XwPL2mN4vB8rT6yU1oI5eA0"


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=60, langsmith_runs=80, llm_obs_projects=1, llm_obs_records_per_dataset=3) as sandbox:
        yield sandbox


def langsmith_env(box: Sandbox, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in box.env().items() if k.startswith(("LANGSMITH_", "SOURCES__LANGSMITH__"))}
    return {**env, **overrides}


def datadog_env(box: Sandbox, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in box.env().items() if k.startswith(("DD_", "SOURCES__DATADOG__"))}
    return {**env, **overrides}


def one_paragraph(text: str) -> str:
    return " ".join(text.split())


# -- 1. keys in odd shapes -----------------------------------------------------------------


def test_secrets_are_masked_in_every_rendering_an_error_can_give_them() -> None:
    """A key is masked as it is, escaped by repr, as bytes, JSON- and URL-encoded, and split at a line break."""
    registry = SecretRegistry()
    key = "ddK3y7Qz9XwPL2mN\n4vB8rT6yU1oI5eA0é"
    registry.add(key)
    shown = [
        f"Illegal header value {key.encode()!r}",
        f"value {key!r}",
        '{"key": "ddK3y7Qz9XwPL2mN\\n4vB8rT6yU1oI5eA0\\u00e9"}',
        "https://x/?k=ddK3y7Qz9XwPL2mN%0A4vB8rT6yU1oI5eA0%C3%A9",
        "wrapped: ddK3y7Qz9XwPL2mN",
    ]
    for text in shown:
        masked = registry.redact(text)
        assert "ddK3y7Qz9XwPL2mN" not in masked and "4vB8rT6yU1oI5eA0" not in masked, masked


@pytest.mark.parametrize("where", ["DD_API_KEY", "LANGSMITH_API_KEY", "secrets.toml"])
def test_a_key_with_a_line_break_is_a_settings_error_that_never_prints_it(
    box: Sandbox, tmp_path: Path, where: str
) -> None:
    """A key with a line break inside (env or a multi-line TOML string): exit 2 naming the setting, no request."""
    broken = KEY[:16] + "\n" + KEY[16:]
    if where == "DD_API_KEY":
        source, env = "model_lab", datadog_env(box, DD_API_KEY=broken)
    elif where == "LANGSMITH_API_KEY":
        source, env = "langsmith", langsmith_env(box, LANGSMITH_API_KEY=broken)
    else:
        source, env = "langsmith", {k: v for k, v in langsmith_env(box).items() if k != "LANGSMITH_API_KEY"}
        (tmp_path / ".dlt").mkdir()
        (tmp_path / ".dlt" / "secrets.toml").write_text(f'[sources.langsmith]\napi_key = """{broken}"""\n')
    result = run_cli("sync", source, env=env, timeout=60)
    output = result.stdout + result.stderr
    assert result.code == 2, output
    assert KEY[:16] not in output and KEY[16:] not in output and "\\n" not in output
    expected = "api_key under [sources.langsmith] in .dlt/secrets.toml" if where == "secrets.toml" else where
    assert f"the key in {expected} contains a line break" in one_paragraph(result.stderr)
    assert sum(box.requests().values()) == 0


def test_a_key_with_surrounding_whitespace_is_used_stripped(box: Sandbox) -> None:
    """A key mounted from a secret store ends with a newline: stripped, and the sync works."""
    env = datadog_env(box, DD_API_KEY=f"  {box.config.datadog_api_key}\n")
    result = run_cli("sync", "model_lab", env=env)
    assert result.code == 0, result.stderr


# -- 2. initial_start ----------------------------------------------------------------------


def test_an_initial_start_in_the_future_is_refused_and_an_earlier_one_backfills(box: Sandbox, tmp_path: Path) -> None:
    """INITIAL_START in the future: exit 2, no request, no cursor. Moved earlier: the gap is read, said once."""
    future = run_cli(
        "sync", "langsmith", env=langsmith_env(box, SOURCES__LANGSMITH__INITIAL_START="2030-01-01T00:00:00Z")
    )
    assert future.code == 2 and "is in the future" in one_paragraph(future.stderr)
    assert sum(box.requests().values()) == 0 and not (tmp_path / "runyard.duckdb").exists()

    earliest = box.langsmith.earliest_start()
    starts = sorted(run["start_time"] for run in box.langsmith.truth())
    later = starts[len(starts) // 2]
    first = run_cli("sync", "langsmith", env=langsmith_env(box, SOURCES__LANGSMITH__INITIAL_START=later))
    assert first.code == 0, first.stderr
    partial = rows(tmp_path / "runyard.duckdb", "select count(*) from langsmith.runs")[0][0]
    backfill = run_cli("sync", "langsmith", env=langsmith_env(box, SOURCES__LANGSMITH__INITIAL_START=earliest))
    assert backfill.code == 0, backfill.stderr
    assert "INITIAL_START moved earlier" in one_paragraph(backfill.stderr)
    clean = run_cli("sync", "langsmith", "--db", "clean.duckdb", env=langsmith_env(box))
    assert clean.code == 0, clean.stderr
    ids = "select id from langsmith.runs order by id"
    assert 0 < partial < len(rows(tmp_path / "clean.duckdb", ids))
    assert rows(tmp_path / "runyard.duckdb", ids) == rows(tmp_path / "clean.duckdb", ids)
    again = run_cli("sync", "langsmith", env=langsmith_env(box, SOURCES__LANGSMITH__INITIAL_START=earliest))
    assert again.code == 0 and "moved earlier" not in again.stderr  # said once


# -- 3. --publish --------------------------------------------------------------------------


def test_publish_replaces_only_what_runyard_published(box: Sandbox, tmp_path: Path) -> None:
    """--publish over a text file or another program's DuckDB file: exit 2, file unchanged; --force replaces it."""
    (tmp_path / "notes.txt").write_text("precious\n")
    with duckdb.connect(str(tmp_path / "other.duckdb")) as con:
        con.execute("create table mine as select 42 as answer")
    env = datadog_env(box)
    for name in ("notes.txt", "other.duckdb"):
        refused = run_cli("sync", "model_lab", "--publish", name, env=env)
        assert refused.code == 2 and f"--publish would replace {tmp_path / name}" in one_paragraph(refused.stderr)
    assert (tmp_path / "notes.txt").read_text() == "precious\n"
    assert rows(tmp_path / "other.duckdb", "select answer from mine") == [(42,)]
    assert not (tmp_path / "runyard.duckdb").exists()  # refused before anything was written

    published = run_cli("sync", "model_lab", "--publish", "bi.duckdb", env=env)
    assert published.code == 0, published.stderr
    other_db = run_cli("sync", "model_lab", "--db", "second.duckdb", "--publish", "bi.duckdb", env=env)
    assert other_db.code == 0, other_db.stderr  # a copy runyard published, even from another warehouse
    forced = run_cli("sync", "model_lab", "--publish", "notes.txt", "--force", env=env)
    assert forced.code == 0, forced.stderr
    assert rows(tmp_path / "notes.txt", "select count(*) from datadog.model_lab_runs") == [(60,)]


# -- 4. telemetry --------------------------------------------------------------------------

_AUDIT = """
import os, sys
log = open(os.environ["RUNYARD_TEST_AUDIT"], "a", buffering=1)
def hook(event, args):
    if event == "socket.getaddrinfo":
        log.write(f"resolve {args[0]}\\n")
    elif event == "socket.connect" and isinstance(args[1], tuple):
        log.write(f"connect {args[1][0]}\\n")
sys.addaudithook(hook)
sys.argv = ["runyard", *sys.argv[1:]]
from pipelines.cli import main
main()
"""


def test_a_sync_in_a_clean_environment_contacts_no_host_but_the_sources(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync with no telemetry setting anywhere resolves and connects to the sandbox's host only.

    dlt's anonymous telemetry is on unless turned off; runyard turns it off before dlt is imported.
    """
    monkeypatch.delenv("RUNTIME__DLTHUB_TELEMETRY")
    audit = tmp_path / "audit.log"
    env = {**os.environ, **box.env(), "RUNYARD_TEST_AUDIT": str(audit), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _AUDIT, "sync"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    contacted = set(audit.read_text().split("\n")) - {""}
    assert contacted and {line.split()[1] for line in contacted} == {"127.0.0.1"}, contacted


# -- 5. someone else's tables --------------------------------------------------------------


def test_a_table_runyard_did_not_create_is_refused_and_left_alone(box: Sandbox, tmp_path: Path) -> None:
    """A file whose langsmith.runs another program created: exit 2 naming the table; nothing added or changed."""
    db = tmp_path / "clash.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema langsmith")
        con.execute("create table langsmith.runs (id int, note text)")
        con.execute("insert into langsmith.runs values (1, 'mine')")
    result = run_cli("sync", "langsmith", "--db", str(db), env=langsmith_env(box))
    assert result.code == 2 and "already has langsmith.runs, which runyard did not create" in one_paragraph(
        result.stderr
    )
    assert sum(box.requests().values()) == 0
    tables = "select table_schema || '.' || table_name from information_schema.tables order by 1"
    assert rows(db, tables) == [("langsmith.runs",)]
    assert rows(db, "select column_name from information_schema.columns where table_name = 'runs'") == [
        ("id",),
        ("note",),
    ]
    assert rows(db, "select * from langsmith.runs") == [(1, "mine")]


# -- 6. serve stops well -------------------------------------------------------------------


def test_serve_stops_on_sigterm_with_runs_cancelled_schedules_paused_and_one_line(box: Sandbox, tmp_path: Path) -> None:
    """SIGTERM with a run in flight: exit 0, one line; the run CANCELLED, every deployment paused.

    A failed run before it prints its one line and nothing else (no "nanobind: leaked" lines).
    """
    import sqlite3

    env = {**os.environ, **box.env(), "PREFECT_HOME": str(tmp_path / "user-prefect-home"),
           "PREFECT_RUNNER_POLL_FREQUENCY": "1", "COLUMNS": "200"}  # fmt: skip
    serve = Served(env=env)
    try:
        api = serve.wait_for(r"Prefect API (http://127\.0\.0\.1:\d+/api)")[1]
        serve.wait_for(r"^Serving")
        deployment = prefect_api("GET", f"{api}/deployments/name/sync-langsmith/runyard")["id"]
        box.faults.add(kind="status", status=400, endpoint="langsmith", count=1)
        prefect_api("POST", f"{api}/deployments/{deployment}/create_flow_run", json={})
        serve.wait_for(r"sync-langsmith \(.+\) failed: langsmith: POST /api/v2/runs/query returned 400")
        box.faults.add(kind="latency", endpoint="langsmith", seconds=15, count=None)
        prefect_api("POST", f"{api}/deployments/{deployment}/create_flow_run", json={})
        serve.wait_for(r"sync-langsmith \(.+\) started")
        time.sleep(2)  # the run is waiting on its first answer
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(timeout=60)
    finally:
        if serve.process.poll() is None:
            serve.process.kill()
    time.sleep(0.5)
    serve.drain()
    seen = serve.seen
    after = seen[next(i for i, line in enumerate(seen) if line.startswith("Serving")) + 1 :]
    assert serve.process.returncode == 0, "\n".join(seen)
    assert len(after) == 4 and after[-1].startswith("stopped: runs in flight were cancelled"), "\n".join(after)
    with sqlite3.connect(tmp_path / ".prefect" / "prefect.db") as db:
        states = [state for (state,) in db.execute("select state_type from flow_run order by created")]
        paused = [flag for (flag,) in db.execute("select paused from deployment")]
    assert states == ["FAILED", "CANCELLED"] and len(paused) == 6 and all(paused), (states, paused)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{api}/health", timeout=2)  # the local server stopped with it


# -- 7. errors that say what to do ---------------------------------------------------------


def test_malformed_toml_names_the_file_line_and_column(box: Sandbox, tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text("[sources.langsmith]\nwindow_hours = = 3\n")
    result = run_cli("sync", "langsmith", env=langsmith_env(box))
    assert result.code == 2
    assert ".dlt/config.toml cannot be read" in one_paragraph(result.stderr)
    assert "line 2, column 16" in one_paragraph(result.stderr)


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("http://[::1", "is not a URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:99999", "is not a URL (Port out of range"),
        ("ftp://127.0.0.1", "is not an http(s) URL"),
    ],
)
def test_a_malformed_endpoint_is_a_settings_error(box: Sandbox, endpoint: str, says: str) -> None:
    result = run_cli("sync", "langsmith", env=langsmith_env(box, LANGSMITH_ENDPOINT=endpoint))
    assert result.code == 2 and says in one_paragraph(result.stderr) and "unexpected" not in result.stderr


def test_tls_and_dns_failures_that_will_not_heal_are_not_retried(box: Sandbox) -> None:
    """https to a plain-http port and a host that does not exist fail at once (exit 4), naming the host."""
    port = box.url.rsplit(":", 1)[1]
    started = time.monotonic()
    tls = run_cli("sync", "langsmith", env=langsmith_env(box, LANGSMITH_ENDPOINT=f"https://127.0.0.1:{port}"))
    assert tls.code == 4 and "127.0.0.1 did not answer TLS" in one_paragraph(tls.stderr)
    dns = run_cli("sync", "langsmith", env=langsmith_env(box, LANGSMITH_ENDPOINT="https://no-such-host.invalid"))
    assert dns.code == 4 and "the host no-such-host.invalid" in one_paragraph(dns.stderr)
    assert time.monotonic() - started < 30  # retried, the two would take over two minutes


def test_a_refused_connection_names_the_host(box: Sandbox) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = langsmith_env(box, LANGSMITH_ENDPOINT=f"http://127.0.0.1:{port}", SOURCES__LANGSMITH__HTTP_MAX_ATTEMPTS="1")
    result = run_cli("sync", "langsmith", env=env)
    assert result.code == 5 and f"ConnectError from 127.0.0.1:{port}" in one_paragraph(result.stderr)


# -- 8. credentials in URLs ----------------------------------------------------------------


def test_a_password_in_a_base_url_is_refused_and_not_printed(box: Sandbox) -> None:
    endpoint = box.url.replace("http://", "http://alice:s3cr3t-Passw0rd@")
    result = run_cli("sync", "langsmith", env=langsmith_env(box, LANGSMITH_ENDPOINT=endpoint))
    assert result.code == 2 and "holds a user name or password" in one_paragraph(result.stderr)
    assert "s3cr3t-Passw0rd" not in result.stdout + result.stderr and "alice" not in result.stderr
    assert sum(box.requests().values()) == 0


# -- 9. smaller things ---------------------------------------------------------------------


def test_sql_reaches_nothing_outside_the_warehouse(box: Sandbox, tmp_path: Path) -> None:
    """runyard sql cannot write files (COPY, EXPORT DATABASE), install extensions or attach other files."""
    assert run_cli("sync", "model_lab", env=datadog_env(box)).code == 0
    for statement in (
        f"copy (select 1) to '{tmp_path / 'out.csv'}'",
        f"export database '{tmp_path / 'export'}'",
        "install httpfs",
        f"attach '{tmp_path / 'new.duckdb'}' as other",
    ):
        result = run_cli("sql", statement)
        assert result.code == 1 and "runyard sql reads the warehouse and nothing else" in one_paragraph(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in ("dlt-data", "runyard.duckdb")) == []


def test_a_sqlite_file_as_db_is_refused_by_its_header(box: Sandbox, tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "app.db") as con:
        con.execute("create table t (x)")
    before = (tmp_path / "app.db").read_bytes()
    for args in (("sync", "model_lab"), ("status",), ("sql", "select 1")):
        result = run_cli(*args, "--db", "app.db", env=datadog_env(box))
        assert result.code == 6 and "app.db is a SQLite database" in one_paragraph(result.stderr), result.stderr
    assert (tmp_path / "app.db").read_bytes() == before


def test_a_project_id_in_another_spelling_is_the_same_scope(box: Sandbox) -> None:
    """Upper case or without dashes, a project UUID is the same project: nothing is read again."""
    assert run_cli("sync", "langsmith", env=langsmith_env(box)).code == 0
    spelled = ",".join(p.upper().replace("-", "") for p in box.langsmith.project_ids())
    box.reset_requests()
    again = run_cli("sync", "langsmith", env=langsmith_env(box, SOURCES__LANGSMITH__PROJECT_IDS=spelled))
    assert again.code == 0 and "changed since the last sync" not in one_paragraph(again.stderr)
    assert re.search(r"langsmith\.runs\s*│\s*0\s*│", again.stdout), again.stdout  # no row loaded again


def test_sync_with_nothing_configured_fails_and_a_skip_is_said_once(box: Sandbox) -> None:
    nothing = run_cli("sync")
    assert nothing.code == 2 and "no source is configured" in one_paragraph(nothing.stderr)
    only_langsmith = run_cli("sync", env=langsmith_env(box))
    assert only_langsmith.code == 0, only_langsmith.stderr
    assert one_paragraph(only_langsmith.stderr).count("DD_API_KEY and DD_APP_KEY are not set") == 1
    assert "Skipped model_lab and llm_obs" in one_paragraph(only_langsmith.stderr)


def test_help_version_and_the_sandbox_exports_read_as_a_user_expects(tmp_path: Path) -> None:
    for command in ("sql", "status"):
        shown = run_cli(command, "--help").stdout
        assert "DuckDB file to read (read-only)" in shown and "created if missing" not in shown
    version = run_cli("--version")
    assert version.code == 0 and re.fullmatch(r"runyard \d+\.\d+\.\d+\s*", version.stdout)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "COLUMNS": "80"}
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "sandbox", "--port", str(port),
                               "--model-lab-runs", "10", "--langsmith-runs", "10"], env=env,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = []
        assert server.stderr is not None
        while len(lines) < 12 and (line := server.stderr.readline()):
            lines.append(line)
            if "INITIAL_START" in line:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    exports = [line.strip() for line in lines if line.strip().startswith("export ")]
    assert len(exports) == 8 and all(re.fullmatch(r"export [A-Z_]+=\S+", line) for line in exports), lines


def test_no_lock_file_or_working_folder_is_left_behind(box: Sandbox, tmp_path: Path) -> None:
    """After a sync no <db>.lock remains, and the working folder of a sync that was killed is removed by the next."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = Path(tempfile.gettempdir()) / f"runyard-dlt-{dead.pid}-leftover"
    (abandoned / "pipelines").mkdir(parents=True, exist_ok=True)
    (tmp_path / "runyard.duckdb.lock").write_text("12345")  # left by a killed sync
    result = run_cli("sync", "model_lab", env=datadog_env(box))
    assert result.code == 0, result.stderr
    assert not (tmp_path / "runyard.duckdb.lock").exists()
    assert not abandoned.exists()
