"""Benchmark baselines: the same endpoints loaded with dlt's generic ``rest_api`` source, and the raw
limit of fetching the pages and bulk-inserting their JSON into DuckDB.

    uv run python -m bench.baselines [--langsmith-runs 200000] [--model-lab-runs 50000] [--repeat 1]

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
- ``raw/langsmith``, ``raw/model_lab``: the limit. One sequential walk with httpx and orjson (the
  walk needs the parse for its cursor or next page number); each page's items made an Arrow
  table with ``pa.Table.from_pylist`` as it arrives, and all of them one ``CREATE TABLE AS``
  into DuckDB at the end. No merge, no state, no child tables: nested lists and objects stay
  DuckDB LISTs and STRUCTs. For Model Lab the table holds the ``data`` objects as they come
  (``id``, ``type`` and an ``attributes`` STRUCT holding the lists), so ``rows`` counts runs only.

Every case returns ``seconds``, ``runs``, ``rows``, ``rows_by_table``, ``bytes`` (JSON bodies
received), ``requests`` and ``peak_rss_mb``. With ``--runyard`` (the default) runyard's own
``runyard`` and ``fetch+parse`` cases from ``bench.langsmith`` and ``bench.model_lab`` run against
the same sandbox, so the tables compare all of them.

Memory: ``rest_api`` loads DuckDB with dlt's default ``insert_values`` files, run as INSERT
statements of up to 16 MB each, several tables' jobs at once (dlt's 20 load workers), and DuckDB
takes GBs for each: peak RSS 4.3 GB at 20k LangSmith runs, 9.5 GB at 200k; at 50k Model Lab runs
(four tables) it passed 14 GB, 6.8 GB with ``LOAD__WORKERS=1``. Check ``free -g`` first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx
import orjson
import pyarrow
from dlt.sources.rest_api import rest_api_source

from bench.harness import case_main, control, median, peak_rss_mb, print_table, run_case, sandbox_process
from sources.datadog.settings import MODEL_LAB_PAGE_SIZE, MODEL_LAB_RUNS_PATH
from sources.langsmith.runs import normalize_selects
from sources.langsmith.settings import DEFAULT_SELECTS, PAGE_SIZE, QUERY_RUNS_PATH

LANGSMITH_RUNS = "langsmith.runs"
MODEL_LAB_RUNS = "datadog.model_lab_runs"


# -- the request bodies and parameters runyard's own sync sends ---------------------------------


def langsmith_query(env: dict[str, str]) -> dict[str, Any]:
    """The body of the first query: one walk from the sandbox's initial start to now, ascending."""
    return {
        "project_ids": env["SOURCES__LANGSMITH__PROJECT_IDS"].split(","),
        "selects": list(normalize_selects(DEFAULT_SELECTS)),
        "min_start_time": env["SOURCES__LANGSMITH__INITIAL_START"],
        "max_start_time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "sort_order": "ASC",
        "page_size": PAGE_SIZE,
    }


def model_lab_params() -> dict[str, Any]:
    return {"sort": "created_at", "page[size]": MODEL_LAB_PAGE_SIZE}


def model_lab_headers(env: dict[str, str]) -> dict[str, str]:
    return {"DD-API-KEY": env["DD_API_KEY"], "DD-APPLICATION-KEY": env["DD_APP_KEY"]}


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
                    "path": QUERY_RUNS_PATH,
                    "method": "POST",
                    "json": langsmith_query(env),
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
        "client": {"base_url": url, "headers": model_lab_headers(env)},
        "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
        "resources": [
            {
                "name": "model_lab_runs",
                "endpoint": {
                    "path": MODEL_LAB_RUNS_PATH,
                    "params": model_lab_params(),
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
        pipeline.run(rest_api_source(config(url, env, received)), **run_options)
        elapsed = time.perf_counter() - started
        with pipeline.sql_client() as client:
            tables = [
                name
                for (name,) in client.execute_sql(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                    "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'",
                    dataset,
                )
            ]
            rows = {f"{dataset}.{t}": client.execute_sql(f'SELECT count(*) FROM "{t}"')[0][0] for t in sorted(tables)}
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
    figures = rest_api_load(url, "langsmith", LANGSMITH_RUNS, langsmith_config, **run_options)
    return figures | {"rows": figures["runs"]}  # the runs table; child tables in rows_by_table


def case_rest_api_model_lab(url: str, **run_options: Any) -> dict[str, Any]:
    """``rest_api/model_lab`` (``+parquet`` likewise): rows = the runs table and its three child tables."""
    figures = rest_api_load(url, "datadog", MODEL_LAB_RUNS, model_lab_config, **run_options)
    return figures | {"rows": sum(figures["rows_by_table"].values())}


# -- the raw limit --------------------------------------------------------------------------------


def langsmith_pages(url: str, env: dict[str, str]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """One sequential cursor walk: each page's body and its parse (needed for the cursor anyway)."""
    body = langsmith_query(env)
    with httpx.Client(base_url=url, headers={"x-api-key": env["LANGSMITH_API_KEY"]}, timeout=60) as client:
        while True:
            content = client.post(QUERY_RUNS_PATH, json=body).raise_for_status().content
            page = orjson.loads(content)
            yield content, page
            if not page.get("next_cursor"):
                return
            body["cursor"] = page["next_cursor"]


def model_lab_pages(url: str, env: dict[str, str]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """One walk over the list pages in order: each page's body and its parse."""
    with httpx.Client(base_url=url, headers=model_lab_headers(env), timeout=60) as client:
        number: int | None = 0
        while number is not None:
            params = {**model_lab_params(), "page[number]": number}
            content = client.get(MODEL_LAB_RUNS_PATH, params=params).raise_for_status().content
            page = orjson.loads(content)
            yield content, page
            number = page["meta"]["page"]["next_number"]


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
            runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "runs": runs, "rows": runs, "rows_by_table": {table: runs}, "bytes": nbytes,
            "requests": requests, "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def case_raw_langsmith(url: str) -> dict[str, Any]:
    """``raw/langsmith``: one table of the runs as the API sends them."""
    return raw_load(url, langsmith_pages, "items", LANGSMITH_RUNS)


def case_raw_model_lab(url: str) -> dict[str, Any]:
    """``raw/model_lab``: one table of the ``data`` objects as they come; rows = runs."""
    return raw_load(url, model_lab_pages, "data", MODEL_LAB_RUNS)


CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    "rest_api/langsmith": case_rest_api_langsmith,
    "rest_api+parquet/langsmith": lambda url: case_rest_api_langsmith(url, loader_file_format="parquet"),
    "raw/langsmith": case_raw_langsmith,
    "rest_api/model_lab": case_rest_api_model_lab,
    "rest_api+parquet/model_lab": lambda url: case_rest_api_model_lab(url, loader_file_format="parquet"),
    "raw/model_lab": case_raw_model_lab,
}


def main() -> None:
    if case_main(CASES, sys.argv):
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--langsmith-runs", type=int, default=200_000)
    parser.add_argument("--model-lab-runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--runyard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run runyard's own cases (runyard, fetch+parse) against the same sandbox",
    )
    args = parser.parse_args()
    sizes = {"langsmith": args.langsmith_runs, "model_lab": args.model_lab_runs}

    def measure(url: str, api: str) -> dict[str, list[dict[str, Any]]]:
        """This API's cases by short name (the table's first column is 16 wide): ours, then runyard's."""
        cases = [("baselines", name) for name in CASES if name.endswith(f"/{api}")]
        cases += [(api, name) for name in ("runyard", "fetch+parse")] if args.runyard else []
        results = {}
        for module, name in cases:
            try:
                results[name.split("/")[0]] = [run_case(module, name, url) for _ in range(args.repeat)]
            except RuntimeError as e:  # e.g. killed for memory: report the others
                print(f"warning: {name} failed and is left out: {str(e)[-500:]}", file=sys.stderr)
        runs = {case: median(figures, "runs") for case, figures in results.items()}
        if len(set(runs.values())) > 1:
            print(f"warning: the {api} cases read different numbers of runs: {runs}", file=sys.stderr)
        return results

    options = ("--langsmith-runs", str(sizes["langsmith"]), "--model-lab-runs", str(sizes["model_lab"]))
    with sandbox_process(*options) as url:
        results = {api: measure(url, api) for api in sizes}
    for api, title in (("langsmith", "LangSmith"), ("model_lab", "Model Lab")):
        print_table(
            f"{title}, {sizes[api]:,} runs from the sandbox on loopback into a new DuckDB file "
            f"(median of {args.repeat})",
            results[api], "runs", "runs",
        )  # fmt: skip
        for case, figures in results[api].items():
            if tables := figures[0].get("rows_by_table"):
                print(f"  {case}: " + ", ".join(f"{table} {count:,}" for table, count in tables.items()))
        if "runyard" in results[api]:
            ours = results[api]["runyard"]
            for case, figures in results[api].items():
                if case != "runyard":
                    speed = (median(ours, "runs") / median(ours, "seconds")) / (
                        median(figures, "runs") / median(figures, "seconds")
                    )
                    rss = median(ours, "peak_rss_mb") / median(figures, "peak_rss_mb")
                    print(f"  runyard / {case}: {speed:.2f}x the runs/s, {rss:.2f}x the peak RSS")


if __name__ == "__main__":
    main()
