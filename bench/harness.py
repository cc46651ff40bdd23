"""What every benchmark shares: a sandbox in its own process, cases in fresh subprocesses, medians.

A case is a function ``case(url) -> dict`` in a bench module; ``run_case`` runs it in a new
interpreter (``python -m bench.<module> --case NAME --url URL``) so its peak RSS is its own, and
the figures are JSON on its last line of output.
"""

from __future__ import annotations

import compileall
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def cache_bytecode() -> None:
    """Compile the installed packages and the repo to .pyc once, as any install that writes
    bytecode ends up: where PYTHONDONTWRITEBYTECODE is set (some CI images), every fresh
    interpreter would otherwise compile dlt from source, ~2 s of start-up no user pays twice."""
    for path in (sysconfig.get_paths()["purelib"], *(ROOT / p for p in ("pipelines", "sources", "bench"))):
        compileall.compile_dir(path, quiet=1, workers=0)


@contextmanager
def sandbox_process(*options: str) -> Iterator[str]:
    """``runyard sandbox`` with these options on a free loopback port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "pipelines.cli", "sandbox", "--port", str(port), *options]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900  # a frozen sandbox renders every run first
        while True:
            try:
                httpx.get(f"{url}/_sandbox/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_case(module: str, case: str, url: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", "--case", case, "--url", url, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(f"case {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    """Call the sandbox's /_sandbox/ controls."""
    return httpx.request(method, f"{url}/_sandbox/{path}", json=body, timeout=30).json()


def runyard_sync(url: str, sources: Sequence[str], **env: str) -> dict[str, Any]:
    """A runyard sync configured the way a user points it at an API: through the environment."""
    from pipelines.sync import sync

    os.environ.update(control(url, "GET", "env"))
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DLT_DATA_DIR"] = tmp
        started = time.perf_counter()
        results = sync(Path(tmp) / "bench.duckdb", list(sources))
        elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "rows": sum(r.total_rows for r in results),
        "rows_by_table": {t: n for r in results for t, n in r.rows_loaded.items()},
        "bytes": sum(r.bytes_received for r in results),
        "requests": sum(sum(r.requests.values()) for r in results),
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_main(cases: dict[str, Callable[..., dict[str, Any]]], argv: Sequence[str]) -> bool:
    """Run ``--case NAME --url URL [args]`` if asked to; True when it did."""
    if "--case" not in argv:
        return False
    name = argv[argv.index("--case") + 1]
    url = argv[argv.index("--url") + 1]
    print(json.dumps(cases[name](url)))
    return True


def median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def print_table(title: str, results: dict[str, list[dict[str, Any]]], count_key: str, count_label: str) -> None:
    """Rows per case: seconds, items/s, rows/s, MB/s, peak RSS, requests (medians)."""
    print(f"\n{title}\n")
    per_item = count_key != "rows"  # a separate items/s column only when items are not rows
    header = ("case", "seconds", *([f"{count_label}/s"] if per_item else []), "rows/s", "MB/s", "peak RSS", "requests")
    print(("{:<16} {:>8} " + ("{:>12} " if per_item else "") + "{:>10} {:>7} {:>9} {:>9}").format(*header))
    for case, runs in results.items():
        seconds = median(runs, "seconds")
        items = f"{median(runs, count_key) / seconds:>12,.0f} " if per_item else ""
        print(
            f"{case:<16} {seconds:>8.1f} {items}"
            f"{median(runs, 'rows') / seconds:>10,.0f} {median(runs, 'bytes') / seconds / 1e6:>7.1f} "
            f"{median(runs, 'peak_rss_mb'):>7.0f}MB {median(runs, 'requests'):>9,.0f}"
        )
