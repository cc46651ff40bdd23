"""The one task: a whole ``pipelines.sync.sync()`` of one source, retried only when retrying can help.

``sync()`` is idempotent (its incremental state lives in the database and a failed sync leaves
nothing pending), so a retry re-runs the whole sync rather than dlt's ``pipeline.run``
(docs/decisions.md#prefect). It holds the writer lock on ``<db>.lock`` for its whole run: that OS lock is
the guard that makes overlapping flow runs, and a ``runyard sync`` started from a shell, wait
for each other instead of failing on DuckDB's own lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.tasks import exponential_backoff

from flows.report import log_result
from pipelines.config import MissingCredentials
from pipelines.sync import SyncResult, sync
from pipelines.warehouse import DatabaseError
from sources.errors import SyncError, TransientError

# Worth another try later: the network, 429 and 5xx outlasted the HTTP client's own retries, or
# the database was held (another writer past the lock timeout, a BI tool keeping it open).
# Configuration, credential and upstream errors fail the run at once with their own message.
RETRIABLE: tuple[type[Exception], ...] = (TransientError, DatabaseError)
RETRIES = 3


def is_retriable(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry condition: retry only the errors in RETRIABLE."""
    return isinstance(state.result(raise_on_failure=False), RETRIABLE)


@task(
    name="sync",
    task_run_name="sync {source}",
    retries=RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=60),  # 1, 2, 4 minutes
    retry_jitter_factor=0.5,
    retry_condition_fn=is_retriable,
    cache_policy=NO_CACHE,  # a sync must run every time it is asked to
)
def sync_source(
    db: Path,
    source: str,
    full_refresh: bool = False,
    topic_discovery: bool = True,
    skip_unconfigured: bool = False,
) -> SyncResult:
    """``runyard sync <source>`` into ``db``; raises the same SyncError with the same message.

    Args:
        topic_discovery: False leaves LLM Observability's topic-discovery runs to their own
            (daily) flow.
        skip_unconfigured: a source without credentials is skipped with a notice, as
            ``runyard sync`` does for every source when none is named, instead of failing.
    """
    try:
        [result] = sync(db, [source], full_refresh=full_refresh, topic_discovery=topic_discovery)
    except MissingCredentials as exc:
        if not skip_unconfigured:
            raise _detached(exc) from None
        result = SyncResult(source, "skipped", notices=[f"{exc.message} Skipped."])
    except SyncError as exc:
        raise _detached(exc) from None
    log_result(result)
    return result


def _detached(exc: SyncError) -> SyncError:
    """The error without the frames it came through, which Prefect would keep with the failed state.

    Those frames hold the sync's (closed) DuckDB connection and dlt's objects until the flow-run
    process ends, and DuckDB's bindings then print a "nanobind: leaked" line for each one.
    The message is the whole of what the run reports.
    """
    exc.__traceback__ = exc.__cause__ = exc.__context__ = None
    return exc
