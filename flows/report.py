"""What a flow run tells its user: the summary it returns and logs, one terminal line per run, redaction.

The numbers are the ``SyncResult``s that ``runyard sync`` prints, so the CLI, the flow logs and
the tests agree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import FlowRun
from prefect.logging import get_run_logger
from prefect.states import State
from rich.console import Console

from pipelines.sync import SyncResult
from sources.errors import SyncError, redact

_terminal = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class RunSummary:
    """What one flow run did, source by source."""

    results: list[SyncResult]
    failed: list[str]  # sources whose sync raised; the run fails with the first one's error
    duration_s: float

    @property
    def rows_loaded(self) -> dict[str, int]:
        return {table: n for r in self.results for table, n in r.rows_loaded.items()}

    @property
    def requests(self) -> int:
        return sum(sum(r.requests.values()) for r in self.results)

    def headline(self) -> str:
        rows, requests = sum(self.rows_loaded.values()), self.requests
        text = f"{rows:,} row{_s(rows)} loaded, {requests} request{_s(requests)} in {self.duration_s:.1f}s"
        parts = [
            ", ".join(r.source for r in self.results if r.status == "ok"),
            ", ".join(f"{r.source} skipped (not configured)" for r in self.results if r.status == "skipped"),
            ", ".join(f"{name} failed" for name in self.failed),
        ]
        described = "; ".join(p for p in parts if p)
        return f"{text} ({described})" if described else text


def summarize(results: list[SyncResult], failed: list[str], started: float) -> RunSummary:
    """The run's summary, logged to the flow run."""
    summary = RunSummary(results, failed, time.monotonic() - started)
    get_run_logger().info("summary: %s", summary.headline())
    return summary


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def log_result(result: SyncResult) -> None:
    """One source's outcome in the run log: rows per table, new cursors, requests, duration, notices."""
    logger = get_run_logger()
    for notice in result.notices:
        logger.warning("%s: %s", result.source, notice)
    if result.status != "ok":
        return
    tables = ", ".join(f"{table} {n:,}" for table, n in sorted(result.rows_loaded.items())) or "nothing new"
    requests = ", ".join(f"{n} {endpoint}" for endpoint, n in sorted(result.requests.items()))
    logger.info(
        "%s: rows loaded: %s; %d requests (%s), %d retries, %.1fs",
        result.source,
        tables,
        sum(result.requests.values()),
        requests,
        result.retries,
        result.duration_s,
    )
    for table, cursor in sorted(result.cursors.items()):
        logger.info("%s: cursor %s: %s", result.source, table, ", ".join(f"{k}={v}" for k, v in cursor.items()))
    for warning in result.warnings:
        logger.warning("%s: %s", result.source, warning)


# -- one line per run in the terminal of `runyard serve` (or of a worker) ----------------------


def announce_start(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    _terminal.print(f"{_now()} {flow.name} ({flow_run.name}) started", markup=False)


def announce_end(flow: Flow[Any, Any], flow_run: FlowRun, state: State[Any]) -> None:
    outcome = state.result(raise_on_failure=False) if state.is_completed() or state.is_failed() else None
    if isinstance(outcome, RunSummary):
        text = f"completed: {outcome.headline()}"
    elif isinstance(outcome, SyncError):
        text = f"{(state.name or state.type.value).lower()}: {outcome.message}"
    else:
        text = f"{(state.name or state.type.value).lower()}: {redact(state.message or '')}"
    _terminal.print(f"{_now()} {flow.name} ({flow_run.name}) {text}", markup=False)


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


# -- redaction ----------------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Scrub registered keys from a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def redact_run_logs() -> None:
    """Put the filter on every handler Prefect writes run logs through (console and API), once."""
    for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
