"""Benchmark: a full sync of N Model Lab runs (default 50k) from the sandbox into a new DuckDB file.

    uv run python -m bench.model_lab [--runs 50000] [--repeat 3]

The sandbox runs in its own process (as the real API would be another machine), and every
measured case runs in a fresh subprocess so its peak RSS is its own. Cases:

- ``runyard``: ``runyard sync model_lab`` as a user runs it (configured through the environment).
- ``fetch+parse``: the same list pages fetched with httpx and parsed with orjson, nothing
  built or written; the floor any loader pays for the HTTP and JSON part.

Printed: runs/s, rows/s across the four tables, MB/s of JSON, peak RSS, requests, and the ratio
of runyard's rows/s to the floor's. Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from bench.harness import (
    case_main,
    control,
    median,
    peak_rss_mb,
    print_table,
    run_case,
    runyard_sync,
    sandbox_process,
)


def case_runyard(url: str) -> dict[str, Any]:
    figures = runyard_sync(url, ["model_lab"])
    return figures | {"runs": figures["rows_by_table"]["datadog.model_lab_runs"]}


# Literals, not sources.datadog.settings: importing it would add ~70 MB to the floor's peak RSS.
RUNS_PATH = "/api/v2/model-lab-api/runs"
PARAMS = {"sort": "created_at", "page[size]": 100}


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


def main() -> None:
    if case_main(CASES, sys.argv):
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with sandbox_process("--model-lab-runs", str(args.runs), "--langsmith-runs", "100") as url:
        results = {case: [run_case("model_lab", case, url) for _ in range(args.repeat)]
                   for case in ("runyard", "fetch+parse")}  # fmt: skip
    print_table(f"Model Lab full sync, {args.runs:,} runs from the sandbox on loopback (median of {args.repeat})",
                results, "runs", "runs")  # fmt: skip
    ratio = (median(results["runyard"], "rows") / median(results["runyard"], "seconds")) / (
        median(results["fetch+parse"], "rows") / median(results["fetch+parse"], "seconds")
    )
    print(f"\nrunyard rows/s / fetch+parse rows/s = {ratio:.2f}")
    print(f"rows = runs + metric summaries + params + tags ({median(results['runyard'], 'rows'):,.0f} per sync)")


if __name__ == "__main__":
    main()
