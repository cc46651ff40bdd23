"""A local replica of runyard's five upstream endpoints, for the demo, the tests and the benchmarks.

    with Sandbox(model_lab_runs=2000) as sandbox:
        sandbox.url                        # http://127.0.0.1:<port>
        sandbox.faults.add(kind="status", status=503, endpoint="model_lab.list_runs")
        sandbox.advance(model_lab={"update": 5, "hard_delete": 1})
        sandbox.drift("llm_obs.search", add_a_field)   # rewrite every answer's body (in-process only)
        sandbox.requests()["model_lab.list_runs"]

``Sandbox(frozen=True)`` is for benchmarks: the data never changes (``advance`` and
``after_requests`` refuse; the clock still moves, which only shifts LangSmith's default window and
never changes a rendered record), so the Model Lab and LangSmith runs are rendered once, kept as
JSON bytes and joined into pages; ``warm`` renders them all up front.

It runs in a thread here, or as a process with ``runyard sandbox --port N``; in that case the
same controls are reachable over HTTP under ``/_sandbox/`` (see ``sandbox.remote``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sandbox.common import Clock, Request, Response
from sandbox.faults import FaultRule, Faults
from sandbox.langsmith import LangSmithStore
from sandbox.llm_obs import LlmObsStore
from sandbox.model_lab import ModelLabStore
from sandbox.patterns import PatternsStore
from sandbox.server import RateLimiter, Route, SandboxHTTPServer

__all__ = ["RECORDED_DIR", "Sandbox", "SandboxConfig"]

RECORDED_DIR = Path(__file__).resolve().parent / "recorded"
# The API routes: endpoint name, API (for faults), method, path pattern, store attribute and its handler.
ROUTES = (
    ("model_lab.list_runs", "datadog", "GET", r"/api/v2/model-lab-api/runs", "model_lab", "list_runs"),
    ("model_lab.get_run", "datadog", "GET", r"/api/v2/model-lab-api/runs/(?P<run_id>[^/]+)", "model_lab", "get_run"),
    ("llm_obs.search", "datadog", "POST", r"/api/v2/llm-obs/v1/experimentation/search", "llm_obs", "search"),
    ("llm_obs.topic_discovery_runs", "datadog", "GET", r"/api/v2/llm-obs/v1/topic-discovery-runs", "patterns",
     "list_runs"),
    ("langsmith.query_runs", "langsmith", "POST", r"/api/v2/runs/query", "langsmith", "query_runs"),
)  # fmt: skip
ENDPOINTS = tuple(name for name, *_ in ROUTES)


@dataclass
class SandboxConfig:
    seed: int = 7
    model_lab_runs: int = 500
    # Serve the 26 runs recorded from the live Model Lab API instead of generated ones.
    model_lab_recorded: bool = False
    llm_obs_projects: int = 3
    llm_obs_records_per_dataset: int = 40
    llm_obs_experiments_per_dataset: int = 4
    # The docs and the official client model give experiments no id; True makes the sandbox send one.
    experiment_ids: bool = False
    topic_configs: int = 3
    langsmith_runs: int = 2000
    langsmith_projects: int = 2
    days: float = 30
    anchor: datetime | None = None
    datadog_api_key: str = "sandbox-dd-api-key-0000000000"
    datadog_app_key: str = "sandbox-dd-app-key-00000000000000000000"
    langsmith_api_key: str = "lsv2_sandbox_key_000000000000"
    rate_limit: int = 1200
    rate_limit_period_s: int = 10
    # The data never changes; rendered Model Lab and LangSmith runs are cached as JSON (see Sandbox.warm).
    frozen: bool = False
    # Validate as the published docs do, not as the newest SDK: LangSmith selects must be among the
    # 44 documented tokens (a self-hosted server a release behind answers 400 to any other), and
    # a Model Lab list request may carry only the documented query parameters.
    strict: bool = False
    # LangSmith body fields the server does not know and refuses with a 400 (an older release),
    # e.g. ("min_feedback_modified_at", "max_feedback_modified_at").
    langsmith_unknown_fields: tuple[str, ...] = ()
    # False: Model Lab's filter[id] takes one id and answers 400 to the documented comma-separated list.
    model_lab_id_lists: bool = True


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        self.config = config or SandboxConfig(**overrides)
        c = self.config
        self.clock = Clock(c.anchor)
        self.faults = Faults(seed=c.seed)
        self.rate_limiter = RateLimiter(c.rate_limit, c.rate_limit_period_s)
        self.model_lab = (
            ModelLabStore.recorded(_recorded_runs(), self.clock)
            if c.model_lab_recorded
            else ModelLabStore.generated(c.seed, c.model_lab_runs, self.clock, days=c.days)
        )
        self.llm_obs = LlmObsStore.generated(
            c.seed,
            self.clock,
            projects=c.llm_obs_projects,
            records_per_dataset=c.llm_obs_records_per_dataset,
            experiments_per_dataset=c.llm_obs_experiments_per_dataset,
            experiment_ids=c.experiment_ids,
            days=c.days,
        )
        self.patterns = PatternsStore.generated(c.seed, self.clock, configs=c.topic_configs, days=c.days)
        self.langsmith = LangSmithStore.generated(
            c.seed, self.clock, runs=c.langsmith_runs, projects=c.langsmith_projects, days=c.days
        )
        self.model_lab.frozen = self.langsmith.frozen = c.frozen
        self.model_lab.strict = self.langsmith.strict = c.strict
        self.langsmith.unknown_fields = frozenset(c.langsmith_unknown_fields)
        self.model_lab.id_lists = c.model_lab_id_lists
        self._triggers: list[tuple[str, int, dict[str, Any]]] = []
        self._triggers_lock = threading.Lock()
        self._drifts: dict[str, Callable[[Any], Any]] = {}
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        """Serve from a background thread; returns self once the port is bound."""
        self._server = self._make_server(host, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8787) -> None:
        self._server = self._make_server(host, port)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self if self._server else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    # -- controls ---------------------------------------------------------------------------

    def requests(self) -> Counter[str]:
        """Requests received per endpoint (faulted and rejected ones included)."""
        assert self._server is not None
        with self._server.counts_lock:
            return Counter(self._server.counts)

    def reset_requests(self) -> None:
        assert self._server is not None
        with self._server.counts_lock:
            self._server.counts.clear()

    def advance(self, seconds: float = 0, **changes: dict[str, Any]) -> dict[str, Any]:
        """Move the clock by ``seconds``, then apply per-store changes, e.g.
        ``advance(model_lab={"update": 3}, langsmith={"finish_pending": 10})``."""
        self._refuse_if_frozen()
        if seconds:
            self.clock.advance(seconds)
        stores: dict[str, Any] = {
            "model_lab": self.model_lab,
            "llm_obs": self.llm_obs,
            "patterns": self.patterns,
            "langsmith": self.langsmith,
        }
        unknown = set(changes) - set(stores)
        if unknown:
            raise ValueError(f"unknown sandbox stores: {sorted(unknown)}")
        return {name: stores[name].advance(**kwargs) for name, kwargs in changes.items()}

    def after_requests(self, endpoint: str, count: int, **changes: dict[str, Any]) -> None:
        """Apply ``advance(**changes)`` right after the ``count``-th further request to ``endpoint``
        has been answered: data changing between two pages of one walk."""
        self._refuse_if_frozen()
        with self._triggers_lock:
            self._triggers.append((endpoint, count, changes))

    def _refuse_if_frozen(self) -> None:
        if self.config.frozen:
            raise RuntimeError("the sandbox is frozen: its data never changes (start it without frozen)")

    def warm(self, langsmith_selects: Iterable[str]) -> dict[str, Any]:
        """Render every Model Lab run, and every LangSmith run for these select tokens, into the caches
        of a frozen sandbox, so that no page pays for rendering. Returns the counts and the seconds."""
        started = time.perf_counter()  # a store that is not frozen refuses
        counts = {"langsmith_runs": self.langsmith.warm(langsmith_selects), "model_lab_runs": self.model_lab.warm()}
        return counts | {"seconds": round(time.perf_counter() - started, 3)}

    def drift(self, endpoint: str, transform: Callable[[Any], Any] | None) -> None:
        """Rewrite the body of every successful answer of ``endpoint`` with ``transform`` (None stops it).

        Upstream drift for tests: ``transform`` gets a copy of the JSON body and returns the new
        one, JSON-serialisable or bytes sent as they are (e.g. with the ``NaN`` tokens strict JSON
        forbids). Only for a sandbox running in this process.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown sandbox endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        if transform is None:
            self._drifts.pop(endpoint, None)
        else:
            self._drifts[endpoint] = transform

    def env(self, url: str | None = None) -> dict[str, str]:
        """Environment variables that point runyard at this sandbox (at ``url`` if not started here)."""
        url = url or self.url
        return {
            "DD_API_KEY": self.config.datadog_api_key,
            "DD_APP_KEY": self.config.datadog_app_key,
            "SOURCES__DATADOG__BASE_URL": url,
            "SOURCES__DATADOG__TOPIC_DISCOVERY_CONFIG_IDS": ",".join(self.patterns.config_ids()),
            "LANGSMITH_API_KEY": self.config.langsmith_api_key,
            "LANGSMITH_ENDPOINT": url,
            "SOURCES__LANGSMITH__PROJECT_IDS": ",".join(self.langsmith.project_ids()),
            "SOURCES__LANGSMITH__INITIAL_START": self.langsmith.earliest_start(),
        }

    # -- server -----------------------------------------------------------------------------

    def _make_server(self, host: str, port: int) -> SandboxHTTPServer:
        routes = [
            Route(
                name,
                api,
                method,
                re.compile(path),
                self._with_triggers(name, self._with_drift(name, getattr(getattr(self, store), handler))),
            )
            for name, api, method, path, store, handler in ROUTES
        ]
        return SandboxHTTPServer(
            (host, port),
            routes=routes,
            admin=self._admin,
            datadog_keys=(self.config.datadog_api_key, self.config.datadog_app_key),
            langsmith_key=self.config.langsmith_api_key,
            rate_limiter=self.rate_limiter,
            faults=self.faults,
        )

    def _with_drift(self, name: str, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            response = handler(request)
            transform = self._drifts.get(name)
            if transform is None or not 200 <= response.status < 300:
                return response
            body = response.body  # parsed from JSON: a copy, as bodies may share store state
            body = transform(orjson.loads(orjson.dumps(body)))
            return Response(response.status, body, response.headers)

        return wrapped

    def _with_triggers(self, name: str, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            response = handler(request)
            fire: list[tuple[str, int, dict[str, Any]]] = []
            with self._triggers_lock:
                remaining: list[tuple[str, int, dict[str, Any]]] = []
                for endpoint, count, changes in self._triggers:
                    if endpoint == name:
                        count -= 1
                    (fire if count <= 0 else remaining).append((endpoint, count, changes))
                self._triggers = remaining
            for _, _, changes in fire:
                self.advance(**changes)
            return response

        return wrapped

    def _admin(self, request: Request) -> Response:
        """Controls for a sandbox running in another process (see sandbox.remote)."""
        body = orjson.loads(request.body) if request.body else {}
        action = (request.method, request.path.removeprefix("/_sandbox/"))
        if action == ("GET", "health"):
            return Response(200, {"ok": True})
        if action == ("GET", "requests"):
            return Response(200, dict(self.requests()))
        if action == ("POST", "requests/reset"):
            self.reset_requests()
            return Response(200, {"ok": True})
        if action == ("GET", "rate_limit"):
            return Response(
                200,
                {
                    "max_in_window": self.rate_limiter.max_in_window,
                    "rejected": self.rate_limiter.rejected,
                    "limit": self.rate_limiter.limit,
                    "period": self.rate_limiter.period,
                },
            )
        if action == ("POST", "faults"):
            self.faults.add(FaultRule(**body))
            return Response(200, {"rules": self.faults.rules()})
        if action == ("DELETE", "faults"):
            self.faults.clear()
            return Response(200, {"rules": []})
        if action == ("POST", "advance"):
            try:
                return Response(200, self.advance(**body))
            except RuntimeError as exc:  # frozen
                return Response(409, {"errors": [str(exc)]})
        if action == ("GET", "config"):
            config = {f.name: getattr(self.config, f.name) for f in fields(self.config)}
            return Response(200, json.loads(json.dumps(config, default=str)))
        if action == ("GET", "env"):
            return Response(200, self.env())
        return Response(404, {"errors": [f"unknown sandbox control {request.method} {request.path}"]})


def _recorded_runs() -> list[dict[str, Any]]:
    listed = json.loads((RECORDED_DIR / "model-lab-list-runs.json").read_text())["response"]["body"]["data"]
    single = json.loads((RECORDED_DIR / "model-lab-get-run.json").read_text())["response"]["body"]["data"]
    return [*listed, single]


def config_dict(config: SandboxConfig) -> dict[str, Any]:
    return asdict(config)
