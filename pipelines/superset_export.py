"""Superset's import format (version 1.0.0, what its own export writes): a database, a dataset
per view, a chart and a dashboard per definition.

Superset draws a chart from its ``params`` and answers ``/api/v1/chart/{id}/data/`` from its saved
``query_context``; both are made here from the same definition, so they cannot disagree. Ids in
``query_context`` and in the dashboard's layout are placeholders that Superset's import maps onto
the objects it creates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.superset_pack import TEMPORAL, Chart, Dashboard, is_temporal, object_uuid
from pipelines.views import ANALYTICS_SCHEMA
from sources.errors import SyncError

VERSION = "1.0.0"
DATABASE = "runyard"
VIZ = {
    "line": "echarts_timeseries_line",
    "bar": "echarts_timeseries_bar",
    "stacked_bar": "echarts_timeseries_bar",
    "table": "table",
}


def database(path: Path) -> dict[str, Any]:
    return {
        "database_name": DATABASE,
        "sqlalchemy_uri": f"duckdb:///{path}?access_mode=read_only",
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_csv_upload": False,
        "extra": {"allows_virtual_table_explore": True},
        "uuid": object_uuid("database", DATABASE),
        "version": VERSION,
    }


def dataset(view: str, columns: dict[str, str]) -> dict[str, Any]:
    temporal = [c for c, t in columns.items() if t.startswith(TEMPORAL)]
    return {
        "table_name": view,
        "main_dttm_col": next((c for c in ("day", "created_date", *temporal) if c in temporal), None),
        "description": f"The runyard view {ANALYTICS_SCHEMA}.{view}.",
        "schema": ANALYTICS_SCHEMA,
        "sql": None,
        "filter_select_enabled": True,
        "uuid": object_uuid("dataset", view),
        "database_uuid": object_uuid("database", DATABASE),
        "version": VERSION,
        "metrics": [
            {"metric_name": "count", "verbose_name": "COUNT(*)", "metric_type": "count", "expression": "COUNT(*)"}
        ],
        "columns": [
            {"column_name": c, "type": t, "is_dttm": t.startswith(TEMPORAL), "groupby": True, "filterable": True}
            for c, t in columns.items()
        ],
    }


def _metric(label: str, sql: str) -> dict[str, Any]:
    return {
        "expressionType": "SQL",
        "sqlExpression": sql,
        "label": label,
        "hasCustomLabel": True,
        "optionName": f"metric_{label}",
    }


def chart(chart: Chart, columns: dict[str, str]) -> dict[str, Any]:
    unknown = [c for c in chart.query_columns() if c not in columns]
    if unknown:
        raise SyncError(
            "dashboards",
            f"chart {chart.name} reads {', '.join(unknown)}, which {ANALYTICS_SCHEMA}.{chart.view} does not have",
            f"Update pipelines/superset/charts/{chart.name}.yaml to the view's columns.",
        )
    where = (
        [{"expressionType": "SQL", "sqlExpression": chart.where, "clause": "WHERE", "filterOptionName": "where"}]
        if chart.where
        else []
    )
    metrics = [_metric(label, sql) for label, sql in chart.metrics.items()]
    params: dict[str, Any] = {
        "viz_type": VIZ[chart.viz],
        "datasource": "0__table",
        "adhoc_filters": where,
        "row_limit": chart.limit,
    }
    if chart.viz == "table":
        params |= {
            "query_mode": "raw",
            "all_columns": chart.columns,
            "order_by_cols": [json.dumps([c, d == "asc"]) for c, d in chart.order_by],
            "server_pagination": False,
            "include_search": True,
            "table_timestamp_format": "%Y-%m-%d %H:%M:%S",
        }
        orderby = [[c, d == "asc"] for c, d in chart.order_by]
    else:
        temporal = is_temporal(columns, chart.x)
        params |= {
            "x_axis": chart.x,
            "time_grain_sqla": "P1D" if temporal else None,
            "x_axis_sort_asc": True,
            "metrics": metrics,
            "groupby": chart.group_by,
            "order_desc": True,
            "truncate_metric": True,
            "show_legend": True,
            "legendType": "scroll",
            "legendOrientation": "top",
            "rich_tooltip": True,
            "x_axis_time_format": "%Y-%m-%d",
            "y_axis_format": "SMART_NUMBER",
            "stack": "Stack" if chart.viz == "stacked_bar" else None,
        }
        orderby = [[metrics[0], False]] if metrics else []
    query = {
        "columns": chart.query_columns(),
        "metrics": metrics,
        "orderby": orderby,
        "filters": [],
        "extras": {"where": chart.where or "", "having": ""},
        "row_limit": chart.limit,
        "order_desc": True,
    }
    context = {
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
    return {
        "slice_name": chart.title,
        "description": chart.description,
        "viz_type": VIZ[chart.viz],
        "params": params,
        "query_context": json.dumps(context),
        "cache_timeout": None,
        "uuid": chart.uuid,
        "version": VERSION,
        "dataset_uuid": object_uuid("dataset", chart.view),
    }


def dashboard(board: Dashboard, pack: dict[str, Chart], columns: dict[str, dict[str, str]]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": board.title}},
    }
    chart_ids: dict[str, int] = {}  # placeholder ids; Superset's import maps them to the ones it makes
    for r, row in enumerate(board.rows):
        row_id = f"ROW-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for name in row:
            chart = pack[name]
            chart_ids[name] = len(chart_ids) + 1
            key = f"CHART-{name}"
            position[row_id]["children"].append(key)
            position[key] = {
                "type": "CHART",
                "id": key,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "width": 12 // len(row),
                    "height": 60,
                    "chartId": chart_ids[name],
                    "uuid": chart.uuid,
                    "sliceName": chart.title,
                },
            }
    filters = [_native_filter(f, board, pack, columns, chart_ids) for f in board.filters]
    return {
        "dashboard_title": board.title,
        "description": board.description,
        "css": "",
        "slug": f"runyard-{board.name.replace('_', '-')}",
        "uuid": object_uuid("dashboard", board.name),
        "position": position,
        "metadata": {
            "native_filter_configuration": filters,
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "cross_filters_enabled": False,
            "timed_refresh_immune_slices": [],
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "default_filters": "{}",
            "chart_configuration": {},
        },
        "published": True,
        "version": VERSION,
    }


def _native_filter(
    spec: dict[str, Any],
    board: Dashboard,
    pack: dict[str, Chart],
    columns: dict[str, dict[str, str]],
    chart_ids: dict[str, int],
) -> dict[str, Any]:
    """A date-range filter on the charts drawn along a date axis, or a value filter on the charts
    whose view has the column (the others are out of its scope: the column would not exist)."""
    names = [c for row in board.rows for c in row]
    if spec["kind"] == "time":
        applies = [n for n in names if is_temporal(columns[pack[n].view], pack[n].x)]
        body: dict[str, Any] = {"filterType": "filter_time", "targets": [{}], "controlValues": {}}
    else:
        applies = [n for n in names if spec["column"] in columns[pack[n].view]]
        body = {
            "filterType": "filter_select",
            "targets": [{"datasetUuid": object_uuid("dataset", spec["view"]), "column": {"name": spec["column"]}}],
            "controlValues": {
                "multiSelect": not spec.get("single", False),
                "enableEmptyFilter": False,
                "defaultToFirstItem": False,
                "searchAllOptions": False,
                "inverseSelection": False,
            },
        }
    return {
        "id": f"NATIVE_FILTER-{board.name}-{spec['name'].lower()}",
        "name": spec["name"],
        **body,
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        "cascadeParentIds": [],
        "scope": {"rootPath": ["ROOT_ID"], "excluded": [chart_ids[n] for n in names if n not in applies]},
        "type": "NATIVE_FILTER",
        "description": "",
    }
