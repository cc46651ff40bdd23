"""``runyard demo``: the built-in sandbox, a full sync into a fresh DuckDB file, one sample analysis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import warehouse
from pipelines.config import DatadogSettings, LangSmithSettings
from pipelines.sync import ProgressFactory, Settings, SyncResult, sync
from sandbox import Sandbox
from sources.datadog.settings import DEFAULT_SITE
from sources.errors import SyncError

SAMPLE_TITLE = "lowest latest `loss` per project (top 3 runs), from analytics.model_lab_metric_leaderboard"
SAMPLE_SQL = """
select project_id, rank_lowest_first as rank, run_id, run_name, run_status, round(latest_value, 4) as loss
from analytics.model_lab_metric_leaderboard
where metric_key = 'loss' and rank_lowest_first <= 3
order by project_id, rank, run_id
"""


@dataclass
class DemoOutcome:
    results: list[SyncResult]
    published: warehouse.Published
    sandbox_url: str
    requests: int
    sample_title: str
    sample_columns: list[str]
    sample_rows: list[tuple[Any, ...]]


def run_demo(
    db_path: Path,
    *,
    model_lab_runs: int = 2000,
    langsmith_runs: int = 5000,
    progress: ProgressFactory | None = None,
) -> DemoOutcome:
    """Sync the sandbox into ``db_path`` (new, or an earlier demo's file) and publish a reader copy next to it."""
    published_path = db_path.with_name(f"{db_path.stem}-bi{db_path.suffix}")
    for path in (db_path, published_path):
        _clear_previous_demo(path)
    with Sandbox(model_lab_runs=model_lab_runs, langsmith_runs=langsmith_runs) as box:
        results = sync(db_path, settings=sandbox_settings(box), progress=progress)
        served = sum(box.requests().values())
        url = box.url
    with warehouse.connect(db_path, read_only=False) as con:
        warehouse.mark_demo_database(con)
        columns, rows = warehouse.query(con, SAMPLE_SQL)
        published = warehouse.publish(con, published_path)
    return DemoOutcome(results, published, url, served, SAMPLE_TITLE, columns, rows)


def sandbox_settings(box: Sandbox) -> Settings:
    """Settings for every source, pointed at a running sandbox (independent of the user's config)."""
    return Settings(
        datadog=DatadogSettings(
            api_key=box.config.datadog_api_key,
            app_key=box.config.datadog_app_key,
            site=DEFAULT_SITE,
            base_url=box.url,
            llm_obs_page_limit=500,
            llm_obs_include_user_data=True,
            topic_discovery_config_ids=tuple(box.patterns.config_ids()),
        ),
        langsmith=LangSmithSettings(
            api_key=box.config.langsmith_api_key,
            base_url=box.url,
            project_ids=tuple(box.langsmith.project_ids()),
            initial_start=box.langsmith.earliest_start(),
        ),
    )


def _clear_previous_demo(db_path: Path) -> None:
    if not db_path.exists():
        return
    with warehouse.connect(db_path, read_only=True) as con:
        is_demo = warehouse.is_demo_database(con) or not warehouse.has_any_table(con)
    if not is_demo:
        raise SyncError(
            "demo",
            f"{db_path} already holds data the demo did not create",
            "The demo starts from a fresh file and never overwrites a real warehouse: pass --db demo.duckdb "
            "(or another new path).",
        )
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        path.unlink(missing_ok=True)
