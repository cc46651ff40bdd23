"""Every performance figure and target in one run:

    uv run python -m bench [--repeat 3] [--langsmith-runs 200000] [--model-lab-runs 50000]

Against the sandbox on loopback (its own process, data frozen and pre-rendered so that serving a
page costs little), each case in a fresh subprocess (``bench.harness``), medians of ``--repeat``:

1. LangSmith runs: runyard vs dlt's generic ``rest_api_source`` (defaults, and parquet-tuned) vs
   the raw limit (httpx + DuckDB bulk insert, no merge, no state) vs fetch + parse alone.
2. Model Lab runs with metrics, params and tags: the same comparison.
3. How time and peak RSS grow with N (LangSmith), and a sync of ``--million`` runs for RSS.
4. A sync with nothing new, start-up included (``runyard sync`` in a fresh interpreter).
5. 100 ms of latency per LangSmith query: concurrent windows vs one sequential walk.
6. Datadog under a tight rate limit: requests never exceed what ``X-RateLimit-*`` allows.

Prints a table per part and, at the end, each target with its measured value.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from bench.harness import cache_bytecode, control, median, print_table, run_case, sandbox_process
from bench.langsmith import LATENCY_S, NARROW_CONCURRENCY
from sources.langsmith.runs import IDS_PER_REQUEST
from sources.langsmith.settings import DEFAULT_CONCURRENCY

Results = dict[str, list[dict[str, Any]]]


def rate(runs: list[dict[str, Any]], key: str = "rows") -> float:
    return median(runs, key) / median(runs, "seconds")


class Targets:
    """Targets with their measured values, printed together at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, bool]] = []

    def check(self, name: str, value: float, ok: Callable[[float], bool], fmt: str = "{:.2f}") -> None:
        self.rows.append((name, fmt.format(value), ok(value)))

    def print(self) -> None:
        print("\nTargets\n")
        print(f"{'target':<72} {'measured':>10}  result")
        for name, value, ok in self.rows:
            print(f"{name:<72} {value:>10}  {'met' if ok else 'MISSED'}")


def compare(url: str, repeat: int, cases: dict[str, tuple[str, str]]) -> Results:
    """``cases``: label -> (bench module, case name); each run ``repeat`` times, interleaved."""
    results: Results = {label: [] for label in cases}
    for _ in range(repeat):
        for label, (case_module, case) in cases.items():
            results[label].append(run_case(case_module, case, url))
    return results


def against_baselines(api: str) -> dict[str, tuple[str, str]]:
    """runyard's sync of one API, the generic loads, the raw limit and the fetch+parse floor."""
    return {
        "runyard": (api, "runyard"),
        "rest_api": ("baselines", f"rest_api/{api}"),
        "rest_api+parquet": ("baselines", f"rest_api+parquet/{api}"),
        "raw limit": ("baselines", f"raw/{api}"),
        "fetch+parse": (api, "fetch+parse"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--langsmith-runs", type=int, default=200_000)
    parser.add_argument("--model-lab-runs", type=int, default=50_000)
    parser.add_argument("--sweep", default="25000,50000,100000,200000", help="LangSmith run counts")
    parser.add_argument("--million", type=int, default=1_000_000, help="LangSmith runs for the RSS check (0: skip)")
    args = parser.parse_args()
    cache_bytecode()
    targets = Targets()
    frozen = ("--frozen",)

    # 1 + 2: runyard against the generic alternatives and the raw limit, on the same data.
    with sandbox_process(
        *frozen, "--langsmith-runs", str(args.langsmith_runs), "--model-lab-runs", str(args.model_lab_runs)
    ) as url:
        ls = compare(url, args.repeat, against_baselines("langsmith"))
        ml = compare(url, args.repeat, against_baselines("model_lab"))
        control(
            url,
            "POST",
            "faults",
            {"kind": "latency", "seconds": LATENCY_S, "endpoint": "langsmith.query_runs", "count": None},
        )
        slow = compare(
            url,
            args.repeat,
            {
                f"{DEFAULT_CONCURRENCY} windows": ("langsmith", "runyard"),
                f"{NARROW_CONCURRENCY} windows": ("langsmith", "runyard narrow"),
                "one walk": ("langsmith", "one walk"),
            },
        )
    print_table(f"LangSmith runs, {args.langsmith_runs:,} (default selects)", ls, "runs", "runs")
    print_table(f"Model Lab runs, {args.model_lab_runs:,}, with metrics, params and tags", ml, "runs", "runs")
    # Runs/s throughout: rows differ by design (the raw limit keeps Model Lab's lists inside the run).
    for name, results, generic, tuned in (("LangSmith", ls, 20, 3), ("Model Lab", ml, 10, 2)):
        mine = rate(results["runyard"], "runs")
        targets.check(
            f"{name}: runyard runs/s / rest_api defaults (>= {generic})",
            mine / rate(results["rest_api"], "runs"),
            lambda v, t=generic: v >= t,
        )
        targets.check(
            f"{name}: runyard runs/s / rest_api parquet-tuned (>= {tuned})",
            mine / rate(results["rest_api+parquet"], "runs"),
            lambda v, t=tuned: v >= t,
        )
    targets.check(
        "LangSmith: runyard runs/s / raw limit (>= 0.5)",
        rate(ls["runyard"], "runs") / rate(ls["raw limit"], "runs"),
        lambda v: v >= 0.5,
    )
    print_table(
        f"LangSmith with {LATENCY_S * 1000:.0f} ms per query: {DEFAULT_CONCURRENCY} windows at once (the default), "
        f"{NARROW_CONCURRENCY} (SOURCES__LANGSMITH__CONCURRENCY={NARROW_CONCURRENCY}) and one walk",
        slow,
        "runs",
        "runs",
    )
    targets.check(
        f"100 ms latency: {DEFAULT_CONCURRENCY} concurrent windows (the default) / one walk, wall time (<= 0.3)",
        median(slow[f"{DEFAULT_CONCURRENCY} windows"], "seconds") / median(slow["one walk"], "seconds"),
        lambda v: v <= 0.3,
    )

    # 3: growth in N, and the RSS of a very large sync.
    sizes = [int(n) for n in args.sweep.split(",")] + ([args.million] if args.million else [])
    by_n: dict[int, list[dict[str, Any]]] = {}
    for n in sizes:
        if n == args.langsmith_runs:  # measured above, on the same data
            by_n[n] = ls["runyard"]
            continue
        with sandbox_process(*frozen, "--langsmith-runs", str(n), "--model-lab-runs", "10") as url:
            by_n[n] = [run_case("langsmith", "runyard", url) for _ in range(1 if n > 200_000 else args.repeat)]
    print_table("LangSmith full sync by N", {f"{n:,} runs": runs for n, runs in by_n.items()}, "runs", "runs")
    if 100_000 in by_n and 200_000 in by_n:
        targets.check(
            "time(200k) / time(100k) (<= 2.2)",
            median(by_n[200_000], "seconds") / median(by_n[100_000], "seconds"),
            lambda v: v <= 2.2,
        )
    if args.million:
        targets.check(
            f"peak RSS syncing {args.million:,} LangSmith runs, MB (< 400)",
            median(by_n[args.million], "peak_rss_mb"),
            lambda v: v < 400,
            "{:.0f}",
        )

    # 4: nothing new (the sandbox's default sizes, every source).
    with sandbox_process() as url:
        quiet = [run_case("incremental", "nothing new", url) for _ in range(args.repeat)]
    last = quiet[-1]
    print("\nA sync of every source with nothing new (`runyard sync`, fresh interpreter)\n")
    print(
        f"wall time {median(quiet, 'seconds'):.2f} s; requests {median(quiet, 'requests'):.0f}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(last["requests_by_endpoint"].items()))
        + "; followed until they finish: "
        + ", ".join(f"{k} {v}" for k, v in last["followed"].items())
    )
    targets.check("nothing new: wall time incl. start-up, s (< 3)", median(quiet, "seconds"), lambda v: v < 3)
    by_endpoint = last["requests_by_endpoint"]
    targets.check(
        "nothing new: LangSmith queries beyond pending refreshes (<= 1 per window walk)",
        by_endpoint.get("langsmith.query_runs", 0)
        - math.ceil(last["followed"]["langsmith pending runs"] / IDS_PER_REQUEST),
        lambda v: v <= 1,
        "{:.0f}",
    )

    # 6: Datadog under a tight rate limit.
    with sandbox_process("--model-lab-runs", "3000", "--rate-limit", "40", "--rate-limit-period", "4") as url:
        paced = run_case("model_lab", "runyard+llm_obs", url)
        limits = control(url, "GET", "rate_limit")
    print(
        f"\nDatadog under {limits['limit']} requests per {limits['period']} s: {paced['requests']} requests in "
        f"{paced['seconds']:.1f} s, at most {limits['max_in_window']} in any window, {limits['rejected']} refused"
    )
    targets.check("Datadog: requests refused by the rate limit (= 0)", limits["rejected"], lambda v: v == 0, "{:.0f}")
    targets.print()


if __name__ == "__main__":
    sys.exit(main())
