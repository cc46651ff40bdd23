"""What every benchmark shares: a sandbox in its own process, cases in fresh subprocesses, medians.

Two figures for everything, because users meet runyard as a process:
- in-process: a case is a function ``case(url) -> dict`` in a bench module; ``run_case`` runs it
  in a new interpreter (``python -m bench.<module> --case NAME --url URL``), which times the work
  itself and reports it as JSON on its last line of output;
- whole process: ``run_case`` also times that interpreter from spawn to exit (imports and
  start-up included) and takes its peak RSS from the kernel (``os.wait4``); ``run_runyard`` does
  the same for the ``runyard`` command itself, as cron or a Prefect worker starts it.
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
    for path in (
        Path(sysconfig.get_paths()["purelib"]),
        *(ROOT / p for p in ("pipelines", "sources", "sandbox", "bench")),
    ):
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


def run_process(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, Any]:
    """Run ``command`` to its end: {"process_s": spawn to exit, "process_rss_mb": its peak RSS, "stdout"}."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return {"process_s": seconds, "process_rss_mb": usage.ru_maxrss / 1024, "stdout": stdout}


def run_case(module: str, case: str, url: str, *extra: str) -> dict[str, Any]:
    """A case's own figures (in-process), plus its interpreter's spawn-to-exit time and peak RSS."""
    ran = run_process([sys.executable, "-m", f"bench.{module}", "--case", case, "--url", url, *extra])
    figures = json.loads(ran.pop("stdout").strip().splitlines()[-1])
    return figures | ran


RUNYARD = str(Path(sys.executable).with_name("runyard"))  # the command the project installs


def run_runyard(url: str, *args: str, db: Path, **env: str) -> dict[str, Any]:
    """``runyard <args> --db <db>`` as a user runs it, configured through the environment as the
    sandbox says: spawn-to-exit seconds, peak RSS, and the requests the sandbox answered."""
    control(url, "POST", "requests/reset")
    environment = {**os.environ, **control(url, "GET", "env"), "DLT_DATA_DIR": str(db.parent), **env}
    ran = run_process([RUNYARD, *args, "--db", str(db)], env=environment)
    requests = control(url, "GET", "requests")
    return ran | {"requests": sum(requests.values()), "requests_by_endpoint": requests}


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
    """Rows per case, medians: the whole process (spawn to exit: seconds, items/s, rows/s, MB/s,
    peak RSS), the in-process seconds, and the requests."""
    print(f"\n{title}\n")
    per_item = count_key != "rows"  # a separate items/s column only when items are not rows
    header = ("case", "process s", *([f"{count_label}/s"] if per_item else []), "rows/s", "MB/s", "peak RSS",
              "in-process s", "requests")  # fmt: skip
    print(("{:<18} {:>9} " + ("{:>12} " if per_item else "") + "{:>10} {:>7} {:>9} {:>12} {:>9}").format(*header))
    for case, runs in results.items():
        seconds = median(runs, "process_s")
        items = f"{median(runs, count_key) / seconds:>12,.0f} " if per_item else ""
        print(
            f"{case:<18} {seconds:>9.2f} {items}"
            f"{median(runs, 'rows') / seconds:>10,.0f} {median(runs, 'bytes') / seconds / 1e6:>7.1f} "
            f"{median(runs, 'process_rss_mb'):>7.0f}MB {median(runs, 'seconds'):>12.2f} "
            f"{median(runs, 'requests'):>9,.0f}"
        )
