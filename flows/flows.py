"""The Prefect flows: one per registered source, topic discovery, ``sync_all`` and the weekly full refresh.

Flows only orchestrate: every one runs the ``sync_source`` task (``pipelines.sync.sync()``, the
function ``runyard sync`` calls) once per source, one source after another. Running them
side by side would gain nothing: each sync holds the database's writer lock from its first
request to its last row. A source that fails does not stop the others; the run then fails
with the first failure's message, the paragraph ``runyard sync`` prints.

A source added to ``pipelines.registry.SOURCES`` gets its flow (``sync_<name>``), its place in
``sync_all`` and the full refresh, and an hourly schedule, without a change here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import Flow, flow

from flows.report import RunSummary, announce_end, announce_start, redact_run_logs, summarize
from flows.tasks import sync_source
from pipelines.registry import SOURCES
from pipelines.sync import DEFAULT_DB
from sources.datadog import TOPIC_DISCOVERY_RESOURCE

# Topic-discovery runs belong to this source; its hourly flow leaves them to their daily one.
TOPIC_DISCOVERY_SOURCE = next(name for name, spec in SOURCES.items() if TOPIC_DISCOVERY_RESOURCE in spec.tables)

_HOOKS: dict[str, Any] = {
    "on_running": [announce_start],
    "on_completion": [announce_end],
    "on_failure": [announce_end],
    "on_crashed": [announce_end],
}


def _sync_each(
    db: Path,
    names: Sequence[str],
    *,
    full_refresh: bool = False,
    topic_discovery: bool = True,
    skip_unconfigured: bool = False,
) -> RunSummary:
    redact_run_logs()
    started = time.monotonic()
    states = {
        name: sync_source(
            db,
            name,
            full_refresh=full_refresh,
            topic_discovery=topic_discovery,
            skip_unconfigured=skip_unconfigured,
            return_state=True,
        )
        for name in names
    }
    completed = [state.result() for state in states.values() if state.is_completed()]
    summary = summarize(completed, [name for name, state in states.items() if not state.is_completed()], started)
    for state in states.values():
        state.result()  # a failed source raises its SyncError here: the run fails with its message
    return summary


def _source_flow(name: str) -> Flow[[Path], RunSummary]:
    def run(db: Path = DEFAULT_DB) -> RunSummary:
        return _sync_each(db, [name], topic_discovery=False)

    # Workers load a deployment's flow by entrypoint, flows/flows.py:sync_<name>.
    run.__name__ = run.__qualname__ = f"sync_{name}"
    run.__doc__ = f"`runyard sync {name}`" + (
        " without topic-discovery runs (their own flow syncs them)." if name == TOPIC_DISCOVERY_SOURCE else "."
    )
    return flow(name=f"sync-{name.replace('_', '-')}", **_HOOKS)(run)


SOURCE_FLOWS: dict[str, Flow[[Path], RunSummary]] = {name: _source_flow(name) for name in SOURCES}
globals().update({source_flow.fn.__name__: source_flow for source_flow in SOURCE_FLOWS.values()})


@flow(name="sync-topic-discovery", **_HOOKS)
def sync_topic_discovery(db: Path = DEFAULT_DB) -> RunSummary:
    """LLM Observability with its topic-discovery runs (`runyard sync llm_obs`)."""
    return _sync_each(db, [TOPIC_DISCOVERY_SOURCE])


@flow(name="sync-all", **_HOOKS)
def sync_all(db: Path = DEFAULT_DB) -> RunSummary:
    """Every configured source (`runyard sync`); one without credentials is skipped with a notice."""
    return _sync_each(db, list(SOURCES), skip_unconfigured=True)


@flow(name="full-refresh", **_HOOKS)
def full_refresh(db: Path = DEFAULT_DB) -> RunSummary:
    """Every configured source re-read in full (`runyard sync --full-refresh`): removes rows deleted upstream."""
    return _sync_each(db, list(SOURCES), full_refresh=True, skip_unconfigured=True)


@dataclass(frozen=True)
class Job:
    """A flow, the schedule it runs on, and the upstreams it needs credentials for."""

    flow: Flow[[Path], RunSummary]
    schedule: str | None  # key under [runyard.schedules]; None: runs only when triggered
    upstreams: tuple[str, ...]


JOBS: list[Job] = [
    *(Job(source_flow, name, (SOURCES[name].upstream,)) for name, source_flow in SOURCE_FLOWS.items()),
    Job(sync_topic_discovery, "topic_discovery", (SOURCES[TOPIC_DISCOVERY_SOURCE].upstream,)),
    Job(full_refresh, "full_refresh", tuple(dict.fromkeys(spec.upstream for spec in SOURCES.values()))),
    Job(sync_all, None, tuple(dict.fromkeys(spec.upstream for spec in SOURCES.values()))),
]
