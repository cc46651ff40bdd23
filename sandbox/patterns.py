"""LLM Observability patterns (topic discovery) runs: generated configurations and their runs.

Follows the published API reference (docs/upstream-contract.md): one unpaginated list of
completed runs per configuration, newest first, ``data.id`` being the configuration id. Each
run carries the snapshot of the configuration it ran with; snapshots drift between runs (model, sampling ratio, record
budget, query, a switch to or from a bring-your-own-model provider), and an optional field
is occasionally absent, so a sync can show what changed between runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox.common import US, BadRequest, Clock, Request, Response, jsonapi_error, rfc3339, rng, stable_uuid

RESPONSE_TYPE = "list_topic_discovery_runs_response"
ML_APPS = ("support-bot", "search-ranker", "code-review-agent", "sql-copilot")
PROVIDERS = (
    ("openai", ("gpt-4o", "gpt-4o-mini", "gpt-4.1")),
    ("anthropic", ("claude-3-5-sonnet", "claude-3-5-haiku")),
)
QUERY_SUFFIXES = ("", " @env:prod", " -@status:error", " @session.locale:fr*")
# Fields a drift step may change; the BYOM trio (provider, account, model) moves together.
DRIFTS = ("model_name", "sampling_ratio", "num_records", "evp_query", "hierarchy_depth", "byom")


@dataclass(slots=True)
class PatternsRun:
    id: str
    created_us: int
    completed_us: int
    snapshot: dict[str, Any]  # the configuration the run used
    hidden: str | None = None  # a snapshot field this run's payload leaves out


@dataclass
class PatternsStore:
    seed: int
    clock: Clock
    configs: dict[str, list[PatternsRun]] = field(default_factory=dict)  # config id -> runs, oldest first
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _runs: int = 0  # runs ever created: seeds ids and drift
    _steps: int = 0

    @classmethod
    def generated(cls, seed: int, clock: Clock, *, configs: int, days: float) -> PatternsStore:
        store = cls(seed, clock)
        end = clock.anchor_us - 60 * US
        span = int(days * 86400 * US)
        for c in range(configs):
            r = rng(seed, "patterns-config", c)
            config_id = stable_uuid(seed, "patterns-config", c)
            count = r.randint(3, 8)
            step = span // count
            runs: list[PatternsRun] = []
            snapshot = _initial_snapshot(r, c)
            for i in range(count):
                created = end - span + i * step + r.randrange(max(1, step // 2))
                if i:  # always drift once between the first two runs, then now and then
                    snapshot = _drift(snapshot, r, force=i == 1)
                runs.append(store._run(created, min(end, created + r.randint(120, 1800) * US), snapshot, r))
            store.configs[config_id] = runs
        return store

    def _run(self, created_us: int, completed_us: int, snapshot: dict[str, Any], r: Any) -> PatternsRun:
        self._runs += 1
        hidden = r.choice(sorted(snapshot)) if r.random() < 0.1 else None  # now and then a field is absent
        return PatternsRun(
            stable_uuid(self.seed, "patterns-run", self._runs), created_us, completed_us, snapshot, hidden
        )

    def config_ids(self) -> list[str]:
        with self._lock:
            return list(self.configs)

    # -- endpoint ---------------------------------------------------------------------------

    def list_runs(self, request: Request) -> Response:
        config_id = request.arg("config_id")
        if not config_id:
            raise BadRequest("missing required query parameter: config_id", parameter="config_id")
        with self._lock:
            if config_id not in self.configs:
                return jsonapi_error(404, "Not Found", f"configuration {config_id} not found", parameter="config_id")
            runs = self._rendered(config_id)
        return Response(200, {"data": {"id": config_id, "type": RESPONSE_TYPE, "attributes": {"runs": runs}}})

    def _rendered(self, config_id: str) -> list[dict[str, Any]]:
        return [
            {
                "completed_at": rfc3339(run.completed_us),
                "config_snapshot": {k: v for k, v in sorted(run.snapshot.items()) if k != run.hidden},
                "created_at": rfc3339(run.created_us),
                "id": run.id,
                "status": "completed",
            }
            for run in sorted(self.configs[config_id], key=lambda x: (x.created_us, x.id), reverse=True)
        ]

    def truth(self) -> dict[str, list[dict[str, Any]]]:
        """config id -> its runs, as the endpoint returns them."""
        with self._lock:
            return {config_id: self._rendered(config_id) for config_id in self.configs}

    # -- change over time -------------------------------------------------------------------

    def advance(self, *, new_runs: int = 0) -> dict[str, list[str]]:
        """Add ``new_runs`` runs, completed at the sandbox clock's now, across configurations
        (about half with a drifted snapshot); returns their ids and those that drifted."""
        with self._lock:
            self._steps += 1
            r = rng(self.seed, "patterns-advance", self._steps)
            changed: dict[str, list[str]] = {"new_runs": [], "snapshot_changed": []}
            config_ids = list(self.configs)
            for i in range(new_runs if config_ids else 0):
                runs = self.configs[config_ids[i % len(config_ids)]]
                previous = runs[-1]
                drift = r.random() < 0.5
                snapshot = _drift(previous.snapshot, r, force=True) if drift else previous.snapshot
                now = self.clock.now_us()
                created = max(previous.created_us + 1, now - r.randint(120, 1800) * US)
                run = self._run(created, now, snapshot, r)
                runs.append(run)
                changed["new_runs"].append(run.id)
                if drift:
                    changed["snapshot_changed"].append(run.id)
            return changed


def _initial_snapshot(r: Any, index: int) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "evp_query": f"@ml_app:{ML_APPS[index % len(ML_APPS)]}",
        "hierarchy_depth": r.choice((1, 2, 3)),
        "num_records": r.choice((500, 1000, 5000)),
        "sampling_ratio": r.choice((0.05, 0.1, 0.25, 1.0)),
    }
    if r.random() < 0.6:
        snapshot.update(_byom(r))
    return snapshot


def _byom(r: Any) -> dict[str, Any]:
    provider, models = r.choice(PROVIDERS)
    return {"account_id": str(1_000_000_000 + r.randrange(10**6)), "integration_provider": provider,
            "model_name": r.choice(models)}  # fmt: skip


def _drift(snapshot: dict[str, Any], r: Any, *, force: bool) -> dict[str, Any]:
    """The next run's snapshot: one or two fields changed, or (unless forced) none."""
    if not force and r.random() < 0.5:
        return snapshot
    changed = dict(snapshot)
    for what in r.sample(DRIFTS, r.randint(1, 2)):
        if what == "model_name" and "integration_provider" in changed:
            models = dict(PROVIDERS)[changed["integration_provider"]]
            changed["model_name"] = r.choice([m for m in models if m != changed.get("model_name")])
        elif what == "sampling_ratio":
            changed["sampling_ratio"] = r.choice([x for x in (0.05, 0.1, 0.25, 0.5, 1.0) if x != changed.get(what)])
        elif what == "num_records":
            changed["num_records"] = r.choice([x for x in (250, 500, 1000, 5000, 20000) if x != changed.get(what)])
        elif what == "hierarchy_depth":
            changed["hierarchy_depth"] = r.choice([x for x in (1, 2, 3) if x != changed.get(what)])
        elif what == "evp_query":
            base = changed.get("evp_query", "@ml_app:support-bot").split(" ")[0]
            changed["evp_query"] = base + r.choice([s for s in QUERY_SUFFIXES if base + s != changed.get(what)])
        elif "integration_provider" in changed:  # back to the managed model: the BYOM fields vanish
            for key in ("account_id", "integration_provider", "model_name"):
                changed.pop(key)
        else:  # "byom", or a model change on a managed configuration: bring your own model
            changed.update(_byom(r))
    return changed
