"""Benchmark cases for Model Lab runs, run by ``python -m bench`` (each in a fresh subprocess).

- ``runyard``: ``runyard sync model_lab`` as a user runs it (configured through the environment).
- ``runyard+llm_obs``: Model Lab and LLM Observability in one sync (the rate-limit case).
- ``fetch+parse``: the same list pages fetched with httpx and parsed with orjson, nothing
  built or written; the floor any loader pays for the HTTP and JSON part.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from bench.harness import case_main, control, peak_rss_mb, runyard_sync

RUNS_TABLE = "datadog.model_lab_runs"
# Literals, not sources.datadog.settings: importing it would add ~70 MB to the floor's peak RSS.
RUNS_PATH = "/api/v2/model-lab-api/runs"
PARAMS: dict[str, Any] = {"sort": "created_at", "page[size]": 100}


def case_runyard(url: str) -> dict[str, Any]:
    figures = runyard_sync(url, ["model_lab"])
    return figures | {"runs": figures["rows_by_table"][RUNS_TABLE]}


def headers(env: dict[str, str]) -> dict[str, str]:
    return {"DD-API-KEY": env["DD_API_KEY"], "DD-APPLICATION-KEY": env["DD_APP_KEY"]}


def pages(url: str, env: dict[str, str]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """One walk over the list pages in order (numbers from 0): each page's body and its orjson parse."""
    with httpx.Client(base_url=url, headers=headers(env), timeout=60) as client:
        number: int | None = 0
        while number is not None:
            content = client.get(RUNS_PATH, params={**PARAMS, "page[number]": number}).raise_for_status().content
            page = orjson.loads(content)
            yield content, page
            number = page["meta"]["page"]["next_number"]


def case_fetch_parse(url: str) -> dict[str, Any]:
    env = control(url, "GET", "env")
    started = time.perf_counter()
    runs = rows = nbytes = requests = 0
    for content, page in pages(url, env):
        requests += 1
        nbytes += len(content)
        for run in page["data"]:
            a = run["attributes"]
            runs += 1
            rows += 1 + len(a["metric_summaries"]) + len(a["params"] or ()) + len(a["tags"])
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "runs": runs, "rows": rows, "bytes": nbytes, "requests": requests,
            "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def case_runyard_datadog(url: str) -> dict[str, Any]:
    """Model Lab and LLM Observability in one sync: one org, one set of rate-limit buckets."""
    return runyard_sync(url, ["model_lab", "llm_obs"])


CASES = {"runyard": case_runyard, "fetch+parse": case_fetch_parse, "runyard+llm_obs": case_runyard_datadog}


if __name__ == "__main__":
    case_main(CASES, sys.argv)
