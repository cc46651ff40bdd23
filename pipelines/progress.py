"""Progress on long syncs: a live line on a terminal, a periodic plain line otherwise.

It is a dlt Collector, so dlt feeds it rows per table as pages are extracted; requests and
page positions come from the source's SourceStats.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any

from dlt.common.runtime.collector import Collector
from rich.console import Console
from rich.live import Live
from rich.text import Text

from sources.http_client import SourceStats


class SyncProgress(Collector):
    def __init__(self, label: str, stats: SourceStats, *, console: Console | None = None, log_every_s: float = 10.0):
        self.label = label
        self.stats = stats
        self.console = console or Console(stderr=True)
        self.interactive = self.console.is_terminal
        self.log_every_s = log_every_s
        self.step = ""
        self.rows: Counter[str] = Counter()
        self._started = time.monotonic()
        self._last_log = self._started
        self._live: Live | None = None

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        if self.step.lower().startswith("extract") and name not in ("Resources",) and not name.startswith("_dlt"):
            self.rows[name] += inc
        if not self.interactive and time.monotonic() - self._last_log >= self.log_every_s:
            self._last_log = time.monotonic()
            print(self.line().plain, file=sys.stderr, flush=True)

    def line(self) -> Text:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        total_rows = sum(self.rows.values())
        text = Text()
        text.append(f"{self.label} ", style="bold")
        text.append(f"{self.step.lower() or 'starting'}: ")
        text.append(f"{total_rows:,} rows", style="cyan")
        text.append(f", {self.stats.total_requests:,} requests")
        pages = [
            f"{label} {done}/{total}" if total else f"{label} {done}"
            for label, (done, total) in self.stats.progress.items()
        ]
        if pages:
            text.append(f" ({'; '.join(pages[-2:])})")
        text.append(f", {total_rows / elapsed:,.0f} rows/s, {self.stats.bytes_received / elapsed / 1e6:.1f} MB/s")
        return text

    def _start(self, step: str) -> None:
        self.step = step
        if self.interactive and self._live is None:
            self._live = Live(console=self.console, get_renderable=self.line, refresh_per_second=4, transient=True)
            self._live.start()

    def _stop(self) -> None:
        """dlt stops the collector after each step; the live line stays up until ``close``."""

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __getstate__(self) -> dict[str, Any]:  # dlt may deep-copy collectors; the live display stays behind
        return {k: v for k, v in self.__dict__.items() if k != "_live"}
