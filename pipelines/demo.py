"""``runyard demo``: the built-in sandbox, a full sync into a fresh DuckDB file, one sample analysis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import warehouse
from pipelines.config import DatadogSettings, LangSmithSettings
from pipelines.destinations import DUCKDB, DuckDBSession, DuckDBWarehouse, Warehouse, is_demo, mark_demo, open_warehouse
from pipelines.report import ReportSummary, write_report
from pipelines.sync import ProgressFactory, Settings, SyncResult, sync
from pipelines.views import transpile
from sandbox import Sandbox
from sources.datadog.settings import DEFAULT_SITE
from sources.errors import SyncError

SAMPLE_TITLE = "lowest latest `loss` per project (top 3 runs), from analytics.model_lab_metric_leaderboard"
SAMPLE_SQL = """
select project_id, rank_lowest_first as rank, run_id, run_name, run_status, round(latest_value * 10000) / 10000 as loss
from analytics.model_lab_metric_leaderboard
where metric_key = 'loss' and rank_lowest_first <= 3
order by project_id, rank, run_id
"""


# Everything a demo writes, so a later demo can clear it (and nothing else).
DEMO_SCHEMAS = ("datadog", "datadog_staging", "langsmith", "langsmith_staging", "analytics", warehouse.RUNYARD_SCHEMA)


@dataclass
class DemoOutcome:
    results: list[SyncResult]
    published: warehouse.Published | None
    report: ReportSummary | None  # the HTML report (DuckDB warehouses)
    sandbox_url: str
    requests: int
    sample_title: str
    sample_columns: list[str]
    sample_rows: list[tuple[Any, ...]]


def run_demo(
    db_path: Path,
    *,
    destination: str = DUCKDB,
    model_lab_runs: int = 2000,
    langsmith_runs: int = 5000,
    progress: ProgressFactory | None = None,
) -> DemoOutcome:
    """Sync the sandbox into the warehouse, which must be new or hold an earlier demo.

    For a DuckDB file (``db_path``) a reader copy is published next to it, and an HTML report
    (``report.html``) is written from its views.
    """
    target = open_warehouse(destination, db_path)
    published_path = db_path.with_name(f"{db_path.stem}-bi{db_path.suffix}") if destination == DUCKDB else None
    if isinstance(target, DuckDBWarehouse):
        for path in (db_path, published_path):
            if path is not None:
                _clear_previous_demo_file(path)
    else:
        _clear_previous_demo_schemas(target)
    # strict: the sandbox validates like the published API references, as an independent server would
    with Sandbox(model_lab_runs=model_lab_runs, langsmith_runs=langsmith_runs, strict=True) as box:
        results = sync(db_path, settings=sandbox_settings(box), progress=progress, destination=destination)
        served = sum(box.requests().values())
        url = box.url
    published = None
    with target.writing(wait_s=30) as session:
        mark_demo(session)
        columns, rows = session.query(transpile(SAMPLE_SQL, session.dialect))
        if published_path and isinstance(session, DuckDBSession):
            published = warehouse.publish(session.con, published_path)
    report = write_report(db_path, db_path.with_name("report.html")) if published else None
    return DemoOutcome(results, published, report, url, served, SAMPLE_TITLE, columns, rows)


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


def _clear_previous_demo_file(db_path: Path) -> None:
    if not db_path.exists():
        return
    target = DuckDBWarehouse(db_path)
    with target.reading() as session:
        assert isinstance(session, DuckDBSession)
        replaceable = is_demo(session) or not warehouse.has_any_table(session.con)
    if not replaceable:
        raise SyncError(
            "demo",
            f"{db_path} already holds data the demo did not create",
            "The demo starts from a fresh file and never overwrites a real warehouse: pass --db demo.duckdb "
            "(or another new path).",
        )
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        path.unlink(missing_ok=True)


def _clear_previous_demo_schemas(target: Warehouse) -> None:
    with target.writing(wait_s=30) as session:
        _, rows = session.query("select schema_name from information_schema.schemata")
        present = {name for (name,) in rows} & set(DEMO_SCHEMAS)
        if not present:
            return
        if not is_demo(session):
            raise SyncError(
                "demo",
                f"the {target.describe()} already holds runyard data the demo did not create",
                "The demo never overwrites a real warehouse: point DESTINATION__POSTGRES__CREDENTIALS at an empty "
                "database for it.",
            )
        for schema in sorted(present):
            session.execute(f'drop schema if exists "{schema}" cascade')
