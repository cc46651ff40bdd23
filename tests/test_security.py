"""Keys never leak: every failure path, run with recognisable keys, and everything it leaves behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest

from pipelines.destinations import DuckDBSession, pipeline_state
from sandbox import Sandbox
from tests.conftest import CliResult, run_cli

FAKE_DD = "dd-fake-api-key-LEAKCHECK-71c3"
FAKE_DD_APP = "dd-fake-app-key-LEAKCHECK-9a04"
FAKE_LS = "lsv2_fake_LEAKCHECK_5d2e"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=120, langsmith_runs=300, llm_obs_projects=1, llm_obs_records_per_dataset=10) as sb:
        yield sb


def secrets_of(box: Sandbox) -> list[str]:
    return [box.config.datadog_api_key, box.config.datadog_app_key, box.config.langsmith_api_key,
            FAKE_DD, FAKE_DD_APP, FAKE_LS]  # fmt: skip


def leaks(box: Sandbox, *texts: str) -> list[str]:
    return [key for key in secrets_of(box) for text in texts if key in text]


def stored_text(db: Path) -> str:
    """Everything a sync stores: the file's bytes, the dlt state (compressed in the file) and schemas."""
    parts = [db.read_bytes().decode("latin-1")]
    con = duckdb.connect(str(db), read_only=True)
    try:
        session = DuckDBSession(con)
        for dataset in ("datadog", "langsmith"):
            found = pipeline_state(session, dataset)
            if found:
                parts.append(json.dumps(found[0]))
            with contextlib.suppress(duckdb.CatalogException):
                parts += [row[0] for row in con.execute(f"select schema from {dataset}._dlt_version").fetchall()]
    finally:
        con.close()
    return "\n".join(parts)


# Retries run out after one retry, so the paths that end in "kept failing" take seconds, not minutes.
FEW_ATTEMPTS = {"SOURCES__DATADOG__HTTP_MAX_ATTEMPTS": "2", "SOURCES__LANGSMITH__HTTP_MAX_ATTEMPTS": "2"}

FAILURES = {
    "rejected Datadog keys": ({"DD_API_KEY": FAKE_DD, "DD_APP_KEY": FAKE_DD_APP}, None, ("sync", "model_lab")),
    "rejected LangSmith key": ({"LANGSMITH_API_KEY": FAKE_LS}, None, ("sync", "langsmith")),
    "5xx until the retries run out": ({}, {"kind": "status", "status": 503, "count": None}, ("sync", "llm_obs")),
    "invalid JSON until the retries run out": ({}, {"kind": "invalid_json", "count": None}, ("sync", "model_lab")),
    "a 400": ({}, {"kind": "status", "status": 400, "count": None}, ("sync", "langsmith")),
    "a malformed setting": ({"DD_SITE": "datadog.example"}, None, ("sync",)),
    "plain http to a remote host": ({"SOURCES__DATADOG__BASE_URL": "http://10.9.9.9"}, None, ("sync", "model_lab")),
    "an unknown topic-discovery configuration": (
        {"SOURCES__DATADOG__TOPIC_DISCOVERY_CONFIG_IDS": "nope"}, None, ("sync", "llm_obs")),
}  # fmt: skip


@pytest.fixture(scope="module")
def synced_db(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file a complete sync wrote, for failures to run against (a failed first sync writes no file)."""
    db = tmp_path_factory.mktemp("synced") / "db.duckdb"
    result = run_cli("sync", "--db", str(db), env=box.env(), timeout=300)
    assert result.code == 0, result.stderr
    return db


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_failure_paths_never_print_a_key(
    box: Sandbox, synced_db: Path, tmp_path: Path, failure: str, debug: bool
) -> None:
    env_overrides, fault, args = FAILURES[failure]
    db = tmp_path / "db.duckdb"
    shutil.copyfile(synced_db, db)
    env = {**box.env(), "RUNYARD_DB": str(db), **FEW_ATTEMPTS, **env_overrides}
    if fault:
        box.faults.add(endpoint="*", **fault)
    requests_before = sum(box.requests().values())
    try:
        result: CliResult = run_cli(*args, *(["--debug"] if debug else []), env=env, timeout=300)
    finally:
        box.faults.clear()
    assert result.code != 0, failure
    if failure in ("a malformed setting", "plain http to a remote host"):  # rejected before any request
        assert sum(box.requests().values()) == requests_before
    assert "error" in result.stderr
    assert leaks(box, result.stdout, result.stderr) == []
    assert leaks(box, stored_text(db)) == []


def test_a_successful_sync_stores_no_key_anywhere(box: Sandbox, tmp_path: Path) -> None:
    db, published = tmp_path / "db.duckdb", tmp_path / "db-bi.duckdb"
    scratch = tmp_path / "tmp"  # dlt's working files (load packages, state) go under TMPDIR
    scratch.mkdir()
    env = {**box.env(), "TMPDIR": str(scratch), "RUNYARD_PUBLISH": str(published)}
    result = run_cli("sync", "--db", str(db), "--debug", env=env, timeout=300)
    assert result.code == 0, result.stderr
    assert leaks(box, result.stdout, result.stderr, stored_text(db), stored_text(published)) == []
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert db in files and published in files
    for path in files:
        assert leaks(box, path.read_bytes().decode("latin-1")) == [], path


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[str]:
    """An https server on loopback whose certificate no CA vouches for."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"data": [], "meta": {"page": {"number": 0, "size": 100, "total": 0}}}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_tls_verification_cannot_be_switched_off_silently(box: Sandbox, self_signed_server: str) -> None:
    env = {**box.env(), "SOURCES__DATADOG__BASE_URL": self_signed_server}
    result = run_cli("sync", "model_lab", env=env)
    assert result.code == 4
    assert "TLS certificate" in result.stderr and "could not be verified" in result.stderr
    assert leaks(box, result.stdout, result.stderr) == []


def test_an_unusable_ca_bundle_is_a_settings_error(box: Sandbox, self_signed_server: str) -> None:
    env = {**box.env(), "SOURCES__DATADOG__BASE_URL": self_signed_server, "SSL_CERT_FILE": os.devnull}
    result = run_cli("sync", "model_lab", env=env)
    assert result.code == 2
    assert "CA certificates could not be loaded" in result.stderr and "SSL_CERT_FILE" in result.stderr


def test_views_and_sql_never_write_to_raw_tables(box: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "db.duckdb"
    assert run_cli("sync", "model_lab", "--db", str(db), env=box.env()).code == 0
    con = duckdb.connect(str(db), read_only=True)
    before = con.execute("select count(*), sum(hash(id, name, status)) from datadog.model_lab_runs").fetchall()
    kinds = set(con.execute("select table_type from information_schema.tables where table_schema = 'analytics'")
                .fetchall())  # fmt: skip
    con.close()
    assert kinds == {("VIEW",)}  # analytics holds views only: nothing there can write
    for statement in ("delete from datadog.model_lab_runs", "update datadog.model_lab_runs set name = 'x'",
                      "drop table datadog.model_lab_runs", "create table datadog.x as select 1"):  # fmt: skip
        assert run_cli("sql", statement, "--db", str(db)).code != 0, statement
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*), sum(hash(id, name, status)) from datadog.model_lab_runs").fetchall() == before
    con.close()
