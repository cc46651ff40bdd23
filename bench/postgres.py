"""Benchmark: the same full sync into DuckDB and into a real PostgreSQL server, rows/s side by side.

    uv run python -m bench.postgres [--model-lab-runs 20000] [--langsmith-runs 50000] [--repeat 3]

The sandbox runs in its own process and a throw-away PostgreSQL 15 server is started for the run
(``tests/postgres_server.py``: initdb in a temporary directory, fsync off). Each case is a fresh
subprocess syncing Model Lab and LangSmith from scratch: into a new DuckDB file, and into a new
PostgreSQL database through dlt's bulk path (Arrow tables as parquet through ADBC's COPY).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from bench.harness import case_main, median, print_table, run_case, runyard_sync, sandbox_process


def case_duckdb(url: str) -> dict[str, Any]:
    return runyard_sync(url, ["model_lab", "langsmith"])


def case_postgres(url: str) -> dict[str, Any]:
    dsn = sys.argv[sys.argv.index("--dsn") + 1]
    return runyard_sync(url, ["model_lab", "langsmith"], RUNYARD_DESTINATION="postgres",
                        DESTINATION__POSTGRES__CREDENTIALS=dsn)  # fmt: skip


CASES = {"duckdb": case_duckdb, "postgres": case_postgres}


def main() -> None:
    if case_main(CASES, sys.argv):
        return
    from tests.postgres_server import postgres_server

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-lab-runs", type=int, default=20_000)
    parser.add_argument("--langsmith-runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    options = ("--model-lab-runs", str(args.model_lab_runs), "--langsmith-runs", str(args.langsmith_runs))
    results: dict[str, list[dict[str, Any]]] = {"duckdb": [], "postgres": []}
    with sandbox_process(*options) as url, postgres_server() as server:
        for _ in range(args.repeat):
            results["duckdb"].append(run_case("postgres", "duckdb", url))
            dsn = server.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            results["postgres"].append(run_case("postgres", "postgres", url, "--dsn", dsn))
    print_table(
        f"Model Lab ({args.model_lab_runs:,} runs) + LangSmith ({args.langsmith_runs:,} runs) full sync, "
        f"DuckDB vs PostgreSQL 15 (median of {args.repeat})",
        results, "rows", "rows",
    )  # fmt: skip
    ratio = median(results["postgres"], "seconds") / median(results["duckdb"], "seconds")
    print(f"\nPostgreSQL wall time / DuckDB wall time = {ratio:.2f}")


if __name__ == "__main__":
    main()
