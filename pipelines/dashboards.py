"""``runyard dashboards superset``: a Superset import bundle of ready dashboards over a published file.

The bundle is the ZIP of YAML that Superset's own export writes (``metadata.yaml``,
``databases/``, ``datasets/``, ``charts/``, ``dashboards/``), built from definitions kept in
``pipelines/superset/``: one small file per chart (the view it reads, its x axis, groups, metrics as
SQL, filter, order) and one per dashboard (its rows of charts and its native filters). Every chart's
dataset is an ``analytics`` view, never custom SQL, so a view change reaches the dashboards by
construction. The database points at the published file, read-only.

The definitions are read by pipelines/superset_pack.py and shaped into Superset's objects by
pipelines/superset_export.py.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from pipelines import superset_export as export
from pipelines import warehouse
from pipelines.superset_pack import charts, dashboards
from pipelines.views import ANALYTICS_SCHEMA
from sources.errors import SyncError


def write_bundle(db_path: Path, out_path: Path) -> dict[str, list[str]]:
    """Write the import bundle for ``db_path`` (a published runyard file); {dashboard title: chart titles}."""
    target = db_path.resolve()
    columns = _view_columns(target)
    pack, boards = charts(), dashboards()
    missing = sorted({c.view for c in pack.values()} - set(columns))
    if missing:
        raise SyncError(
            "dashboards",
            f"{target} has no view {', '.join(f'{ANALYTICS_SCHEMA}.{v}' for v in missing)}",
            "Point --db at a published copy that every source has synced into (runyard sync --publish ...).",
        )
    root = f"runyard_superset_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    files: dict[str, Any] = {
        "metadata.yaml": {"version": export.VERSION, "type": "Dashboard", "timestamp": datetime.now(UTC).isoformat()},
        f"databases/{export.DATABASE}.yaml": export.database(target),
    }
    for view in sorted({c.view for c in pack.values()}):
        files[f"datasets/{export.DATABASE}/{view}.yaml"] = export.dataset(view, columns[view])
    for chart in pack.values():
        files[f"charts/{chart.name}.yaml"] = export.chart(chart, columns[chart.view])
    for board in boards.values():
        files[f"dashboards/{board.name}.yaml"] = export.dashboard(board, pack, columns)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(f"{root}/{name}", yaml.safe_dump(content, sort_keys=False, allow_unicode=True))
    return {board.title: [pack[c].title for row in board.rows for c in row] for board in boards.values()}


def _view_columns(db_path: Path) -> dict[str, dict[str, str]]:
    """Every analytics view's columns and their DuckDB types, read from the file."""
    with warehouse.connect(db_path, read_only=True) as con:
        found = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            f"where table_schema = '{ANALYTICS_SCHEMA}' order by table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, dict[str, str]] = {}
    for view, column, data_type in found:
        columns.setdefault(view, {})[column] = data_type
    return columns
