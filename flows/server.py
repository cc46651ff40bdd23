"""A Prefect server for ``runyard serve`` when none is configured: schedules never fire on the temporary one.

Started as ``prefect server start`` in its own process group on a free loopback port, with its
database under a project-local Prefect home (``.prefect/``, git-ignored), and stopped when the
``with`` block ends. Nothing here imports Prefect, so starting it costs this process nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sources.errors import SyncError

PROJECT_PREFECT_HOME = Path(".prefect")  # in the working directory; git-ignored in this project
STARTUP_TIMEOUT_S = 120.0  # a fresh home runs the database migrations first (10-20 s here, more on slow disks)


@contextmanager
def local_server(home: Path = PROJECT_PREFECT_HOME, *, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Run a Prefect server with its state in ``home``; yields its API URL, stops it on exit.

    Raises SyncError when it does not become healthy in time, quoting the end of its log.
    """
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }
    env.pop("PREFECT_API_URL", None)
    log_path = home / "server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches runyard, which stops the server after the runner
        )
    try:
        _wait_healthy(url, process, log_path, startup_timeout_s)
        yield url
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    exited = process.poll()
    state = f"exited with code {exited}" if exited is not None else f"was not healthy after {timeout_s:.0f}s"
    raise SyncError(
        "runyard",
        f"the local Prefect server {state}{_last_line(log_path)}",
        f"See {log_path}. Or start one yourself (`uv run prefect server start`) and set PREFECT_API_URL.",
    )


def _last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1].strip()[:300]}" if lines else ""


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM to the server's process group; SIGKILL if it has not gone within ``timeout_s`` or on a second Ctrl-C."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        _kill(process)
    except KeyboardInterrupt:
        _kill(process)
        raise


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
