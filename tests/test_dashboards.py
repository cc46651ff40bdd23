"""The Superset dashboard pack in a real Superset 6.1: `runyard dashboards superset` on a published
file, the bundle imported through Superset's REST API, every chart's data (as Superset answers
``/api/v1/chart/{id}/data/``) equal to the same query run directly against its view, and every
dashboard drawn in headless Chromium, after logging in, with every chart and no error box."""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipelines.demo import sandbox_settings
from pipelines.superset_pack import Chart, charts, dashboards
from pipelines.sync import sync
from sandbox import Sandbox
from tests.conftest import run_cli
from tests.superset_server import ADMIN, HERE, Superset, superset_server

PACK = charts()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboards")
    with Sandbox(model_lab_runs=300, langsmith_runs=1500, llm_obs_projects=2, llm_obs_records_per_dataset=20) as box:
        sync(folder / "runyard.duckdb", settings=sandbox_settings(box), publish=folder / "runyard-bi.duckdb")
    return folder / "runyard-bi.duckdb"


@pytest.fixture(scope="module")
def bundle(published: Path) -> Path:
    out = published.with_name("runyard-superset.zip")
    made = run_cli("dashboards", "superset", "--db", str(published), "--out", str(out))
    assert made.code == 0, made.stderr
    assert "superset import-dashboards" in made.stdout
    return out


@pytest.fixture(scope="module")
def superset() -> Iterator[Superset]:
    with superset_server() as server:
        yield server


@pytest.fixture(scope="module")
def imported(superset: Superset, bundle: Path) -> dict[str, int]:
    """The bundle imported into a fresh Superset; each chart's id by its title."""
    with bundle.open("rb") as zipped:
        superset.api(
            "POST",
            "/api/v1/dashboard/import/",
            files={"formData": ("runyard-superset.zip", zipped, "application/zip")},
            data={"overwrite": "true"},
        )
    found = superset.api("GET", "/api/v1/chart/", params={"q": "(page_size:100)"})["result"]
    return {chart["slice_name"]: chart["id"] for chart in found}


def test_the_bundle_is_what_superset_exports_and_every_dataset_is_a_view(bundle: Path, published: Path) -> None:
    with zipfile.ZipFile(bundle) as zipped:
        files = {name.split("/", 1)[1]: yaml.safe_load(zipped.read(name)) for name in zipped.namelist()}
    assert files["metadata.yaml"]["type"] == "Dashboard"
    [database] = [v for k, v in files.items() if k.startswith("databases/")]
    assert database["sqlalchemy_uri"] == f"duckdb:///{published.resolve()}?access_mode=read_only"
    datasets = [v for k, v in files.items() if k.startswith("datasets/")]
    assert datasets and all(d["schema"] == "analytics" and d["sql"] is None for d in datasets)
    assert {d["table_name"] for d in datasets} == {c.view for c in PACK.values()}
    assert sum(k.startswith("charts/") for k in files) == len(PACK)
    assert sum(k.startswith("dashboards/") for k in files) == len(dashboards()) == 4


def test_every_chart_is_imported_and_on_a_dashboard(imported: dict[str, int]) -> None:
    assert set(imported) == {chart.title for chart in PACK.values()}
    placed = [name for board in dashboards().values() for row in board.rows for name in row]
    assert sorted(placed) == sorted(PACK)


@pytest.mark.parametrize("name", sorted(PACK))
def test_chart_data_equals_its_view(superset: Superset, imported: dict[str, int], published: Path, name: str) -> None:
    chart = PACK[name]
    answer = superset.api("GET", f"/api/v1/chart/{imported[chart.title]}/data/", params={"format": "json"})
    [result] = answer["result"]
    columns = [*chart.query_columns(), *chart.metrics]
    types = _types(published, chart.view)
    temporal = [types.get(c, "").startswith(("DATE", "TIMESTAMP")) for c in columns]
    got = [tuple(_plain(row[c], t) for c, t in zip(columns, temporal, strict=True)) for row in result["data"]]
    want = [tuple(_plain(v, t) for v, t in zip(row, temporal, strict=True)) for row in _direct(published, chart)]
    assert want, f"{chart.view} has no rows for {name}"
    if chart.viz == "table":  # ordered and limited: the same rows in the same order
        assert got == want
    else:
        assert sorted(got, key=repr) == sorted(want, key=repr)


def _types(db: Path, view: str) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'analytics' and table_name = ?",
            [view],
        ).fetchall()
    return dict(found)


def _direct(db: Path, chart: Chart) -> list[tuple]:
    """The chart's query, written from its definition and run on the view with DuckDB itself."""
    where = f"where {chart.where}" if chart.where else ""
    with duckdb.connect(str(db), read_only=True) as con:
        if chart.viz == "table":
            order = ", ".join(f"{c} {d}" for c, d in chart.order_by)
            sql = f"select {', '.join(chart.columns)} from analytics.{chart.view} {where} order by {order}"
            return con.execute(f"{sql} limit {chart.limit}").fetchall()
        keys = ", ".join(chart.query_columns())
        metrics = ", ".join(f'{expr} as "{label}"' for label, expr in chart.metrics.items())
        return con.execute(f"select {keys}, {metrics} from analytics.{chart.view} {where} group by {keys}").fetchall()


def _plain(value: Any, temporal: bool) -> Any:
    """One comparable form for what DuckDB returns and what Superset's JSON says (times: epoch ms)."""
    if temporal and isinstance(value, datetime):
        return round(value.astimezone(UTC).timestamp() * 1000)
    if temporal and isinstance(value, date):
        return round(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if temporal and isinstance(value, int | float):
        return round(value)
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else value
    return value


def test_every_dashboard_draws_every_chart_without_an_error(
    superset: Superset, imported: dict[str, int], tmp_path: Path
) -> None:
    slugs = [f"runyard-{name.replace('_', '-')}" for name in dashboards()]
    shot = tmp_path / "dashboard.png"
    drawn = superset.run(HERE / "render_probe.py", superset.url, *ADMIN, str(shot), *slugs)
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    seen = json.loads(drawn.stdout.strip().splitlines()[-1])
    for name, board in dashboards().items():
        expected = sum(len(row) for row in board.rows)
        got = seen[f"runyard-{name.replace('_', '-')}"]
        assert got == {"charts": expected, "drawn": expected, "errors": []}, name
    assert shot.stat().st_size > 50_000
    if os.environ.get("DASHBOARD_SCREENSHOT"):  # how the README's picture is made
        shutil.copy(shot, os.environ["DASHBOARD_SCREENSHOT"])


def test_a_file_without_the_views_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    out = tmp_path / "pack.zip"
    refused = run_cli("dashboards", "superset", "--db", str(empty), "--out", str(out))
    assert refused.code == 1 and not out.exists()
    message = " ".join(refused.stderr.split())
    assert "has no view analytics.langsmith_daily_usage" in message and "runyard sync --publish" in message
    missing = run_cli("dashboards", "superset", "--db", str(tmp_path / "nope.duckdb"), "--out", str(out))
    assert missing.code != 0 and "does not exist" in missing.stderr and not out.exists()
