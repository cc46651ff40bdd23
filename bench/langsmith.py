"""Benchmark: a full sync of N LangSmith runs (default 200k, default selects) from the sandbox into a new
DuckDB file, and what concurrent windows buy when every request takes 100 ms longer.

    uv run python -m bench.langsmith [--runs 200000] [--repeat 3] [--concurrency 4]

The sandbox runs in its own process, and every measured case runs in a fresh subprocess so its
peak RSS is its own (``bench.harness``). Cases:

- ``runyard``: ``runyard sync langsmith`` as a user runs it, configured through the environment:
  24-hour windows, ``--concurrency`` of them fetched at once.
- ``fetch+parse``: one cursor walk over the same span and selects with httpx and orjson,
  nothing built or written; the floor any loader pays for the HTTP and JSON part.
- ``one walk``: runyard reading everything in one sequential cursor walk (a single window,
  concurrency 1). Measured only with 100 ms of latency injected into every query, against
  ``runyard`` under the same latency.

Printed: runs/s, MB/s of JSON, peak RSS and requests per case (medians of ``--repeat`` runs),
runyard's runs/s against the floor's, and the wall-time ratio of one walk to concurrent windows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from bench.harness import case_main, control, median, peak_rss_mb, print_table, run_case, runyard_sync, sandbox_process
from sources.langsmith.runs import normalize_selects
from sources.langsmith.settings import DEFAULT_CONCURRENCY, DEFAULT_SELECTS, PAGE_SIZE, QUERY_RUNS_PATH

LATENCY_S = 0.1
WIDE_CONCURRENCY = 2 * DEFAULT_CONCURRENCY
ONE_WALK_HOURS = 24 * 365 * 100  # a window longer than any backfill: the whole span is one cursor walk


def case_runyard(url: str) -> dict[str, Any]:
    # SOURCES__LANGSMITH__CONCURRENCY comes from the parent's environment (--concurrency).
    figures = runyard_sync(url, ["langsmith"])
    return figures | {"runs": figures["rows_by_table"]["langsmith.runs"]}


def case_runyard_wide(url: str) -> dict[str, Any]:
    """Twice the default windows at once: what a user on a slow link would set."""
    figures = runyard_sync(url, ["langsmith"], SOURCES__LANGSMITH__CONCURRENCY=str(WIDE_CONCURRENCY))
    return figures | {"runs": figures["rows_by_table"]["langsmith.runs"]}


def case_runyard_publish(url: str) -> dict[str, Any]:
    figures = runyard_sync(url, ["langsmith"], publish=True)
    return figures | {"runs": figures["rows_by_table"]["langsmith.runs"]}


def case_one_walk(url: str) -> dict[str, Any]:
    figures = runyard_sync(
        url, ["langsmith"], SOURCES__LANGSMITH__CONCURRENCY="1", SOURCES__LANGSMITH__WINDOW_HOURS=str(ONE_WALK_HOURS)
    )
    return figures | {"runs": figures["rows_by_table"]["langsmith.runs"]}


def query_body(env: dict[str, str]) -> dict[str, Any]:
    """runyard's first query as one walk: the sandbox's initial start to now, default selects, ascending."""
    return {
        "project_ids": env["SOURCES__LANGSMITH__PROJECT_IDS"].split(","),
        "selects": list(normalize_selects(DEFAULT_SELECTS)),
        "min_start_time": env["SOURCES__LANGSMITH__INITIAL_START"],
        "max_start_time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "sort_order": "ASC",
        "page_size": PAGE_SIZE,
    }


def pages(url: str, env: dict[str, str]) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """One sequential cursor walk with httpx: each page's body and its orjson parse (the cursor needs it)."""
    body = query_body(env)
    with httpx.Client(base_url=url, headers={"x-api-key": env["LANGSMITH_API_KEY"]}, timeout=60) as client:
        while True:
            content = client.post(QUERY_RUNS_PATH, json=body).raise_for_status().content
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


CASES = {
    "runyard": case_runyard,
    "runyard+publish": case_runyard_publish,
    "runyard wide": case_runyard_wide,
    "fetch+parse": case_fetch_parse,
    "one walk": case_one_walk,
}


def main() -> None:
    if case_main(CASES, sys.argv):
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args()
    os.environ["SOURCES__LANGSMITH__CONCURRENCY"] = str(args.concurrency)  # inherited by the case subprocesses

    def measure(*cases: str) -> dict[str, list[dict[str, Any]]]:
        return {case: [run_case("langsmith", case, url) for _ in range(args.repeat)] for case in cases}

    with sandbox_process("--langsmith-runs", str(args.runs), "--model-lab-runs", "10") as url:
        plain = measure("runyard", "fetch+parse")
        published = measure("runyard+publish")["runyard+publish"]
        control(url, "POST", "faults", {"kind": "latency", "seconds": LATENCY_S, "endpoint": "langsmith.query_runs",
                                        "count": None})  # fmt: skip
        slow = measure("runyard", "one walk")
    print_table(
        f"LangSmith full sync, {args.runs:,} runs (default selects) from the sandbox on loopback "
        f"(median of {args.repeat})",
        plain, "runs", "runs",
    )  # fmt: skip
    ratio = (median(plain["runyard"], "runs") / median(plain["runyard"], "seconds")) / (
        median(plain["fetch+parse"], "runs") / median(plain["fetch+parse"], "seconds")
    )
    print(f"\nrunyard runs/s / fetch+parse runs/s = {ratio:.2f}")
    print(
        f"publishing the reader copy after the sync (--publish): {median(published, 'publish_seconds'):.2f} s "
        f"for {median(published, 'publish_mb'):.0f} MB ({median(published, 'seconds'):.1f} s for sync + publish)"
    )
    print_table(
        f"The same sync with {LATENCY_S * 1000:.0f} ms added to every query: runyard with {args.concurrency} "
        "windows at once vs one sequential cursor walk",
        slow, "runs", "runs",
    )  # fmt: skip
    walk, windows = median(slow["one walk"], "seconds"), median(slow["runyard"], "seconds")
    print(f"\none walk / {args.concurrency} concurrent windows (wall time) = {walk / windows:.2f}")


if __name__ == "__main__":
    main()
