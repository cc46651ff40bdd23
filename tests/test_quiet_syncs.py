"""What a sync with nothing new costs, and what the read-only commands load: real syncs into real files.

A sync that finds nothing new must load nothing and leave the warehouse as it was (no load
package, no state row, no re-created views, no rewritten published copy), while still recording
that it ran; and ``runyard status`` / ``runyard sql`` answer without importing dlt.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.demo import sandbox_settings
from pipelines.sync import sync
from sandbox import Sandbox
from tests.conftest import rows, run_cli

LOADS = "select (select count(*) from datadog._dlt_loads) + (select count(*) from langsmith._dlt_loads)"


@pytest.fixture
def box() -> Sandbox:
    with Sandbox(model_lab_runs=600, langsmith_runs=1500, llm_obs_projects=1, llm_obs_records_per_dataset=10,
                 strict=True) as sandbox:  # fmt: skip
        yield sandbox


def test_a_sync_with_nothing_new_loads_nothing_and_still_records_that_it_ran(box: Sandbox, db_path: Path) -> None:
    settings = sandbox_settings(box)
    sync(db_path, settings=settings)
    sync(db_path, settings=settings)  # reads the lag windows once more; what it read again is now digested
    loads = rows(db_path, LOADS)
    ran_before = dict(rows(db_path, "select key, value from _runyard.meta where key like 'synced:%'"))
    views_before = rows(db_path, "select view_name, sql from duckdb_views() where schema_name = 'analytics' order by 1")

    results = sync(db_path, settings=settings)

    assert [(r.source, r.loaded, r.total_rows) for r in results] == [
        ("model_lab", False, 0), ("llm_obs", False, 0), ("langsmith", False, 0)
    ]  # fmt: skip
    assert results[0].requests["model_lab.list_runs"] >= 1  # it did ask: the unfinished runs came back unchanged
    assert rows(db_path, LOADS) == loads  # no load package, no new state row
    ran_after = dict(rows(db_path, "select key, value from _runyard.meta where key like 'synced:%'"))
    assert ran_after.keys() == ran_before.keys() and all(ran_after[k] > ran_before[k] for k in ran_after)
    assert rows(db_path, "select view_name, sql from duckdb_views() where schema_name = 'analytics' order by 1") == (
        views_before
    )

    since = box.clock.now_us() - 14 * 86400 * 1_000_000  # followed: unfinished, updated in the last two weeks
    followed = [r.id for r in box.model_lab.runs.values() if r.status == "running" and r.updated_us >= since]
    changed = box.advance(model_lab={"log_metrics": followed[:3]}, langsmith={"late_feedback": 4})
    after_change = {r.source: r for r in sync(db_path, settings=settings)}
    assert after_change["model_lab"].loaded and after_change["langsmith"].loaded
    assert not after_change["llm_obs"].loaded
    assert after_change["model_lab"].rows_loaded["datadog.model_lab_runs"] == len(changed["model_lab"]["log_metrics"])
    assert after_change["langsmith"].rows_loaded["langsmith.runs"] == len(changed["langsmith"]["late_feedback"])


def test_a_view_dropped_by_hand_comes_back_with_the_next_sync(box: Sandbox, db_path: Path) -> None:
    settings = sandbox_settings(box)
    sync(db_path, ["model_lab"], settings=settings)
    import duckdb

    with duckdb.connect(str(db_path)) as con:
        con.execute("drop view analytics.model_lab_run_summary")

    sync(db_path, ["model_lab"], settings=settings)

    assert rows(db_path, "select count(*) from analytics.model_lab_run_summary") == [(600,)]


def test_an_unchanged_warehouse_is_not_published_again(box: Sandbox, db_path: Path, tmp_path: Path) -> None:
    settings, copy = sandbox_settings(box), tmp_path / "bi.duckdb"
    sync(db_path, ["model_lab"], settings=settings, publish=copy)
    sync(db_path, ["model_lab"], settings=settings, publish=copy)
    written = copy.stat().st_mtime_ns

    [quiet] = sync(db_path, ["model_lab"], settings=settings, publish=copy)

    assert quiet.published is None and copy.stat().st_mtime_ns == written
    box.advance(model_lab={"new": 2})
    [changed] = sync(db_path, ["model_lab"], settings=settings, publish=copy)
    assert changed.published is not None and copy.stat().st_mtime_ns > written
    assert rows(copy, "select count(*) from datadog.model_lab_runs") == [(602,)]
    copy.unlink()  # a copy that went missing is written again, whatever changed
    [again] = sync(db_path, ["model_lab"], settings=settings, publish=copy)
    assert again.published is not None and copy.exists()


@pytest.mark.parametrize("command", [("status",), ("sql", "select count(*) from langsmith.runs")])
def test_the_read_only_commands_import_neither_dlt_nor_the_sources(
    box: Sandbox, db_path: Path, command: tuple[str, ...]
) -> None:
    sync(db_path, ["langsmith"], settings=sandbox_settings(box))
    probe = (  # the command's own code (app, not main: main ends the process before the check)
        "import sys\n"
        f"sys.argv = ['runyard', *{list(command)!r}, '--db', {str(db_path)!r}]\n"
        "from pipelines.cli import app\n"
        "try:\n    app()\nexcept SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dlt', 'sources', 'sqlglot', 'pydantic')"
        " and m != 'sources.errors' and m != 'sources'), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert run_cli(*command, "--db", str(db_path)).code == 0
