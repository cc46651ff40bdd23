"""Benchmark: a full sync of LLM Observability entities (default ~100k dataset records with sizeable
inputs and ~10k experiments) from the sandbox into a new DuckDB file.

    uv run python -m bench.llm_obs [--records-per-dataset 1333] [--experiments-per-dataset 133] [--repeat 3]

The sandbox (25 projects, 2-4 datasets each) runs in its own process; the sync runs in a fresh
subprocess, configured through the environment with the largest page size (1000). Printed:
rows/s over the five tables, records/s, MB/s of JSON, peak RSS and requests (medians).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench.harness import case_main, median, print_table, run_case, runyard_sync, sandbox_process


def case_runyard(url: str) -> dict[str, Any]:
    figures = runyard_sync(url, ["llm_obs"], SOURCES__DATADOG__LLM_OBS_PAGE_LIMIT="1000")
    by_table = figures["rows_by_table"]
    return figures | {
        "records": by_table["datadog.llmobs_dataset_records"],
        "experiments": by_table["datadog.llmobs_experiments"],
    }


CASES = {"runyard": case_runyard}


def main() -> None:
    if case_main(CASES, sys.argv):
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=25)
    parser.add_argument("--records-per-dataset", type=int, default=1333)
    parser.add_argument("--experiments-per-dataset", type=int, default=133)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    options = ("--llm-obs-projects", str(args.projects), "--llm-obs-records-per-dataset", str(args.records_per_dataset),
               "--llm-obs-experiments-per-dataset", str(args.experiments_per_dataset), "--model-lab-runs", "10",
               "--langsmith-runs", "10")  # fmt: skip
    with sandbox_process(*options) as url:
        results = {"runyard": [run_case("llm_obs", "runyard", url) for _ in range(args.repeat)]}
    runs = results["runyard"]
    print_table(
        f"LLM Observability full sync: {median(runs, 'records'):,.0f} dataset records, "
        f"{median(runs, 'experiments'):,.0f} experiments (median of {args.repeat})",
        results, "records", "records",
    )  # fmt: skip
    print(f"rows = projects + datasets + records + experiments + experiment runs ({median(runs, 'rows'):,.0f})")


if __name__ == "__main__":
    main()
