"""How the views fail: a view whose source has not synced waits (and `runyard status` says so); a
view file the database refuses fails the sync loudly, naming the file, while the tables keep their
new data and the view keeps its previous definition.

The broken file is a real edit in a copy of the tree, run with the real CLI from that copy."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.sync import sync
from pipelines.views import reads, view_files
from sandbox import Sandbox
from tests.conftest import REPO, rows, run_cli
from tests.test_cli import sandbox_env
from tests.test_langsmith_sync import VIEW_SELECTS, langsmith_settings

BROKEN = "sql/marts/model_lab_run_summary.sql"


def copied_tree(tmp_path: Path) -> Path:
    copy = tmp_path / "runyard-copy"
    for part in ("pipelines", "sources", "sql"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def definition(db: Path, view: str) -> str:
    schema, name = view.split(".")
    [(sql,)] = rows(db, "select sql from duckdb_views() where schema_name = ? and view_name = ?", [schema, name])
    return str(sql)


def test_views_of_a_source_not_synced_wait_and_status_lists_them(sandbox: Sandbox, tmp_path: Path) -> None:
    synced = run_cli("sync", "model_lab", "--db", "w.duckdb", env=sandbox_env(sandbox))
    assert synced.code == 0, synced.stderr
    listed = "select schema_name, view_name from duckdb_views() where schema_name in ('staging', 'analytics')"
    made = {f"{s}.{v}" for s, v in rows(tmp_path / "w.duckdb", listed)}
    assert {"staging.model_lab_runs", "analytics.model_lab_run_summary"} <= made
    assert not {"staging.langsmith_runs", "analytics.llm_calls", "analytics.platform_daily_activity"} & made

    status = run_cli("status", "--db", "w.duckdb")
    assert status.code == 0, status.stderr
    assert "views not made at the last sync" in status.stdout
    for line in ("staging.langsmith_runs", "waiting for langsmith.runs: its source has not been synced yet",
                 "analytics.llm_calls", "waiting for staging.langsmith_runs"):  # fmt: skip
        assert line in status.stdout, line
    assert "analytics.model_lab_run_summary" not in status.stdout


def test_a_view_file_the_database_refuses_fails_the_sync_and_keeps_the_old_view(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tree, db = copied_tree(tmp_path), tmp_path / "w.duckdb"
    env = sandbox_env(sandbox)
    assert run_cli("sync", "model_lab", "--db", str(db), env=env, cwd=tree).code == 0
    before = definition(db, "analytics.model_lab_run_summary")
    [(runs_before,)] = rows(db, "select count(*) from datadog.model_lab_runs")

    path = tree / BROKEN
    good = path.read_text()
    path.write_text(good.replace("runs.run_name,", "runs.run_nmae,"))
    sandbox.advance(model_lab={"new": 5})
    failed = run_cli("sync", "model_lab", "--db", str(db), env=env, cwd=tree)

    assert failed.code == 1
    message = " ".join(failed.stderr.split())
    assert BROKEN in message and "run_nmae" in message, failed.stderr
    assert "analytics.model_lab_run_summary" in message and "Traceback" not in failed.stderr
    assert rows(db, "select count(*) from datadog.model_lab_runs") == [(runs_before + 5,)]  # the data landed
    assert definition(db, "analytics.model_lab_run_summary") == before  # the old definition stays
    assert rows(db, "select count(*) from analytics.model_lab_run_summary") == [(runs_before + 5,)]
    status = run_cli("status", "--db", str(db), cwd=tree)
    assert "analytics.model_lab_run_summary" in status.stdout and "failed" in status.stdout

    path.write_text(good)  # mended: the next sync makes it again, though no data changed
    mended = run_cli("sync", "model_lab", "--db", str(db), env=env, cwd=tree)
    assert mended.code == 0, mended.stderr
    assert "analytics.model_lab_run_summary" not in run_cli("status", "--db", str(db), cwd=tree).stdout


def test_a_view_built_on_a_refused_view_is_left_as_it_was(sandbox: Sandbox, tmp_path: Path) -> None:
    tree, db = copied_tree(tmp_path), tmp_path / "w.duckdb"
    env = sandbox_env(sandbox)
    assert run_cli("sync", "model_lab", "--db", str(db), env=env, cwd=tree).code == 0
    leaderboard = definition(db, "analytics.model_lab_metric_leaderboard")
    long_form = tree / "sql/marts/model_lab_metrics_long.sql"
    long_form.write_text(long_form.read_text().replace("metrics.latest_value,", "metrics.latest_valu,"))
    leaderboard_file = tree / "sql/marts/model_lab_metric_leaderboard.sql"
    leaderboard_file.write_text(leaderboard_file.read_text() + "\n-- edited: would be rebuilt if it could be\n")

    failed = run_cli("sync", "model_lab", "--db", str(db), env=env, cwd=tree)
    assert failed.code == 1 and "sql/marts/model_lab_metrics_long.sql" in " ".join(failed.stderr.split())
    assert definition(db, "analytics.model_lab_metric_leaderboard") == leaderboard
    status = " ".join(run_cli("status", "--db", str(db), cwd=tree).stdout.split())
    assert "not rebuilt: it reads analytics.model_lab_metrics_long" in status


def test_a_view_needing_a_langsmith_column_not_selected_waits_and_names_the_select(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    selects = tuple(s for s in VIEW_SELECTS if s != "PROMPT_TOKEN_DETAILS")
    with Sandbox(model_lab_runs=10, langsmith_runs=200) as box:
        sync(db, ["langsmith"], settings=langsmith_settings(box, selects=selects))  # no error: the view waits
    [(state, detail)] = rows(
        db, "select state, detail from _runyard.view_state where view_name = 'staging.langsmith_runs'"
    )
    assert (state, detail) == (
        "waiting",
        "langsmith.runs has no prompt_token_details: add PROMPT_TOKEN_DETAILS to SOURCES__LANGSMITH__SELECTS",
    )
    assert "staging.langsmith_runs" in run_cli("status", "--db", str(db)).stdout


def test_the_view_selects_are_the_columns_the_staging_view_reads() -> None:
    [view] = [v for v in view_files() if v.qualified == "staging.langsmith_runs"]
    assert {s.lower() for s in VIEW_SELECTS} == reads(view.path.read_text()).columns | {"id"}
