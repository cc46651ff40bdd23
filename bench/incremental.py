"""Benchmark case: a sync with nothing new, as a user runs it (``runyard sync``, every source).

A first full sync fills a database (not timed); then ``python -m pipelines.cli sync`` runs in a
fresh interpreter and is timed from start to exit, start-up (imports, dlt set-up) included.
The sandbox's request counts per endpoint show what the second sync asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import ROOT, control


def case_nothing_new(url: str) -> dict[str, Any]:
    from pipelines.sync import sync

    os.environ.update(control(url, "GET", "env"))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        os.environ["DLT_DATA_DIR"] = tmp
        env = dict(os.environ)  # for the timed sync: as it was before the first sync ran
        first = sync(db)
        followed = {  # re-read by id on every sync until they finish
            "langsmith pending runs": sum(r.cursors.get("runs", {}).get("pending runs", 0) for r in first),
            "model lab unfinished runs": sum(
                r.cursors.get("model_lab_runs", {}).get("unfinished runs", 0) for r in first
            ),
        }
        control(url, "POST", "requests/reset")
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "sync", "--db", str(db)],
            env=env, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if out.returncode:
            raise RuntimeError(out.stderr)
    requests = control(url, "GET", "requests")
    return {
        "seconds": seconds,
        "requests": sum(requests.values()),
        "requests_by_endpoint": requests,
        "followed": followed,
    }


if __name__ == "__main__":
    from bench.harness import case_main

    case_main({"nothing new": case_nothing_new}, sys.argv)
