"""The DuckDB file opened by the clients BI tools embed, not by runyard's own duckdb.

- Superset: DuckDB 1.4.x for Python with duckdb-engine 0.17 and SQLAlchemy 1.4 (what apache-superset
  pins for its duckdb extra), in an environment of their own, discovering the database through
  SQLAlchemy's inspector (tests/bi/superset_probe.py).
- Evidence: Node's @duckdb/node-api 1.5.x from the npm registry (tests/bi/node_probe.mjs).

``check_with_superset_stack`` and ``check_with_node_api`` take any file runyard wrote (the working
file, a published copy); the file must not be open in this process while they read it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from pipelines.demo import sandbox_settings
from pipelines.sync import sync
from sandbox import Sandbox

BI = Path(__file__).resolve().parent / "bi"
SUPERSET_STACK = ["duckdb==1.4.*", "duckdb-engine==0.17.*", "sqlalchemy==1.4.*", "pytz"]  # pandas brings pytz there
VIEWS = sorted(p.stem for p in (BI.parent.parent / "sql" / "marts").glob("*.sql"))  # analytics: what BI tools read


def analytics_views(db_path: Path) -> dict[str, tuple[list[str], int]]:
    """Each analytics view's columns and row count, as runyard's own duckdb sees them (then closed)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        names = [
            n for (n,) in con.execute("select view_name from duckdb_views() where schema_name = 'analytics'").fetchall()
        ]
        return {
            name: (
                [d[0] for d in con.execute(f"select * from analytics.{name} limit 0").description],
                con.execute(f"select count(*) from analytics.{name}").fetchone()[0],
            )
            for name in names
        }
    finally:
        con.close()


def run_superset_probe(db_path: Path) -> subprocess.CompletedProcess[str]:
    """The probe in a throwaway uv environment; from uv's cache when it can (no network needed then)."""
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH (the README installs it with pip install uv)"
    command = ["run", "--no-project", "--isolated", *(f"--with={r}" for r in SUPERSET_STACK)]
    command += ["python", "-W", "ignore", str(BI / "superset_probe.py"), str(db_path)]
    result = subprocess.run([uv, "--offline", *command], capture_output=True, text=True, timeout=300)
    if result.returncode and "network was disabled" in result.stderr:  # first run: fetch the wheels
        result = subprocess.run([uv, *command], capture_output=True, text=True, timeout=300)
    return result


def run_node_probe(db_path: Path) -> subprocess.CompletedProcess[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed for the Evidence reader check"
    if not (BI / "node_modules" / "@duckdb" / "node-api").exists():
        # `npm ci` refuses this lock file: the registry here serves only the linux-x64 binding, so
        # npm could not record the other platforms' optional packages. The versions are pinned
        # exactly in package.json and package-lock.json, and --no-save leaves both untouched.
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund"],
            cwd=BI,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return subprocess.run([node, str(BI / "node_probe.mjs"), str(db_path)], capture_output=True, text=True, timeout=120)


def check_with_superset_stack(db_path: Path) -> None:
    """Superset's path: list schemas and analytics views, reflect every column, select 5 rows of each."""
    expected = analytics_views(db_path)
    result = run_superset_probe(db_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)

    versions = seen["versions"]
    assert versions["duckdb"].startswith("1.4."), versions
    assert versions["duckdb-engine"].startswith("0.17."), versions
    assert versions["sqlalchemy"].startswith("1.4."), versions
    assert f"{db_path.stem}.analytics" in {s.replace('"', "") for s in seen["schemas"]}
    assert sorted(seen["views"]) == sorted(expected)
    for view, (columns, count) in expected.items():
        reflected = seen["views"][view]["columns"]
        assert list(reflected) == columns, view
        unknown = {c: t for c, t in reflected.items() if t == "NullType"}
        assert unknown == {}, f"{view}: columns Superset cannot type: {unknown}"
        assert seen["views"][view]["sample_rows"] == min(count, 5), view


def check_with_node_api(db_path: Path) -> None:
    """Evidence's engine: read every analytics view in full."""
    expected = analytics_views(db_path)
    result = run_node_probe(db_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)

    assert seen["version"].startswith("v1.5."), seen["version"]
    assert sorted(seen["views"]) == sorted(expected)
    for view, (columns, count) in expected.items():
        assert list(seen["views"][view]["columns"]) == columns, view
        assert seen["views"][view]["rows"] == count, view


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every source synced from the sandbox, with a published copy; nothing holds either file open."""
    folder = tmp_path_factory.mktemp("bi-readers")
    files = {"working": folder / "runyard.duckdb", "published": folder / "runyard-bi.duckdb"}
    with Sandbox(model_lab_runs=300, langsmith_runs=1500, llm_obs_projects=2, llm_obs_records_per_dataset=20) as box:
        sync(files["working"], settings=sandbox_settings(box), publish=files["published"])
    return files


@pytest.mark.parametrize("which", ["working", "published"])
def test_superset_stack_reads_every_view(synced: dict[str, Path], which: str) -> None:
    assert sorted(analytics_views(synced[which])) == VIEWS
    check_with_superset_stack(synced[which])


@pytest.mark.parametrize("which", ["working", "published"])
def test_evidence_node_api_reads_every_view(synced: dict[str, Path], which: str) -> None:
    assert sorted(analytics_views(synced[which])) == VIEWS
    check_with_node_api(synced[which])


def test_the_readers_are_really_duckdb_1x(tmp_path: Path) -> None:
    """A file in DuckDB 2.0's default format is refused by both, so the checks above prove something."""
    db = tmp_path / "default-format.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema analytics")
    con.execute("create view analytics.v as select 1 as x")
    con.close()

    for result in (run_superset_probe(db), run_node_probe(db)):
        assert result.returncode != 0
        assert "version number" in result.stderr, result.stderr


def test_the_superset_check_catches_a_column_it_cannot_type(tmp_path: Path) -> None:
    db = tmp_path / "nested.duckdb"
    con = duckdb.connect(str(db), config={"storage_compatibility_version": "v1.4.0"})
    con.execute("create schema analytics")
    con.execute("create view analytics.nested as select 1 as id, {'a': 1} as payload")
    con.close()

    with pytest.raises(AssertionError, match=r"cannot type: \{'payload': 'NullType'\}"):
        check_with_superset_stack(db)
