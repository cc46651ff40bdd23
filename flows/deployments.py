"""Deployments of the flows: served from one process (``runyard serve``) or registered for workers (``deploy``).

Both build one deployment per job in ``flows.flows.JOBS`` whose upstream has credentials,
named ``runyard`` (``prefect deployment run sync-langsmith/runyard``), with the job's cron
from ``flows.schedules`` and the database path as its parameter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from croniter import croniter
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.logging.handlers import APILogHandler
from prefect.runner import Runner
from prefect.schedules import Cron
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, get_current_settings, temporary_settings
from rich.console import Console
from rich.markup import escape

from flows.flows import JOBS, Job
from flows.schedules import TIMEZONE, cron_for
from flows.server import PROJECT_PREFECT_HOME, local_server
from pipelines.sync import Settings
from sources.errors import ConfigError, redact

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEPLOYMENT = "runyard"
TAGS = ["runyard"]

_console = Console(stderr=True, highlight=False, soft_wrap=True)


def plan() -> list[tuple[Job, str | None]]:
    """(job, cron or None) for every job whose upstreams have credentials; says which are left out.

    Raises ConfigError for invalid settings, an invalid cron expression, or no source at all.
    """
    settings = Settings.from_config()
    for missing in settings.missing.values():
        _console.print(f"[yellow]not scheduled[/] {escape(redact(missing.message))}")
    jobs = [job for job in JOBS if any(getattr(settings, upstream) for upstream in job.upstreams)]
    if not jobs:
        raise ConfigError(
            "runyard",
            "no source has credentials, so there is nothing to schedule",
            "Configure Datadog and/or LangSmith as for `runyard sync` (see Configuration in the README).",
        )
    return [(job, cron_for(job.schedule) if job.schedule else None) for job in jobs]


def serve_forever(db: Path, *, debug: bool = False) -> None:
    """Serve the deployments with their schedules from this process until Ctrl-C or SIGTERM.

    With no Prefect API configured, a local server is started for the duration (schedules do
    not fire on Prefect's temporary one) with its state in ``.prefect/``.
    """
    jobs = plan()
    with ExitStack() as stack:
        api_url = get_current_settings().api.url
        if not api_url:
            _console.print("Starting a local Prefect server (state in .prefect/) ...")
            api_url = stack.enter_context(local_server(PROJECT_PREFECT_HOME))
            home = PROJECT_PREFECT_HOME.resolve()
            stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_HOME: home}))
        else:
            _check_server(api_url)
        stack.enter_context(_quiet_runs(debug))
        runner = Runner(name="runyard", pause_on_shutdown=True)
        for job, cron in jobs:
            runner.add_deployment(_deployment(job.flow, cron, db))
        _console.print(f"Prefect API {api_url} (UI: {api_url.removesuffix('/api')})")
        _print_plan(jobs)
        asyncio.run(_serve_until_signalled(runner))


async def _serve_until_signalled(runner: Runner) -> None:
    """Serve until SIGINT or SIGTERM, then stop: runs in flight cancelled, every deployment paused.

    Prefect's Runner handles SIGTERM by calling ``sys.exit`` inside its signal handler, which
    unwinds the event loop mid-shutdown (a traceback, runs left RUNNING, deployments left
    unpaused); our handlers replace it once the runner has installed it. A second signal while
    stopping ends the process at once.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(runner.start())
    await asyncio.sleep(0)  # start() installs Prefect's SIGTERM handler before its first await: ours again
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    _console.print("Serving; one line per run below. Ctrl-C to stop.")
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    if serving.done():  # the runner ended by itself: its error, if any, is the command's
        waiting.cancel()
        serving.result()
        return
    if runner.started:
        await runner.astop()  # cancels the runs in flight; leaving start() pauses the deployments
    else:
        serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await APILogHandler.aflush()  # while the server still answers: a local one stops right after this


def deploy(db: Path, pool: str) -> list[str]:
    """Register the deployments with the configured Prefect server, to run on work pool ``pool``.

    Workers run them from this project directory. Returns the deployment names.
    """
    api_url = get_current_settings().api.url
    if not api_url:
        raise ConfigError(
            "runyard",
            "runyard deploy registers deployments with a Prefect server, and PREFECT_API_URL is not set",
            "Start one with `uv run prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api "
            "(or use `runyard serve`, which needs no server).",
        )
    _check_server(api_url)
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            raise ConfigError(
                "runyard",
                f"the Prefect server at {api_url} has no work pool {pool!r}",
                f"Create it with `uv run prefect work-pool create {pool} --type process`.",
            ) from None
    jobs = plan()
    names = []
    for job, cron in jobs:
        # Loaded from the project directory, which becomes the deployments' code location.
        # cast: Prefect's sync/async dual methods are typed as returning either (called here: sync).
        located = cast(
            Flow, Flow.from_source(source=str(PROJECT_DIR), entrypoint=f"flows/flows.py:{job.flow.fn.__name__}")
        )
        _deployment(located, cron, db).apply(work_pool_name=pool)
        names.append(f"{job.flow.name}/{DEPLOYMENT}")
    _print_plan(jobs)
    return names


def _check_server(api_url: str) -> None:
    with get_client(sync_client=True) as client:
        unreachable = client.api_healthcheck()
    if unreachable is not None:
        raise ConfigError(
            "runyard",
            f"the Prefect server at {api_url} does not answer ({type(unreachable).__name__})",
            "Start it with `uv run prefect server start`, or correct PREFECT_API_URL.",
        )


def _deployment(flow: Flow, cron: str | None, db: Path) -> RunnerDeployment:
    deployment = flow.to_deployment(
        name=DEPLOYMENT,
        parameters={"db": str(db.resolve())},
        schedule=Cron(cron, timezone=TIMEZONE) if cron else None,
        tags=TAGS,
    )
    return cast(RunnerDeployment, deployment)


def _print_plan(jobs: list[tuple[Job, str | None]]) -> None:
    now = datetime.now(UTC)
    for job, cron in jobs:
        name = f"{job.flow.name}/{DEPLOYMENT}"
        if cron:
            upcoming = croniter(cron, now).get_next(datetime).strftime("%Y-%m-%d %H:%M")
            when = f"{cron} ({TIMEZONE}), next {upcoming}"
        else:
            when = "when triggered" + (f" (runyard.schedules.{job.schedule} is off)" if job.schedule else "")
        _console.print(f"  {name:<36} {when}", markup=False)


_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"  # Prefect's console handler; set it to choose yourself


@contextmanager
def _quiet_runs(debug: bool) -> Iterator[None]:
    """Keep the terminal to one line per run start and end (flows.report); ``--debug`` shows Prefect's logs.

    Flow runs are subprocesses that read their logging levels from the environment; this process's
    own console handler only shows the runner's warnings.
    """
    if debug or _CONSOLE_LEVEL in os.environ:
        yield
        return
    os.environ[_CONSOLE_LEVEL] = "CRITICAL"
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        del os.environ[_CONSOLE_LEVEL]
