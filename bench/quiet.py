"""What users meet between the big syncs: a sync with nothing new, and the read-only commands.

Everything here is a whole process, timed from spawn to exit (``bench.harness.run_runyard``):
``runyard sync <source>`` on a warehouse a first sync filled (not timed), ``runyard status`` and
``runyard sql "select 1"`` on it, beside the floor every such process pays (the interpreter
importing what it needs, and nothing else).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from bench.harness import run_process, run_runyard

SOURCES = ("model_lab", "llm_obs", "langsmith")
UNFINISHED = ("pending", "running", "paused", "unresponsive")
# What any `runyard sync` imports before it can do anything, and what a read-only command needs.
SYNC_FLOOR = "import dlt, pyarrow, duckdb"
READ_FLOOR = "import duckdb"


def floor(statement: str, repeat: int) -> list[dict[str, Any]]:
    """A bare interpreter running ``statement``, spawn to exit."""
    return [run_process([sys.executable, "-c", statement]) for _ in range(repeat)]


def nothing_new(url: str, repeat: int, sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    """Per source: ``repeat`` timed syncs with nothing new (after one untimed first sync and one warm-up),
    then ``status`` and ``sql`` on the same file. Returns the runs per label and the unfinished runs."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "quiet.duckdb"
        run_runyard(url, "sync", *sources, db=db)  # the first sync: not timed
        results: dict[str, Any] = {}
        for source in sources:
            run_runyard(url, "sync", source, db=db)  # reads the lag window once more, then nothing
            results[source] = [run_runyard(url, "sync", source, db=db) for _ in range(repeat)]
        results["status"] = [run_runyard(url, "status", db=db) for _ in range(repeat)]
        results["sql"] = [run_runyard(url, "sql", "select 1", db=db) for _ in range(repeat)]
        with duckdb.connect(str(db), read_only=True) as con:
            [(results["unfinished"],)] = (
                con.execute(
                    f"select count(*) from datadog.model_lab_runs where status in {UNFINISHED} and deleted_at is null"
                ).fetchall()
                if "model_lab" in sources
                else [(0,)]
            )
    return results
