"""Benchmark cases for LangSmith runs, run by ``python -m bench`` (each in a fresh subprocess).

- ``runyard``: ``runyard sync langsmith`` as a user runs it, configured through the environment
  (24-hour windows, the default number fetched at once); ``runyard narrow``: half that many.
- ``one walk``: runyard reading everything in one sequential cursor walk (a single window,
  concurrency 1): the baseline of the latency case.
- ``fetch+parse``: one cursor walk over the same span and selects with httpx and orjson,
  nothing built or written; the floor any loader pays for the HTTP and JSON part.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx
import orjson

from bench.harness import ROOT, case_main, control, peak_rss_mb, runyard_sync


def _settings() -> ModuleType:
    """sources/langsmith/settings.py loaded by its path. Imported as ``sources.langsmith.settings`` it
    would bring the package and with it dlt (~0.5 s), which the floor and the raw limit do not
    use: their whole-process times would count it."""
    spec = importlib.util.spec_from_file_location("langsmith_settings", ROOT / "sources" / "langsmith" / "settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETTINGS = _settings()
DEFAULT_CONCURRENCY: int = SETTINGS.DEFAULT_CONCURRENCY
LATENCY_S = 0.1
NARROW_CONCURRENCY = DEFAULT_CONCURRENCY // 2
ONE_WALK_HOURS = 24 * 365 * 100  # a window longer than any backfill: the whole span is one cursor walk
RUNS_TABLE = "langsmith.runs"


def _runyard(url: str, **env: str) -> dict[str, Any]:
    figures = runyard_sync(url, ["langsmith"], **env)
    return figures | {"runs": figures["rows_by_table"][RUNS_TABLE]}


CASE_ENV = {
    "runyard": {},
    "runyard narrow": {"SOURCES__LANGSMITH__CONCURRENCY": str(NARROW_CONCURRENCY)},
    "one walk": {"SOURCES__LANGSMITH__CONCURRENCY": "1", "SOURCES__LANGSMITH__WINDOW_HOURS": str(ONE_WALK_HOURS)},
}


def query_body(env: dict[str, str]) -> dict[str, Any]:
    """runyard's first query as one walk: the sandbox's initial start to now, default selects, ascending."""
    return {
        "project_ids": env["SOURCES__LANGSMITH__PROJECT_IDS"].split(","),
        "selects": list(SETTINGS.DEFAULT_SELECTS),  # ID, START_TIME, END_TIME, STATUS among them
        "min_start_time": env["SOURCES__LANGSMITH__INITIAL_START"],
        "max_start_time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "sort_order": "ASC",
        "page_size": SETTINGS.PAGE_SIZE,
    }


def pages(url: str, env: dict[str, str]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """One sequential cursor walk with httpx: each page's body and its orjson parse (the cursor needs it)."""
    body = query_body(env)
    with httpx.Client(base_url=url, headers={"x-api-key": env["LANGSMITH_API_KEY"]}, timeout=60) as client:
        while True:
            content = client.post(SETTINGS.QUERY_RUNS_PATH, json=body).raise_for_status().content
            page = orjson.loads(content)
            yield content, page
            if not page.get("next_cursor"):
                return
            body["cursor"] = page["next_cursor"]


def case_fetch_parse(url: str) -> dict[str, Any]:
    env = control(url, "GET", "env")
    started = time.perf_counter()
    runs = nbytes = requests = 0
    for content, page in pages(url, env):
        requests += 1
        nbytes += len(content)
        runs += len(page["items"])
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "runs": runs, "rows": runs, "bytes": nbytes, "requests": requests,
            "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def _case(env: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    return lambda url: _runyard(url, **env)


CASES = {
    **{name: _case(env) for name, env in CASE_ENV.items()},
    "fetch+parse": case_fetch_parse,
}


if __name__ == "__main__":
    case_main(CASES, sys.argv)
