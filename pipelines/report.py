"""``runyard report``: one self-contained HTML page of charts drawn from the analytics views.

The page has to open anywhere (an e-mail attachment, a laptop on a plane), so it fetches
nothing: every chart is a Vega-Lite spec rendered to inline SVG in Python by vl-convert (no
script, no stylesheet, font or image URL), the CSS is inline and a Content-Security-Policy
forbids any fetch. Each chart names the view it came from; a chart whose view is missing or
empty says which source has not been synced instead of drawing empty axes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines import warehouse
from pipelines.views import SQL_DIR

LANGSMITH = "LangSmith"
MODEL_LAB = "Datadog Model Lab"
LLM_OBS = "Datadog LLM Observability"
TOPIC_DISCOVERY = "Datadog LLM Observability topic discovery"

REPORT_SQL = SQL_DIR / "report"  # one query per file, over the analytics views
CHART_WIDTH = 1040
MAX_EXPERIMENTS = 30
LEADERBOARD_TOP = 5
# a leaderboard ranks runs on how good they are, so quality metrics go before bookkeeping (epoch, flops)
_QUALITY = re.compile(r"loss|accuracy|\bacc\b|f1|auc|precision|recall|bleu|rouge|perplexity|error|score|reward")
_FRACTIONS = {"accuracy", "precision", "recall", "f1", "auc", "error_rate", "completion_rate", "success_rate"}
_LOWER_IS_BETTER = re.compile(r"loss|error|latency|perplexity|mse|mae|rmse|wer|cost|runtime|duration")
_STATUS_COLORS = {
    "completed": "#2e7d32",
    "success": "#2e7d32",
    "running": "#1565c0",
    "pending": "#90caf9",
    "paused": "#9e9e9e",
    "failed": "#c62828",
    "error": "#c62828",
    "killed": "#ef6c00",
    "interrupted": "#ef6c00",
    "unresponsive": "#6a1b9a",
}
_VEGA_CONFIG: dict[str, Any] = {
    "font": "Helvetica, Arial, sans-serif",
    "title": {"fontSize": 15, "anchor": "start", "subtitleColor": "#555"},
    # maxExtent caps where an axis title goes (default 200 px), so long run names would run into it
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "maxExtent": 400},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 260},
    "view": {"stroke": None},
}


class NoData(Exception):
    """The view a chart reads is missing or has no rows."""


@dataclass(frozen=True)
class Chart:
    """One figure: its element id, the views it reads and how to build its Vega-Lite spec."""

    id: str
    title: str
    source: str
    views: tuple[str, ...]
    build: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]
    caption: str
    table: Callable[[duckdb.DuckDBPyConnection], str] | None = None


@dataclass
class ReportSummary:
    """What ``write_report`` wrote: the file, and which charts were drawn or skipped (and why)."""

    path: Path
    drawn: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def write_report(db_path: Path, out_path: Path) -> ReportSummary:
    """Read the analytics views of ``db_path`` (read-only) and write the report to ``out_path``."""
    import vl_convert

    summary = ReportSummary(out_path)
    sections: dict[str, list[str]] = {}
    with warehouse.connect(db_path, read_only=True) as con:
        available = {
            name
            for (name,) in con.execute(
                "select view_name from duckdb_views() where schema_name = 'analytics' and not internal"
            ).fetchall()
        }
        for chart in CHARTS:
            try:
                missing = [v for v in chart.views if v not in available]
                if missing:
                    raise NoData(f"analytics.{missing[0]} does not exist")
                spec = chart.build(con)
                table = chart.table(con) if chart.table else ""
            except NoData as reason:
                summary.skipped[chart.id] = str(reason)
                sections.setdefault(chart.source, []).append(_no_data_figure(chart, str(reason)))
                continue
            svg = vl_convert.vegalite_to_svg(spec, config=_VEGA_CONFIG, allowed_base_urls=[])
            sections.setdefault(chart.source, []).append(_figure(chart, svg, table))
            summary.drawn.append(chart.id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_page(db_path, sections, summary), encoding="utf-8")
    return summary


# --- data ----------------------------------------------------------------------------------------


def _query(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> tuple[list[str], list[tuple]]:
    """The report query ``sql/report/<name>.sql`` (its ``$name`` parameters from ``params``)."""
    return warehouse.query(con, (REPORT_SQL / f"{name}.sql").read_text(), params or None)


def _records(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a report query as dicts for a Vega-Lite ``data.values``; no rows means nothing to draw."""
    columns, rows = _query(con, name, **params)
    if not rows:
        raise NoData("it has no rows")
    return [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]


def _json_value(value: Any) -> Any:
    """vl-convert takes JSON types only; DECIMAL sums and dates arrive as Python objects."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    return value


def _short(identifier: str) -> str:
    """UUIDs make unreadable legends; eight characters tell projects apart."""
    return identifier if len(identifier) <= 12 else identifier[:8]


def _unit(metric_key: str) -> str:
    """A unit guessed from the metric's name; vendors do not report units."""
    for suffix, unit in (("_ms", "ms"), ("_usd", "USD"), ("_seconds", "s"), ("_s", "s"), ("_tokens", "tokens")):
        if metric_key.endswith(suffix):
            return unit
    if metric_key.split("/")[-1] in _FRACTIONS:
        return "fraction"
    return "units as logged"


def _utc_day_axis(field_name: str, title: str) -> dict[str, Any]:
    return {
        "field": field_name,
        "type": "temporal",
        "scale": {"type": "utc"},
        "title": title,
        "axis": {"format": "%b %d", "labelAngle": 0},
    }


def _status_scale(statuses: set[str]) -> dict[str, Any]:
    domain = [s for s in _STATUS_COLORS if s in statuses] + sorted(statuses - set(_STATUS_COLORS))
    return {"domain": domain, "range": [_STATUS_COLORS.get(s, "#78909c") for s in domain]}


# --- charts --------------------------------------------------------------------------------------


def _langsmith_per_day(query: str, y: dict[str, Any], title: str) -> Callable[[duckdb.DuckDBPyConnection], dict]:
    """A line per project of the report query's ``value`` by ``day`` (it selects day, project_id, value)."""

    def build(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        values = _records(con, query)
        for row in values:
            row["project"] = _short(row.pop("project_id") or "(none)")
        return {
            "title": title,
            "width": CHART_WIDTH,
            "height": 220,
            "data": {"values": values},
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": _utc_day_axis("day", "day (UTC)"),
                "y": {"field": "value", "type": "quantitative", **y},
                "color": {"field": "project", "type": "nominal", "title": "project (id prefix)"},
            },
        }

    return build


_langsmith_error_rate = _langsmith_per_day(
    "langsmith_error_rate_per_day",
    {"title": "error rate (% of finished runs)", "axis": {"format": ".0%"}},
    "LangSmith error rate per day and project",
)


def _langsmith_latency(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = _records(con, "langsmith_latency_per_model")
    values = [
        {"model": row["model_name"], "percentile": name, "latency_s": row[name], "runs": row["runs"]}
        for row in rows
        for name in ("p50", "p95")
    ]
    return {
        "title": "LangSmith latency per model: p50 and p95",
        "width": CHART_WIDTH - 200,
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "y": {"field": "model", "type": "nominal", "sort": [r["model_name"] for r in rows], "title": "model"},
            "yOffset": {"field": "percentile"},
            "x": {"field": "latency_s", "type": "quantitative", "title": "run latency (seconds)"},
            "color": {
                "field": "percentile",
                "type": "nominal",
                "title": "percentile",
                "scale": {"range": ["#64b5f6", "#0d47a1"]},
            },
        },
    }


def _model_lab_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    values = _records(con, "model_lab_runs_per_day_by_status")
    return {
        "title": "Model Lab runs by status, per day created",
        "width": CHART_WIDTH,
        "height": 240,
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "x": {**_utc_day_axis("day", "day created (UTC)"), "timeUnit": "utcyearmonthdate"},
            "y": {"field": "runs", "type": "quantitative", "aggregate": "sum", "title": "runs (count)"},
            "color": {
                "field": "status",
                "type": "nominal",
                "title": "status now",
                "scale": _status_scale({v["status"] for v in values}),
            },
        },
    }


def leaderboard_metric(con: duckdb.DuckDBPyConnection) -> tuple[str, bool]:
    """The quality metric (loss, accuracy, ...) the most runs logged, else the most logged metric;
    and whether lower values rank first (loss-like names)."""
    _, counts = _query(con, "model_lab_leaderboard_metrics")
    if not counts:
        raise NoData("it has no rows")
    keys = [k for k, _ in counts]
    key = next((k for k in keys if _QUALITY.search(k.lower())), keys[0])
    return key, bool(_LOWER_IS_BETTER.search(key.lower()))


def _model_lab_leaderboard(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    key, lowest_first = leaderboard_metric(con)
    values = _records(con, "model_lab_leaderboard", metric_key=key, lowest_first=lowest_first, top=LEADERBOARD_TOP)
    for row in values:
        row["run"] = f"#{row['rank']} {row['run_name']} ({row['run_id']})"
    order = "lowest first" if lowest_first else "highest first"
    return {
        "title": {
            "text": f"Model Lab leaderboard: latest {key}, top {LEADERBOARD_TOP} runs per project ({order})",
            "subtitle": f"{key}: the quality metric most runs logged; deleted runs and runs with no value are left out",
        },
        "data": {"values": values},
        "facet": {"row": {"field": "project", "type": "nominal", "title": "Model Lab project", "sort": None}},
        "spec": {
            "width": CHART_WIDTH - 420,
            "mark": "bar",
            "encoding": {
                "y": {"field": "run", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 360}},
                "x": {"field": "latest_value", "type": "quantitative", "title": f"latest {key} ({_unit(key)})"},
                "color": {
                    "field": "run_status",
                    "type": "nominal",
                    "title": "run status",
                    "scale": _status_scale({v["run_status"] for v in values}),
                },
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }


def _experiment_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Up to four (metric, statistic) pairs most experiments report; counts say little and are left out."""
    _, pairs = _query(con, "llmobs_experiment_pairs")
    if not pairs:
        raise NoData("it has no rows")
    return [(k, s) for k, s in pairs]


def _experiments(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    pairs = _experiment_pairs(con)
    values = [
        {k: row[k] for k in ("experiment", "status", "metric_key", "statistic", "value")}
        for row in _records(con, "llmobs_recent_experiments", limit=MAX_EXPERIMENTS)
    ]
    order = list(dict.fromkeys(v["experiment"] for v in values))
    panels = []
    for i, (key, statistic) in enumerate(pairs):
        panels.append(
            {
                "width": 170,
                "transform": [
                    {
                        "filter": {
                            "and": [{"field": "metric_key", "equal": key}, {"field": "statistic", "equal": statistic}]
                        }
                    }
                ],
                "mark": "bar",
                "encoding": {
                    "y": {
                        "field": "experiment",
                        "type": "nominal",
                        "sort": order,
                        "title": None,
                        "axis": {"labelLimit": 320} if i == 0 else None,
                    },
                    "x": {"field": "value", "type": "quantitative", "title": f"{key} {statistic} ({_unit(key)})"},
                    "color": {
                        "field": "status",
                        "type": "nominal",
                        "title": "experiment status",
                        "scale": _status_scale({v["status"] for v in values}),
                    },
                },
            }
        )
    return {
        "title": {
            "text": "LLM Observability experiments: aggregate metrics",
            "subtitle": f"one bar per experiment, newest at the top: the {len(order)} most recent with metrics",
        },
        "data": {"values": values},
        "hconcat": panels,
        "resolve": {"scale": {"y": "shared"}},
    }


def _experiments_table(con: duckdb.DuckDBPyConnection) -> str:
    """The charted experiments with their project, dataset version, status and metric values."""
    pairs = _experiment_pairs(con)
    experiments: dict[str, dict[Any, Any]] = {}
    for row in _records(con, "llmobs_recent_experiments", limit=MAX_EXPERIMENTS):
        shown = experiments.setdefault(row["experiment_id"], {
            "experiment": row["experiment_name"], "project": row["project_name"], "dataset": row["dataset"],
            "status": row["status"], "runs": row["run_count"],
            "duration (h)": None if row["duration_s"] is None else round(row["duration_s"] / 3600, 1),
            "created (UTC)": row["created_utc"],
        })  # fmt: skip
        shown[(row["metric_key"], row["statistic"])] = row["value"]
    columns = ["experiment", "project", "dataset", "status", "runs", "duration (h)", "created (UTC)"]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [*columns, *(f"{k} {s}" for k, s in pairs)])
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(shown.get(c))}</td>" for c in [*columns, *pairs]) + "</tr>"
        for shown in experiments.values()
    )
    return f'<table id="table-llmobs-experiments"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}"
    return html.escape(str(value))


def _topic_discovery(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    values = _records(con, "topic_discovery_runs")
    latest_query: dict[str, str] = {}
    for row in values:
        latest_query[row["config_id"]] = row["evp_query"] or ""
    for row in values:
        query = latest_query[row["config_id"]]
        row["configuration"] = f"{_short(row['config_id'])} {query}".strip()
        row["change"] = "configuration changed" if row["is_config_changed"] else "same configuration"
    return {
        "title": "Topic-discovery runs per configuration over time",
        "width": CHART_WIDTH - 300,
        "data": {"values": values},
        "height": {"step": 36},
        "mark": {"type": "point", "size": 120, "filled": True, "opacity": 0.85},
        "encoding": {
            "x": {
                "field": "created",
                "type": "temporal",
                "scale": {"type": "utc", "padding": 12},
                "title": "run created (UTC)",
                "axis": {"format": "%b %d", "labelAngle": 0},
            },
            "y": {
                "field": "configuration",
                "type": "nominal",
                "title": "configuration",
                "axis": {"labelLimit": 320},
            },
            "color": {
                "field": "status",
                "type": "nominal",
                "title": "run status",
                "scale": _status_scale({v["status"] for v in values}),
            },
            "shape": {
                "field": "change",
                "type": "nominal",
                "title": "vs. previous run",
                "scale": {"domain": ["same configuration", "configuration changed"], "range": ["circle", "diamond"]},
            },
        },
    }


CHARTS: tuple[Chart, ...] = (
    Chart(
        "chart-langsmith-tokens",
        "tokens per day and project",
        LANGSMITH,
        ("langsmith_daily_usage",),
        _langsmith_per_day(
            "langsmith_tokens_per_day",
            {"title": "tokens per day (LLM calls)", "axis": {"format": "~s"}},
            "LangSmith tokens per day and project",
        ),
        "Tokens of LLM runs only: a parent run carries its subtree's sums.",
    ),
    Chart(
        "chart-langsmith-cost",
        "cost per day and project",
        LANGSMITH,
        ("langsmith_daily_usage",),
        _langsmith_per_day(
            "langsmith_cost_per_day",
            {"title": "cost (USD per day)", "axis": {"format": "$,.2f"}},
            "LangSmith cost per day and project",
        ),
        "Cost LangSmith computed for LLM runs, in US dollars.",
    ),
    Chart(
        "chart-langsmith-error-rate",
        "error rate per day and project",
        LANGSMITH,
        ("langsmith_error_breakdown",),
        _langsmith_error_rate,
        "Runs that ended in error divided by runs that finished (success or error) that day, all run types.",
    ),
    Chart(
        "chart-langsmith-latency",
        "p50/p95 latency per model",
        LANGSMITH,
        ("langsmith_daily_usage",),
        _langsmith_latency,
        "Each bar is the median, over the days and projects a model ran in, of that day's p50 or p95 run "
        "latency (the view's grain is day × project × model). Runs that call no model are left out.",
    ),
    Chart(
        "chart-model-lab-status",
        "runs by status over time",
        MODEL_LAB,
        ("model_lab_run_summary",),
        _model_lab_status,
        "Runs counted on the day they were created, coloured by their status now; deleted runs are left out.",
    ),
    Chart(
        "chart-model-lab-leaderboard",
        "metric leaderboard",
        MODEL_LAB,
        ("model_lab_metric_leaderboard",),
        _model_lab_leaderboard,
        "Ranks are within each project, as the view computes them (ties share a rank).",
    ),
    Chart(
        "chart-llmobs-experiments",
        "experiments with their aggregate metrics",
        LLM_OBS,
        ("llmobs_experiment_metrics", "llmobs_experiment_overview"),
        _experiments,
        "Aggregate metrics as the experiment reported them; units are guessed from the metric names.",
        _experiments_table,
    ),
    Chart(
        "chart-topic-discovery",
        "topic-discovery runs per configuration over time",
        TOPIC_DISCOVERY,
        ("topic_discovery_history",),
        _topic_discovery,
        "One mark per run; configurations are labelled by id prefix and their latest query, and a diamond "
        "marks a run whose configuration differs from the run before.",
    ),
)


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0; background: #f4f5f7; color: #1f2328; }
header { background: #1f2a44; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #c9d1e0; font-size: 13px; }
header code { background: #2f3d5c; color: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 32px 48px; }
section h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
figure { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 16px; padding: 14px 16px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #555; margin-top: 8px; }
figure.no-data { color: #8a5a00; background: #fff8e6; border-color: #f0d28a; }
figure.no-data h3 { margin: 0 0 6px; font-size: 15px; color: #1f2328; }
code { font-family: Menlo, Consolas, monospace; font-size: 12px; background: #eef1f4; padding: 1px 4px; }
table { border-collapse: collapse; font-size: 12px; margin-top: 12px; width: 100%; }
th, td { border-bottom: 1px solid #e5e8eb; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; }
ul.summary { font-size: 13px; margin: 8px 0 0; padding-left: 18px; }
"""

# Nothing may be fetched: no scripts, no stylesheets or fonts, no images (the SVG is inline).
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"


def _inline_svg(svg: str) -> str:
    """Inline SVG needs no namespace declarations; dropping them leaves no URL in the page."""
    return svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1).replace(
        ' xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1
    )


def _source_line(chart: Chart) -> str:
    views = ", ".join(f"<code>analytics.{v}</code>" for v in chart.views)
    return f"Source: {views}. {html.escape(chart.caption)}"


def _figure(chart: Chart, svg: str, table: str) -> str:
    return (
        f'<figure id="{chart.id}" class="chart" data-views="{" ".join(chart.views)}">{_inline_svg(svg)}'
        f"{table}<figcaption>{_source_line(chart)}</figcaption></figure>"
    )


def _no_data_figure(chart: Chart, reason: str) -> str:
    return (
        f'<figure id="{chart.id}" class="no-data" data-views="{" ".join(chart.views)}">'
        f"<h3>{html.escape(chart.source)}: {html.escape(chart.title)}</h3>"
        f"<p>No data: {html.escape(chart.source)} has not been synced into this file "
        f"({html.escape(reason)}).</p><figcaption>{_source_line(chart)}</figcaption></figure>"
    )


def _page(db_path: Path, sections: dict[str, list[str]], summary: ReportSummary) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    status = "".join(
        f"<li>{html.escape(c.source)}: {html.escape(c.title)}: {'drawn' if c.id in summary.drawn else 'no data'}</li>"
        for c in CHARTS
    )
    body = "".join(
        f'<section id="section-{re.sub(r"[^a-z]+", "-", source.lower()).strip("-")}">'
        f"<h2>{html.escape(source)}</h2>{''.join(figures)}</section>"
        for source, figures in sections.items()
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>runyard report: {html.escape(db_path.name)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>runyard report</h1><p>{html.escape(str(db_path))}, generated {generated}. "
        "Every chart is drawn from a view in the <code>analytics</code> schema of that file.</p></header>"
        f'<main><ul class="summary">{status}</ul>{body}</main></body></html>\n'
    )
