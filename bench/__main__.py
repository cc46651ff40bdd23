"""Every performance figure and target in one run:

    uv run python -m bench [--repeat 3] [--langsmith-runs 50000] [--model-lab-runs 50000]

Against the sandbox on loopback (its own process; frozen, pages pre-rendered, where its data need
not change), every case in a fresh process, medians of ``--repeat``. Each case has two figures:
the whole process, timed from spawn to exit with its peak RSS (what a user meets: start-up and
imports included), and in-process (the work alone, timed by the case itself). Targets are held
to the whole-process figures:

1. LangSmith runs: ``runyard sync langsmith`` vs dlt's generic ``rest_api_source`` (defaults, and
   parquet-tuned) vs the raw limit (httpx + DuckDB bulk insert, no merge, no state) vs fetch + parse.
2. Model Lab runs with metrics, params and tags: the same comparison.
3. 100 ms of latency per request: LangSmith's concurrent windows vs one walk (``--latency-runs``),
   and Model Lab's first sync of 10,000 runs vs one page after another (within the rate-limit
   headers).
4. How time and peak RSS grow with N (LangSmith), and a sync of ``--million`` runs for RSS.
5. A sync with nothing new, per source, and ``runyard status`` / ``runyard sql``; Model Lab's
   requests with nothing new at 10,000 and 65,614 runs (the recorded live org's size).
6. Datadog under a tight rate limit: requests never exceed what ``X-RateLimit-*`` allows.

Prints a table per part and, at the end, each target with its measured value.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import quiet
from bench.harness import cache_bytecode, control, median, print_table, run_case, run_runyard, sandbox_process
from bench.langsmith import CASE_ENV, DEFAULT_CONCURRENCY, LATENCY_S, NARROW_CONCURRENCY

Results = dict[str, list[dict[str, Any]]]
LIVE_ORG_RUNS = 65_614  # Model Lab runs in the org the live API was recorded from
LATENCY_MODEL_LAB_RUNS = 10_000


class Targets:
    """Targets with their measured values, printed together at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, bool]] = []

    def check(self, name: str, value: float, ok: Callable[[float], bool], fmt: str = "{:.2f}") -> None:
        self.rows.append((name, fmt.format(value), ok(value)))

    def print(self) -> None:
        print("\nTargets (whole process, start-up included, unless they say otherwise)\n")
        print(f"{'target':<84} {'measured':>10}  result")
        for name, value, ok in self.rows:
            print(f"{name:<84} {value:>10}  {'met' if ok else 'MISSED'}")


def at_least(bound: float) -> Callable[[float], bool]:
    return lambda value: value >= bound


def at_most(bound: float) -> Callable[[float], bool]:
    return lambda value: value <= bound


def runyard_case(url: str, module: str, case: str, source: str, env: dict[str, str]) -> dict[str, Any]:
    """A runyard sync both ways: the bench case in-process, then ``runyard sync`` as a process into a new file."""
    figures = run_case(module, case, url)
    with tempfile.TemporaryDirectory() as tmp:
        process = run_runyard(url, "sync", source, db=Path(tmp) / "bench.duckdb", **env)
    return figures | {"process_s": process["process_s"], "process_rss_mb": process["process_rss_mb"]}


def compare(url: str, repeat: int, cases: dict[str, Callable[[], dict[str, Any]]]) -> Results:
    """Each case ``repeat`` times, interleaved."""
    results: Results = {label: [] for label in cases}
    for _ in range(repeat):
        for label, case in cases.items():
            results[label].append(case())
    return results


def against_baselines(url: str, api: str, source: str) -> dict[str, Callable[[], dict[str, Any]]]:
    """runyard's sync of one API, the generic loads, the raw limit and the fetch+parse floor."""
    return {
        "runyard": lambda: runyard_case(url, api, "runyard", source, {}),
        "rest_api": lambda: run_case("baselines", f"rest_api/{api}", url),
        "rest_api+parquet": lambda: run_case("baselines", f"rest_api+parquet/{api}", url),
        "raw limit": lambda: run_case("raw", api, url),
        "fetch+parse": lambda: run_case(api, "fetch+parse", url),
    }


def ratio(results: Results, mine: str, other: str, key: str = "process_s") -> float:
    """How many times faster ``mine`` is than ``other`` (runs/s over runs/s; the same runs, so a time ratio)."""
    return (median(results[other], key) / median(results[other], "runs")) / (
        median(results[mine], key) / median(results[mine], "runs")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--langsmith-runs", type=int, default=50_000)
    parser.add_argument("--model-lab-runs", type=int, default=50_000)
    parser.add_argument("--latency-runs", type=int, default=200_000, help="LangSmith runs of the latency case")
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
        ls = compare(url, args.repeat, against_baselines(url, "langsmith", "langsmith"))
        ml = compare(url, args.repeat, against_baselines(url, "model_lab", "model_lab"))
    print_table(f"LangSmith runs, {args.langsmith_runs:,} (default selects)", ls, "runs", "runs")
    print_table(f"Model Lab runs, {args.model_lab_runs:,}, with metrics, params and tags", ml, "runs", "runs")
    for name, results, generic, tuned in (("LangSmith", ls, 25, 4), ("Model Lab", ml, 12, 2.5)):
        targets.check(f"{name}: runyard / rest_api defaults, runs/s (>= {generic})",
                      ratio(results, "runyard", "rest_api"), at_least(generic))  # fmt: skip
        targets.check(f"{name}: runyard / rest_api parquet-tuned, runs/s (>= {tuned})",
                      ratio(results, "runyard", "rest_api+parquet"), at_least(tuned))  # fmt: skip
    targets.check(
        "LangSmith: runyard / raw limit, runs/s (>= 0.6)", ratio(ls, "runyard", "raw limit"), lambda v: v >= 0.6
    )

    # 3a: LangSmith over a real network's latency: concurrent windows hide the round trips.
    with sandbox_process(*frozen, "--langsmith-runs", str(args.latency_runs), "--model-lab-runs", "10") as url:
        control(url, "POST", "faults", {"kind": "latency", "seconds": LATENCY_S, "endpoint": "langsmith.query_runs",
                                        "count": None})  # fmt: skip
        slow = compare(
            url,
            args.repeat,
            {
                f"{DEFAULT_CONCURRENCY} windows": lambda: runyard_case(url, "langsmith", "runyard", "langsmith", {}),
                f"{NARROW_CONCURRENCY} windows": lambda: runyard_case(
                    url, "langsmith", "runyard narrow", "langsmith", CASE_ENV["runyard narrow"]
                ),
                "one walk": lambda: runyard_case(url, "langsmith", "one walk", "langsmith", CASE_ENV["one walk"]),
            },
        )
    print_table(
        f"LangSmith, {args.latency_runs:,} runs, {LATENCY_S * 1000:.0f} ms per query: up to {DEFAULT_CONCURRENCY} "
        f"windows at once (the default), up to {NARROW_CONCURRENCY} (SOURCES__LANGSMITH__CONCURRENCY="
        f"{NARROW_CONCURRENCY}) and one walk",
        slow,
        "runs",
        "runs",
    )
    targets.check(
        f"LangSmith, {args.latency_runs:,} runs, 100 ms latency: windows (the default) / one walk, wall time (<= 0.3)",
        median(slow[f"{DEFAULT_CONCURRENCY} windows"], "process_s") / median(slow["one walk"], "process_s"),
        lambda v: v <= 0.3,
    )

    # 3b: Model Lab's first sync over a real network's latency.
    with sandbox_process(*frozen, "--model-lab-runs", str(LATENCY_MODEL_LAB_RUNS), "--langsmith-runs", "10") as url:
        control(url, "POST", "faults", {"kind": "latency", "seconds": LATENCY_S, "endpoint": "datadog", "count": None})
        far = compare(
            url,
            args.repeat,
            {
                "runyard": lambda: runyard_case(url, "model_lab", "runyard", "model_lab", {}),
                "one page at a time": lambda: run_case("model_lab", "fetch+parse", url),
            },
        )
        limits = control(url, "GET", "rate_limit")
    print_table(
        f"Model Lab, {LATENCY_MODEL_LAB_RUNS:,} runs, {LATENCY_S * 1000:.0f} ms per request: runyard's first sync "
        f"and a sequential page walk (httpx, one page after another); {limits['rejected']} requests refused by "
        f"the rate limit ({limits['limit']} per {limits['period']} s)",
        far,
        "runs",
        "runs",
    )
    targets.check(
        "Model Lab, 100 ms latency: runyard's full sync / sequential page walk, wall time (<= 0.4)",
        median(far["runyard"], "process_s") / median(far["one page at a time"], "process_s"),
        lambda v: v <= 0.4,
    )
    targets.check("Model Lab, 100 ms latency: requests refused by the rate limit (= 0)", limits["rejected"],
                  lambda v: v == 0, "{:.0f}")  # fmt: skip

    # 4: growth in N, and the RSS of a very large sync.
    sizes = [int(n) for n in args.sweep.split(",")] + ([args.million] if args.million else [])
    by_n: dict[int, list[dict[str, Any]]] = {}
    for n in sizes:
        if n == args.langsmith_runs:  # measured above, on the same data
            by_n[n] = ls["runyard"]
            continue
        with sandbox_process(*frozen, "--langsmith-runs", str(n), "--model-lab-runs", "10") as url:
            by_n[n] = [
                runyard_case(url, "langsmith", "runyard", "langsmith", {})
                for _ in range(1 if n > 200_000 else args.repeat)
            ]
    print_table("LangSmith full sync by N", {f"{n:,} runs": runs for n, runs in by_n.items()}, "runs", "runs")
    if 100_000 in by_n and 200_000 in by_n:
        targets.check(
            "LangSmith: time(200k) / time(100k), in-process (<= 2.2)",
            median(by_n[200_000], "seconds") / median(by_n[100_000], "seconds"),
            lambda v: v <= 2.2,
        )
    if args.million:
        targets.check(
            f"LangSmith: peak RSS syncing {args.million:,} runs, MB (< 400)",
            median(by_n[args.million], "process_rss_mb"),
            lambda v: v < 400,
            "{:.0f}",
        )

    # 5: nothing new, and the read-only commands (the sandbox's default sizes, validating like the docs).
    sync_floor, read_floor = quiet.floor(quiet.SYNC_FLOOR, args.repeat), quiet.floor(quiet.READ_FLOOR, args.repeat)
    with sandbox_process("--strict") as url:
        calm = quiet.nothing_new(url, args.repeat)
    unfinished = f"{calm['unfinished']:,} unfinished Model Lab runs"
    print(f"\nNothing new, and the read-only commands (the sandbox's defaults; {unfinished})\n")
    print(f"{'command':<44} {'seconds':>8} {'peak RSS':>9}  requests")
    for label, runs in (
        *((f"runyard sync {source}", calm[source]) for source in quiet.SOURCES),
        ("runyard status", calm["status"]),
        ('runyard sql "select 1"', calm["sql"]),
        (f'python -c "{quiet.SYNC_FLOOR}" (floor)', sync_floor),
        (f'python -c "{quiet.READ_FLOOR}" (floor)', read_floor),
    ):
        by_endpoint = runs[-1].get("requests_by_endpoint") or {}
        print(f"{label:<44} {median(runs, 'process_s'):>8.2f} {median(runs, 'process_rss_mb'):>7.0f}MB  "
              + ", ".join(f"{n} {endpoint}" for endpoint, n in sorted(by_endpoint.items())))  # fmt: skip
    for source in quiet.SOURCES:
        targets.check(
            f"nothing new: runyard sync {source}, s (< 2)", median(calm[source], "process_s"), lambda v: v < 2
        )
    for command in ("status", "sql"):
        targets.check(f"runyard {command} on a synced file, s (< 0.5)", median(calm[command], "process_s"),
                      lambda v: v < 0.5)  # fmt: skip

    # 5b: Model Lab's requests with nothing new where a fifth of the runs never finish.
    print("\nModel Lab with nothing new, by the size of the org (about one run in five unfinished)\n")
    print(f"{'runs':>8} {'unfinished':>11} {'requests':>9} {'allowed':>8} {'seconds':>8}")
    for n in (LATENCY_MODEL_LAB_RUNS, LIVE_ORG_RUNS):
        with sandbox_process("--strict", "--model-lab-runs", str(n), "--langsmith-runs", "10") as url:
            org = quiet.nothing_new(url, args.repeat, ("model_lab",))
        allowed = 2 + math.ceil(org["unfinished"] / 100)
        requests = max(run["requests"] for run in org["model_lab"])
        seconds = median(org["model_lab"], "process_s")
        print(f"{n:>8,} {org['unfinished']:>11,} {requests:>9} {allowed:>8} {seconds:>8.2f}")
        targets.check(f"nothing new, {n:,} Model Lab runs: requests (<= 2 + ceil(unfinished / 100) = {allowed})",
                      requests, at_most(allowed), "{:.0f}")  # fmt: skip
        if n == LATENCY_MODEL_LAB_RUNS:
            targets.check(f"nothing new, {n:,} Model Lab runs, s (< 3)", seconds, lambda v: v < 3)

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
    main()
