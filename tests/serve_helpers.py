"""`runyard serve` as a subprocess, its terminal read line by line, and calls to the Prefect API it started."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import stamina


class Served:
    """A ``runyard serve`` process; ``seen`` holds every stderr line read so far."""

    def __init__(self, *args: str, env: dict[str, str], cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        stream = self.process.stderr
        assert stream is not None
        threading.Thread(target=lambda: [self._lines.put(line.rstrip()) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first further line matching ``pattern``; fails if serve exits or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.seen.append(self._lines.get(timeout=0.5))
            except queue.Empty:
                assert self.process.poll() is None, self.text()
                continue
            if match := re.search(pattern, self.seen[-1]):
                return match
        raise AssertionError(f"no line matching {pattern!r} in:\n" + self.text())

    def drain(self) -> None:
        """Take the lines printed so far (after the process ended: all of them)."""
        while not self._lines.empty():
            self.seen.append(self._lines.get())

    def text(self) -> str:
        return "\n".join(self.seen)


def _server_busy(exc: Exception) -> bool:
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 503


def prefect_api(method: str, url: str, **kwargs: Any) -> Any:
    """One call to the Prefect API, retried on 503 as Prefect's own client does.

    The local server answers 503 while its SQLite file is busy (here its scheduler writes every
    second).
    """
    for attempt in stamina.retry_context(on=_server_busy, attempts=10, wait_max=1.0):
        with attempt:
            response = httpx.request(method, url, **kwargs)
            response.raise_for_status()
    return response.json()
