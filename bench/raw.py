"""The raw limit: fetch the pages and bulk-insert their JSON into DuckDB, nothing else.

One sequential walk with httpx and orjson (the walk needs the parse for its cursor or next page
number); each page's items made an Arrow table with ``pa.Table.from_pylist`` as it arrives, and
all of them one ``CREATE TABLE AS`` into DuckDB at the end. No merge, no state, no child tables:
nested lists and objects stay DuckDB LISTs and STRUCTs. For Model Lab the table holds the
``data`` objects as they come (``id``, ``type`` and an ``attributes`` STRUCT holding the lists), so
``rows`` counts runs only. Its own module, importing only what it uses (not dlt), because its
whole-process time is one of the figures.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow

from bench import langsmith, model_lab
from bench.harness import case_main, control, peak_rss_mb


def raw_load(url: str, pages: Callable[..., Iterator[tuple[bytes, dict[str, Any]]]], items: str, table: str) -> dict:
    """Each page's ``items`` made an Arrow table as it arrives; all of them one ``CREATE TABLE AS`` at the end.

    The fastest of three ways tried (loading only, pages already in memory, median of 3, 200k
    LangSmith / 50k Model Lab runs): ``pa.Table.from_pylist`` on the walk's orjson parse 3.0 s /
    2.1 s; ``pyarrow.json.read_json`` on each body, items list-flattened, 3.3 s / 2.6 s; the bodies
    written as lines of an NDJSON file and one DuckDB ``read_json`` unnesting them, 6.1 s / 4.1 s.
    """
    env = control(url, "GET", "env")
    requests = nbytes = 0
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for content, page in pages(url, env):
            requests += 1
            nbytes += len(content)
            if page[items]:
                tables.append(pyarrow.Table.from_pylist(page[items]))
        # Pages infer their own types: a column all null on one page, or an object with other keys,
        # is unified here (null becomes the other pages' type, structs get the union of fields).
        arrow_runs = pyarrow.concat_tables(tables, promote_options="permissive")  # noqa: F841 (DuckDB reads it by name)
        with duckdb.connect(str(Path(tmp) / "raw.duckdb")) as con:
            con.execute("CREATE TABLE runs AS SELECT * FROM arrow_runs")
            elapsed = time.perf_counter() - started
            [(runs,)] = con.execute("SELECT count(*) FROM runs").fetchall()
    return {"seconds": elapsed, "runs": runs, "rows": runs, "rows_by_table": {table: runs}, "bytes": nbytes,
            "requests": requests, "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def case_raw_langsmith(url: str) -> dict[str, Any]:
    """``raw/langsmith``: one table of the runs as the API sends them."""
    return raw_load(url, langsmith.pages, "items", langsmith.RUNS_TABLE)


def case_raw_model_lab(url: str) -> dict[str, Any]:
    """``raw/model_lab``: one table of the ``data`` objects as they come; rows = runs."""
    return raw_load(url, model_lab.pages, "data", model_lab.RUNS_TABLE)


CASES: dict[str, Callable[[str], dict[str, Any]]] = {"langsmith": case_raw_langsmith, "model_lab": case_raw_model_lab}


if __name__ == "__main__":
    case_main(CASES, sys.argv)
