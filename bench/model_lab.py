"""Benchmark: a full sync of N Model Lab runs (default 50k) from the sandbox into a new DuckDB file.

    uv run python -m bench.model_lab [--runs 50000] [--repeat 3]

The sandbox runs in its own process (as the real API would be another machine), and every
measured case runs in a fresh subprocess so its peak RSS is its own. Cases:

- ``runyard``: ``pipelines.sync.sync`` exactly as ``runyard sync model_lab`` runs it.
- ``fetch+parse``: the same list pages fetched with httpx and parsed with orjson, nothing
  built or written; the floor any loader pays for the HTTP and JSON part.

Printed: runs/s, rows/s across the four tables, MB/s of JSON, peak RSS, requests, and the ratio
of runyard's rows/s to the floor's. Each figure is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](args.url)))
        return
    with sandbox_process(args.runs) as url:
        results = {case: [run_case(case, url) for _ in range(args.repeat)] for case in CASES}
    report(args.runs, args.repeat, results)


class sandbox_process:  # a context manager, named like one
    def __init__(self, runs: int) -> None:
        self.runs = runs

    def __enter__(self) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "sandbox", "--port", str(port), "--model-lab-runs", str(self.runs),
             "--langsmith-runs", "100"],
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/_sandbox/health", timeout=1).raise_for_status()
                return url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the sandbox did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_case(case: str, url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.model_lab", "--case", case, "--url", url],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def case_runyard(url: str) -> dict:
    from pipelines.sync import sync

    # Configured exactly as a user would point runyard at an API: through the environment.
    os.environ.update(httpx.get(f"{url}/_sandbox/env").json())
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DLT_DATA_DIR"] = tmp
        started = time.perf_counter()
        [result] = sync(Path(tmp) / "bench.duckdb", ["model_lab"])
        elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "runs": result.rows_loaded["datadog.model_lab_runs"],
        "rows": result.total_rows,
        "bytes": result.bytes_received,
        "requests": sum(result.requests.values()),
        "peak_rss_mb": peak_rss_mb(),
    }


def case_fetch_parse(url: str) -> dict:
    import orjson

    env = httpx.get(f"{url}/_sandbox/env").json()
    headers = {"DD-API-KEY": env["DD_API_KEY"], "DD-APPLICATION-KEY": env["DD_APP_KEY"]}
    started = time.perf_counter()
    runs = rows = nbytes = requests = 0
    number = None
    with httpx.Client(base_url=url, headers=headers) as client:
        while True:
            params: dict = {"sort": "created_at", "page[size]": 100}
            if number is not None:
                params["page[number]"] = number
            response = client.get("/api/v2/model-lab-api/runs", params=params)
            body = orjson.loads(response.content)
            requests += 1
            nbytes += len(response.content)
            for run in body["data"]:
                a = run["attributes"]
                runs += 1
                rows += 1 + len(a["metric_summaries"]) + len(a["params"] or ()) + len(a["tags"])
            number = body["meta"]["page"]["next_number"]
            if number is None:
                break
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "runs": runs, "rows": rows, "bytes": nbytes, "requests": requests,
            "peak_rss_mb": peak_rss_mb()}  # fmt: skip


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CASES = {"runyard": case_runyard, "fetch+parse": case_fetch_parse}


def report(n: int, repeat: int, results: dict[str, list[dict]]) -> None:
    def median(case: str, key: str) -> float:
        return statistics.median(r[key] for r in results[case])

    print(f"\nModel Lab full sync, {n:,} runs from the sandbox on loopback (median of {repeat})\n")
    print(f"{'case':<12} {'seconds':>8} {'runs/s':>9} {'rows/s':>10} {'MB/s':>7} {'peak RSS':>9} {'requests':>9}")
    for case in results:
        seconds = median(case, "seconds")
        runs_s, rows_s = median(case, "runs") / seconds, median(case, "rows") / seconds
        print(
            f"{case:<12} {seconds:>8.1f} {runs_s:>9,.0f} {rows_s:>10,.0f} "
            f"{median(case, 'bytes') / seconds / 1e6:>7.1f} {median(case, 'peak_rss_mb'):>7.0f}MB "
            f"{median(case, 'requests'):>9,.0f}"
        )
    ratio = (median("runyard", "rows") / median("runyard", "seconds")) / (
        median("fetch+parse", "rows") / median("fetch+parse", "seconds")
    )
    print(f"\nrunyard rows/s / fetch+parse rows/s = {ratio:.2f}")
    print(f"rows = runs + metric summaries + params + tags ({median('runyard', 'rows'):,.0f} per sync)")


if __name__ == "__main__":
    main()
