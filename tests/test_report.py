"""``runyard report``: a self-contained page, every chart drawn from its view, and what a browser shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from pipelines.demo import sandbox_settings
from pipelines.report import CHARTS, ReportSummary, leaderboard_metric, write_report
from pipelines.sync import sync
from sandbox import Sandbox
from tests.conftest import run_cli

CHART_IDS = [chart.id for chart in CHARTS]
# the flags that work on these machines (no sandbox as root, no background calls to Google)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def full_report(everything_db: Path) -> tuple[Path, ReportSummary]:
    out = everything_db.with_name("report.html")
    return out, write_report(everything_db, out)


@dataclass
class Rendered:
    dom: str
    screenshot: Image.Image
    page_requests: list[str]


def chromium(url: str, work: Path, name: str, *args: str) -> str:
    """Run headless Chromium (Debian's package) on ``url`` with a fresh profile; returns its stdout."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(binary).exists(), "Chromium is missing: apt-get install -y chromium (.ci/run installs it)"
    command = [binary, *CHROMIUM_FLAGS, "--window-size=1400,6000", f"--user-data-dir={work / name}", *args, url]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout


def page_requests(html: Path, work: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built for the page, and the URLs the page asked for while loading."""
    net_log = work / "net-log.json"
    dom = chromium(html.resolve().as_uri(), work, "profile-dom", "--dump-dom", f"--log-net-log={net_log}")
    return dom, _page_requests(net_log)


def render(html: Path, work: Path) -> Rendered:
    """Open the page in Chromium: its DOM, a screenshot and what the page fetched."""
    dom, requests = page_requests(html, work)
    chromium(html.resolve().as_uri(), work, "profile-shot", f"--screenshot={work / 'screenshot.png'}")
    return Rendered(dom, Image.open(work / "screenshot.png").convert("RGB"), requests)


def _page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for. Chromium's own calls home carry no origin; a page's requests carry one."""
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and "url" in event.get("params", {})
        and event["params"].get("initiator") != "not an origin"
    ]


def figure(html: str, chart_id: str) -> str:
    match = re.search(rf'<figure id="{chart_id}"[^>]*>.*?</figure>', html, re.S)
    assert match, f"{chart_id} is missing"
    return match.group(0)


def ink_fraction(image: Image.Image) -> float:
    """Share of pixels darker than the page's light background: text, axes, marks."""
    gray = image.convert("L")
    dark = sum(gray.histogram()[:200])
    return dark / (image.width * image.height)


def test_every_chart_is_drawn_and_names_its_view(full_report: tuple[Path, ReportSummary]) -> None:
    path, summary = full_report
    html = path.read_text()
    assert summary.drawn == CHART_IDS and summary.skipped == {}
    for chart in CHARTS:
        fig = figure(html, chart.id)
        assert "<svg" in fig and 'class="chart"' in fig, chart.id
        assert "No data" not in fig
        for view in chart.views:
            assert f"<code>analytics.{view}</code>" in fig
    assert html.count("<svg") == len(CHARTS)
    assert len(re.findall(r"<tr><td>", figure(html, "chart-llmobs-experiments"))) > 5  # the experiments table


def test_charts_have_titles_and_axis_titles_with_units(full_report: tuple[Path, ReportSummary]) -> None:
    html = full_report[0].read_text()
    expected = {
        "chart-langsmith-tokens": ["LangSmith tokens per day and project", "day (UTC)", "tokens per day"],
        "chart-langsmith-cost": ["LangSmith cost per day and project", "cost (USD per day)"],
        "chart-langsmith-error-rate": ["error rate per day and project", "error rate (% of finished runs)"],
        "chart-langsmith-latency": ["p50 and p95", "run latency (seconds)"],
        "chart-model-lab-status": ["Model Lab runs by status", "runs (count)", "day created (UTC)"],
        "chart-model-lab-leaderboard": ["leaderboard: latest loss", "lowest first", "latest loss (units as logged)"],
        "chart-llmobs-experiments": ["aggregate metrics", "accuracy mean (fraction)", "latency_ms mean (ms)"],
        "chart-topic-discovery": ["Topic-discovery runs per configuration", "run created (UTC)"],
    }
    for chart_id, texts in expected.items():
        svg_text = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", figure(html, chart_id)))
        for text in texts:
            assert text in svg_text, (chart_id, text)


def test_report_fetches_nothing(full_report: tuple[Path, ReportSummary]) -> None:
    html = full_report[0].read_text()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<script|<link|<img|<iframe|<object|<embed|@import|@font-face", html, re.I)
    assert not re.search(r"\s(src|href|srcset)=", html)
    assert not re.search(r"url\((?!#)", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # several inline SVGs must not clash on ids


def test_report_renders_in_headless_chromium(full_report: tuple[Path, ReportSummary], tmp_path: Path) -> None:
    rendered = render(full_report[0], tmp_path)

    for chart_id in CHART_IDS:
        assert "<svg" in figure(rendered.dom, chart_id)
    assert rendered.page_requests == []
    assert ink_fraction(rendered.screenshot) > 0.04
    colors = {color for _, color in rendered.screenshot.getcolors(maxcolors=1 << 20)}
    for mark in ("#2e7d32", "#0d47a1", "#c62828"):  # completed / p95 bars / failed: SVG marks were painted
        assert tuple(int(mark[i : i + 2], 16) for i in (1, 3, 5)) in colors, mark


def test_the_request_check_catches_a_page_that_fetches(tmp_path: Path) -> None:
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><p>x</p><img src="http://127.0.0.1:9/logo.png">')
    assert page_requests(page, tmp_path)[1] == ["http://127.0.0.1:9/logo.png"]


def test_sources_never_synced_say_no_data(tmp_path: Path) -> None:
    db = tmp_path / "langsmith-only.duckdb"
    with Sandbox(langsmith_runs=200, model_lab_runs=10, llm_obs_projects=1, llm_obs_records_per_dataset=5) as box:
        sync(db, ["langsmith"], settings=sandbox_settings(box))

    summary = write_report(db, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()

    langsmith = [c.id for c in CHARTS if c.id.startswith("chart-langsmith")]
    assert summary.drawn == langsmith
    assert set(summary.skipped) == set(CHART_IDS) - set(langsmith)
    for chart in CHARTS:
        fig = figure(html, chart.id)
        if chart.id in langsmith:
            continue
        assert "<svg" not in fig
        assert f"No data: {chart.source} has not been synced into this file" in fig
        assert f"analytics.{chart.views[0]} does not exist" in fig


def test_empty_views_and_empty_files_say_no_data(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    assert write_report(db, tmp_path / "a.html").skipped.keys() == set(CHART_IDS)

    con = duckdb.connect(str(db))
    con.execute("create schema analytics")
    con.execute(
        "create view analytics.model_lab_run_summary as "
        "select 'completed' as status, current_date as created_date, false as is_deleted where false"
    )
    con.close()
    summary = write_report(db, tmp_path / "b.html")
    assert summary.skipped["chart-model-lab-status"] == "it has no rows"
    assert (
        "No data: Datadog Model Lab has not been synced into this file (it has no rows)"
        in (tmp_path / "b.html").read_text()
    )


def test_names_from_the_data_cannot_break_the_page(tmp_path: Path) -> None:
    db = tmp_path / "hostile.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema analytics")
    con.execute(
        "create view analytics.llmobs_experiment_overview as select 'e1' as experiment_id, "
        "'<script>alert(1)</script>' as experiment_name, 'p' as project_name, 'd' as dataset_name, "
        "1 as dataset_version, 'completed' as status, 2 as run_count, 3600.0 as duration_s, "
        "now() as created_at, false as is_deleted"
    )
    con.execute(
        "create view analytics.llmobs_experiment_metrics as select 'e1' as experiment_id, "
        "'<script>alert(1)</script>' as experiment_name, 'it''s \"score\"' as metric_key, 'mean' as statistic, "
        "0.5 as value"
    )
    con.close()

    summary = write_report(db, tmp_path / "r.html")

    html = (tmp_path / "r.html").read_text()
    assert "chart-llmobs-experiments" in summary.drawn
    assert "<script" not in html
    fig = figure(html, "chart-llmobs-experiments")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fig and "<svg" in fig
    assert "<td>0.5</td>" in fig  # the metric with quotes in its name reached the table
    assert "it&#x27;s &quot;score&quot; mean" in fig or "it&#39;s &quot;score&quot; mean" in fig


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["epoch", "epoch", "epoch", "accuracy", "accuracy", "loss"], ("accuracy", False)),
        (["epoch", "eval/loss"], ("eval/loss", True)),
        (["epoch", "epoch", "grad_norm"], ("epoch", False)),
    ],
)
def test_leaderboard_metric_and_direction(tmp_path: Path, keys: list[str], expected: tuple[str, bool]) -> None:
    con = duckdb.connect(str(tmp_path / "l.duckdb"))
    con.execute("create schema analytics")
    values = ", ".join(f"('{k}')" for k in keys)
    con.execute(f"create view analytics.model_lab_metric_leaderboard as select * from (values {values}) t(metric_key)")
    assert leaderboard_metric(con) == expected
    con.close()


def test_report_command(everything_db: Path, tmp_path: Path) -> None:
    result = run_cli("report", "--db", str(everything_db), "--out", str(tmp_path / "out" / "r.html"))

    assert result.code == 0, result.stderr
    assert (tmp_path / "out" / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert "r.html" in result.stdout
    assert result.stdout.count("drawn") == len(CHARTS)

    missing = run_cli("report", "--db", str(tmp_path / "nope.duckdb"))
    assert missing.code != 0 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
