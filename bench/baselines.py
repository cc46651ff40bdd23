"""Benchmark baselines: the same endpoints loaded with dlt's generic ``rest_api`` source (the raw
limit of fetching the pages and bulk-inserting their JSON into DuckDB is bench/raw.py).

Run by ``python -m bench`` (bench/__main__.py), which compares them with runyard on the same data.

How much faster and leaner is runyard than wiring the same endpoints up with dlt's ``rest_api``
source, and how close is it to the limit of parsing JSON and writing DuckDB? Every case reads the
same data as runyard's own sync (LangSmith: runyard's default selects, its page size, one cursor
walk from the sandbox's initial start to now; Model Lab: every run, ``sort=created_at``, 100 a
page) from a sandbox in its own process into a new DuckDB file, in a fresh subprocess so its peak
RSS is its own (``bench.harness``). Cases:

- ``rest_api/langsmith``: ``rest_api_source`` configured as dlt's docs show: POST to the query
  endpoint with a JSON body, the ``cursor`` paginator putting ``next_cursor`` into the body,
  ``data_selector: items``, the key in an ``api_key`` auth header, primary key ``id``, merge.
  Dicts in, dlt's default normalisation (nested lists become child tables). ``rows`` counts the
  runs table; ``rows_by_table`` also lists the child tables.
- ``rest_api+parquet/langsmith``: the same, run with ``loader_file_format="parquet"``.
- ``rest_api/model_lab``, ``rest_api+parquet/model_lab``: the runs list with the ``page_number``
  paginator, ``data_selector: data``, both keys as headers, primary key ``id``, merge. dlt flattens
  ``attributes`` and makes child tables of ``metric_summaries``, ``params`` and ``tags``: the same
  four tables runyard loads, so ``rows`` counts all of them.

Every case returns ``seconds``, ``runs``, ``rows``, ``rows_by_table``, ``bytes`` (JSON bodies
received), ``requests`` and ``peak_rss_mb``. The page walks and request bodies are
``bench.langsmith``'s and ``bench.model_lab``'s (their fetch+parse floors use them too).

Memory: ``rest_api`` loads DuckDB with dlt's default ``insert_values`` files, run as INSERT
statements of up to 16 MB each, several tables' jobs at once (dlt's 20 load workers), and DuckDB
takes GBs for each: peak RSS 4.3 GB at 20k LangSmith runs, 9.5 GB at 200k; at 50k Model Lab runs
(four tables) it passed 14 GB, 6.8 GB with ``LOAD__WORKERS=1``. Check ``free -g`` first.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import dlt
from dlt.sources.rest_api import RESTAPIConfig, rest_api_source

from bench import langsmith, model_lab
from bench.harness import case_main, control, peak_rss_mb

# -- dlt rest_api ---------------------------------------------------------------------------------


class Received:
    """A ``response_actions`` hook that counts the responses and the bytes of their bodies."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.requests += 1
        self.bytes += len(response.content)
        return response


def langsmith_config(url: str, env: dict[str, str], received: Received) -> dict[str, Any]:
    """LangSmith runs as a ``rest_api`` config: runyard's query body, the cursor put back into the body."""
    return {
        "client": {
            "base_url": url,
            "auth": {"type": "api_key", "name": "x-api-key", "api_key": env["LANGSMITH_API_KEY"], "location": "header"},
        },
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "runs",
                "endpoint": {
                    "path": langsmith.SETTINGS.QUERY_RUNS_PATH,
                    "method": "POST",
                    "json": langsmith.query_body(env),
                    "paginator": {"type": "cursor", "cursor_path": "next_cursor", "cursor_body_path": "cursor"},
                    "data_selector": "items",
                    "response_actions": [received],
                },
            }
        ],
    }


def model_lab_config(url: str, env: dict[str, str], received: Received) -> dict[str, Any]:
    """Model Lab runs as a ``rest_api`` config: every list page, oldest first, page numbers from 0."""
    return {
        "client": {"base_url": url, "headers": model_lab.headers(env)},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "model_lab_runs",
                "endpoint": {
                    "path": model_lab.RUNS_PATH,
                    "params": dict(model_lab.PARAMS),
                    # The API gives no page count: meta.page.total counts runs, and last_number
                    # is the last page's 0-based index, which as total_path stops one page early
                    # (the paginator stops once the next number >= total + base_page) and
                    # silently drops the last page. So the walk stops at the first empty page,
                    # the paginator's default: one request more than the pages.
                    "paginator": {
                        "type": "page_number",
                        "page_param": "page[number]",
                        "base_page": 0,
                        "total_path": None,
                    },
                    "data_selector": "data",
                    "response_actions": [received],
                },
            }
        ],
    }


def rest_api_load(
    url: str,
    dataset: str,
    runs_table: str,
    config: Callable[[str, dict[str, str], Received], dict[str, Any]],
    **run_options: Any,
) -> dict[str, Any]:
    """Load with ``rest_api_source(config)`` into a new DuckDB file; figures for every table."""
    env = control(url, "GET", "env")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    received = Received()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        pipeline = dlt.pipeline(
            pipeline_name=f"baseline_{dataset}",
            destination=dlt.destinations.duckdb(str(Path(tmp) / "baseline.duckdb")),
            dataset_name=dataset,
            pipelines_dir=tmp,
        )
        pipeline.run(rest_api_source(cast(RESTAPIConfig, config(url, env, received))), **run_options)
        elapsed = time.perf_counter() - started
        with pipeline.sql_client() as client:
            found = client.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'",
                dataset,
            )
            rows = {
                f"{dataset}.{t}": (client.execute_sql(f'SELECT count(*) FROM "{t}"') or [[0]])[0][0]
                for t in sorted(str(row[0]) for row in found or [])
            }
    return {
        "seconds": elapsed,
        "runs": rows[runs_table],
        "rows_by_table": rows,
        "bytes": received.bytes,
        "requests": received.requests,
        "peak_rss_mb": peak_rss_mb(),
    }


def case_rest_api_langsmith(url: str, **run_options: Any) -> dict[str, Any]:
    """``rest_api/langsmith`` (``+parquet`` with ``loader_file_format="parquet"``): rows = the runs table."""
    figures = rest_api_load(url, "langsmith", langsmith.RUNS_TABLE, langsmith_config, **run_options)
    return figures | {"rows": figures["runs"]}  # the runs table; child tables in rows_by_table


def case_rest_api_model_lab(url: str, **run_options: Any) -> dict[str, Any]:
    """``rest_api/model_lab`` (``+parquet`` likewise): rows = the runs table and its three child tables."""
    figures = rest_api_load(url, "datadog", model_lab.RUNS_TABLE, model_lab_config, **run_options)
    return figures | {"rows": sum(figures["rows_by_table"].values())}


CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    "rest_api/langsmith": case_rest_api_langsmith,
    "rest_api+parquet/langsmith": lambda url: case_rest_api_langsmith(url, loader_file_format="parquet"),
    "rest_api/model_lab": case_rest_api_model_lab,
    "rest_api+parquet/model_lab": lambda url: case_rest_api_model_lab(url, loader_file_format="parquet"),
}


if __name__ == "__main__":
    case_main(CASES, sys.argv)
