"""Files for readers: storage version, the published copy, and syncing while other programs hold files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.sync import sync
from pipelines.warehouse import storage_version
from sandbox import Sandbox
from tests.conftest import rows, run_cli
from tests.test_cli import sandbox_env

HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    print("ready", flush=True)
    for line in sys.stdin:
        print(con.execute("select count(*) from datadog.model_lab_runs").fetchone()[0], flush=True)
    """
)


class Holder:
    """Another process with the file open (like a BI tool's connection); answers a count per line read."""

    def __init__(self, path: Path, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def count(self) -> int:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def version_of(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return storage_version(con)
    finally:
        con.close()


def test_new_files_are_readable_by_duckdb_1_4_and_the_version_is_a_setting(
    sandbox: Sandbox, settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync(tmp_path / "default.duckdb", ["model_lab"], settings=settings)
    assert version_of(tmp_path / "default.duckdb") == "v1.4.0+"

    monkeypatch.setenv("RUNYARD_STORAGE_VERSION", "latest")
    sync(tmp_path / "latest.duckdb", ["model_lab"], settings=settings)
    assert version_of(tmp_path / "latest.duckdb") != "v1.4.0+"
    sync(tmp_path / "default.duckdb", ["model_lab"], settings=settings)  # an existing file keeps its version
    assert version_of(tmp_path / "default.duckdb") == "v1.4.0+"


def test_sync_publishes_a_copy_with_tables_and_views(sandbox: Sandbox, settings, db_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "bi" / "runyard-bi.duckdb"

    [result] = sync(db_path, ["model_lab"], settings=settings, publish=target)

    assert result.published is not None and result.published.path == target.resolve()
    assert result.published.size_bytes == target.stat().st_size > 0
    assert version_of(target) == "v1.4.0+"
    assert rows(target, "select count(*) from analytics.model_lab_run_summary") == [(450,)]
    schemas = {s for (s,) in rows(target, "select schema_name from duckdb_schemas() where not internal")}
    assert "datadog" in schemas and "analytics" in schemas and not any(s.endswith("_staging") for s in schemas)
    assert not list(target.parent.glob(".*.tmp*"))  # the temporary copy was renamed, nothing left behind


def test_a_reader_holding_the_published_copy_keeps_reading_while_a_sync_publishes(
    sandbox: Sandbox, settings, db_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "runyard-bi.duckdb"
    sync(db_path, ["model_lab"], settings=settings, publish=target)
    reader = Holder(target, "ro")
    try:
        assert reader.count() == 450
        sandbox.advance(model_lab={"new": 7})

        [result] = sync(db_path, ["model_lab"], settings=settings, publish=target)

        assert result.published is not None
        assert reader.count() == 450  # the held connection answers from the copy it opened
        assert rows(target, "select count(*) from datadog.model_lab_runs") == [(457,)]  # a new one sees new rows
    finally:
        reader.close()


def test_a_program_holding_the_working_file_makes_sync_wait_then_fail_clearly(sandbox: Sandbox, db_path: Path) -> None:
    env = sandbox_env(sandbox, RUNYARD_LOCK_WAIT_SECONDS="2")
    assert run_cli("sync", "model_lab", env=env).code == 0
    holder = Holder(db_path, "rw")
    try:
        sandbox.advance(model_lab={"new": 5})
        result = run_cli("sync", "model_lab", env=env)
        assert result.code == 6
        assert f"PID {holder.proc.pid}" in result.stderr and "--publish" in result.stderr
        assert "Traceback" not in result.stderr
        assert holder.count() == 450  # nothing was written
    finally:
        holder.close()
    assert run_cli("sync", "model_lab", env=env).code == 0  # once it lets go, the next sync goes through
    assert rows(db_path, "select count(*) from datadog.model_lab_runs") == [(455,)]


def test_publishing_over_the_working_database_is_refused(sandbox: Sandbox, settings, db_path: Path) -> None:
    from sources.errors import ConfigError

    with pytest.raises(ConfigError, match="is the database being synced"):
        sync(db_path, ["model_lab"], settings=settings, publish=db_path)
