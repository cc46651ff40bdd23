"""Model Lab runs: generated data, the list and get endpoints, and changes over time.

Behaves like the live service where the recordings in sandbox/recorded/ show it differs
from the docs: pages numbered from 0, default page size 25, ``links`` on another host,
optional attributes absent rather than null, ``params`` sometimes null, a terse 404 body,
integral metric values as JSON integers, Go-style timestamps with 1-6 fractional digits. Its
data has the recorded org's share of unfinished runs: about one in five stays ``running`` for
good (5 of the 25 recorded runs are), with ``updated_at`` at its creation, as recorded.

Runs are kept as small records and rendered on demand from (seed, id, version), so 50k runs
cost little memory; recorded runs are served verbatim. A frozen store (``frozen=True``, the
data never changes) keeps each rendered run as JSON bytes and builds pages from them.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from sandbox.common import (
    US,
    BadRequest,
    Clock,
    Request,
    Response,
    json_bytes,
    parse_rfc3339,
    rfc3339,
    rng,
    stable_uuid,
)

LIVE_LINK_HOST = "https://api.datad0g.com"  # the recorded links point here, not at the request host
PATH = "/api/v2/model-lab-api/runs"
STATUSES = ("pending", "running", "completed", "failed", "killed", "unresponsive", "paused")
UNFINISHED = ("pending", "running", "paused", "unresponsive")
SORTS = ("name", "created_at", "updated_at", "duration")
# The list's documented query parameters: a strict store refuses any other (the live one may ignore them).
LIST_PARAMETERS = frozenset(
    {
        "filter[id]", "filter", "filter[owner_id]", "filter[status]", "filter[project_id]", "filter[tags]",
        "filter[params]", "filter[parent_run_id]", "pinned_first", "include_pinned", "include_descendant_matches",
        "sort", "page[size]", "page[number]",
    }
)  # fmt: skip
NOT_FOUND_BODY = {"errors": [{"title": "Generic Error", "detail": "run not found"}]}  # as recorded live

PROJECTS = (482, 2438, 1017, 3310, 5120)
MODELS = ("qwen36-27b", "llama31-8b", "mistral-7b", "gpt2", "bert-base", "resnet50", "xgboost-ctr")
METHODS = ("qlora-fsdp", "sft", "dpo", "lora", "eval", "finetune", "sweep")
LLM_METRICS = (
    "loss",
    "eval/loss",
    "learning_rate",
    "grad_norm",
    "epoch",
    "train_runtime",
    "total_flos",
    "system/total_input_tokens",
    "system/total_output_tokens",
    "system/completion_rate",
    "cost/gpu_cost_usd_decode",
    "cost/gpu_cost_usd_prefill",
    "tokens_per_second",
    "system/gpu_0_memory_usage_megabytes",
)
CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "auc", "loss", "val_loss", "epoch")
INTEGER_METRICS = frozenset({"total_flos", "system/total_input_tokens", "system/total_output_tokens", "epoch"})
PARAM_VALUES: tuple[tuple[str, Any], ...] = (
    ("learning_rate", ("0.0001", "2e-05", "1e-08", "0.001")),
    ("num_epochs", ("1", "3", "10")),
    ("per_device_batch_size", ("2", "8", "32")),
    ("optimizer", ("adamw_8bit", "adamw_torch", "sgd")),
    ("packing", ("False", "True")),
    ("precision", ("bf16", "fp16", "fp32")),
    ("lora_rank", ("8", "16", "64")),
    ("model.basename", ("Qwen3.6-27B", "Llama-3.1-8B", "gpt2")),
    ("vllm.image", ("vllm/vllm-openai:v0.9.1", "vllm/vllm-openai:latest")),
    ("architectures", ("['GPT2LMHeadModel']", "['Qwen3ForCausalLM']")),
    ("id2label", ("{0: 'LABEL_0', 1: 'LABEL_1'}",)),
    ("task_specific_params", ("{'text-generation': {'do_sample': True, 'max_length': 50}}",)),
    ("bad_words_ids", ("None", "[]")),
    ("prompt_template", ('Answer the question below.\n"{question}"\nThink step by step.', "Q: {q}\nA:")),
    ("stop_sequences", ('["\\n\\n", "</s>"]',)),
    ("dataset", ("s3://ml-datasets/support/qwen3_without_thinking.zip", "hf://tatsu-lab/alpaca")),
)
FEATURES = ("similarity_score", "nb_page_views", "session_length", "country", "device", "hour_of_day")
SOURCE_PATHS = (
    "/home/ray/.venv/lib/python3.12/site-packages/ray/_private/workers/default_worker.py",
    "/Workspace/Users/ml/notebooks/train.ipynb",
    "train.py",
)
DATACENTERS = ("us1.staging.dog", "us3.prod.dog", "eu1.prod.dog")


@dataclass
class RunRecord:
    id: int
    created_us: int
    updated_us: int
    started_us: int
    status: str
    project_id: int
    name: str
    owner_id: str | None
    completed_us: int | None = None
    duration: float | None = None
    deleted_us: int | None = None
    parent_id: int | None = None
    has_children: bool = False
    is_pinned: bool = False
    version: int = 0
    stripped: bool = False  # its metrics, params and tags were all removed
    hard_deleted: bool = False
    raw: dict[str, Any] | None = None  # a recorded run, served verbatim


@dataclass
class ModelLabStore:
    seed: int
    clock: Clock
    runs: dict[int, RunRecord] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _cache: dict[tuple, list[RunRecord]] = field(default_factory=dict)
    _steps: int = 0
    frozen: bool = False  # no advance(); runs served from _rendered
    strict: bool = False  # only documented query parameters (LIST_PARAMETERS)
    # False: filter[id] takes a single id and a comma-separated list is a 400 (as a server older
    # than the documented list form would answer).
    id_lists: bool = True
    _rendered: dict[int, bytes] = field(default_factory=dict)  # run id -> JSON of render()

    # -- data -------------------------------------------------------------------------------

    @classmethod
    def generated(cls, seed: int, count: int, clock: Clock, days: float = 90) -> ModelLabStore:
        store = cls(seed, clock)
        span = int(days * 86400 * US)
        start = clock.anchor_us - span - 120 * US
        step = max(1, span // max(count, 1))
        recent: deque[RunRecord] = deque(maxlen=200)  # candidate parents
        for i in range(count):
            record = store._new_record(70000 + i, start + i * step + rng(seed, "ml-at", i).randrange(step), recent)
            store._add(record)
            recent.append(record)
        return store

    @classmethod
    def recorded(cls, runs: Iterable[dict[str, Any]], clock: Clock) -> ModelLabStore:
        store = cls(0, clock)
        for raw in runs:
            a = raw["attributes"]
            store._add(
                RunRecord(
                    id=int(raw["id"]),
                    created_us=parse_rfc3339(a["created_at"]),
                    updated_us=parse_rfc3339(a["updated_at"]),
                    started_us=parse_rfc3339(a["started_at"]),
                    status=a["status"],
                    project_id=a["project_id"],
                    name=a["name"],
                    owner_id=a.get("owner_id"),
                    duration=a.get("duration"),
                    raw=raw,
                )
            )
        return store

    def _add(self, record: RunRecord) -> None:
        self.runs[record.id] = record
        self._cache.clear()

    def _new_record(
        self, run_id: int, created_us: int, recent: Iterable[RunRecord] = (), *, fresh: bool = False
    ) -> RunRecord:
        r = rng(self.seed, "ml", run_id)
        age_s = max(1.0, (self.clock.anchor_us - created_us) / US)
        if fresh:
            status = r.choice(("running", "running", "pending"))
        elif age_s < 2 * 86400:
            status = r.choices(STATUSES, weights=(10, 30, 45, 6, 3, 3, 3))[0]
        else:  # about a fifth stay unfinished for good, as 5 of the 25 runs recorded live: crashed jobs
            status = r.choices(STATUSES, weights=(0, 31, 135, 16, 8, 2, 2))[0]
        started = created_us + r.randrange(0, 500_000)
        model, method = r.choice(MODELS), r.choice(METHODS)
        name = "" if r.random() < 0.01 else f"{model}-{method}-{created_us // US}"
        record = RunRecord(
            id=run_id,
            created_us=created_us,
            updated_us=created_us + r.randrange(1_000, 20_000),
            started_us=started,
            status=status,
            project_id=r.choices(PROJECTS, weights=(2, 4, 3, 2, 1))[0],
            name=name,
            owner_id=None if r.random() < 0.05 else stable_uuid("owner", r.randrange(12)),
            is_pinned=r.random() < 0.03,
        )
        if status in ("completed", "failed", "killed"):
            duration = min(r.lognormvariate(7, 1.4), age_s * 0.8)
            if status != "completed" or r.random() > 0.08:  # some completed runs lack both
                record.duration = round(duration, 3)
                record.completed_us = started + int(duration * US)
            record.updated_us = started + int(duration * US) + r.randrange(0, 5 * US)
            if r.random() < 0.02:
                record.deleted_us = record.updated_us + r.randrange(US, int(age_s * 0.1 * US) + 2 * US)
                record.updated_us = record.deleted_us
        elif status in ("unresponsive", "paused"):  # the status change moved updated_at; a running
            # run's stays at its creation while it logs metrics, as recorded live
            record.updated_us = created_us + int(r.uniform(0.1, 0.9) * age_s * US)
        if not fresh and r.random() < 0.1:
            candidates = [p for p in recent if p.project_id == record.project_id]
            if candidates:
                parent = r.choice(candidates)
                record.parent_id = parent.id
                parent.has_children = True
        return record

    def render(self, rec: RunRecord) -> dict[str, Any]:
        """The JSON:API run object, as the list and get endpoints send it."""
        if rec.raw is not None:
            return rec.raw
        r = rng(self.seed, "ml-body", rec.id)
        attributes: dict[str, Any] = {
            "created_at": rfc3339(rec.created_us),
            "descendant_match": False,
            "description": "" if r.random() < 0.8 else r.choice(("Fine-tune on support tickets", "Überprüfung ✓")),
            "has_children": rec.has_children,
            "is_pinned": rec.is_pinned,
            "metric_summaries": self._metrics(rec),
            "mlflow_artifact_location": f"mlflow-artifacts:///{rec.project_id}/{rec.id}/artifacts",
            "name": rec.name,
            "params": self._params(rec),
            "project_id": rec.project_id,
            "started_at": rfc3339(rec.started_us, digits=r.choice((2, 3))),
            "status": rec.status,
            "tags": self._tags(rec),
            "updated_at": rfc3339(rec.updated_us),
        }
        if r.random() < 0.9:
            attributes["external_url"] = f"https://mlflow.us1.staging.dog/#/runs/{stable_uuid(rec.id).replace('-', '')}"
        if rec.owner_id:
            attributes["owner_id"] = rec.owner_id
        if rec.completed_us is not None:
            attributes["completed_at"] = rfc3339(rec.completed_us)
        if rec.duration is not None:
            attributes["duration"] = rec.duration
        if rec.deleted_us is not None:
            attributes["deleted_at"] = rfc3339(rec.deleted_us)
        return {"id": str(rec.id), "type": "runs", "attributes": dict(sorted(attributes.items()))}

    def _rendered_run(self, rec: RunRecord) -> bytes:
        """render() as JSON, made once per run: for a frozen store only."""
        item = self._rendered.get(rec.id)
        if item is None:
            item = self._rendered[rec.id] = json_bytes(self.render(rec))
        return item

    def _run_body(self, rec: RunRecord) -> Any:
        """The run object of a list page or get answer: frozen, as the JSON rendered once."""
        return orjson.Fragment(self._rendered_run(rec)) if self.frozen else self.render(rec)

    def warm(self) -> int:
        """Render every run into the frozen cache; returns the number of runs."""
        if not self.frozen:
            raise RuntimeError("only a frozen Model Lab store caches rendered runs")
        with self._lock:
            for rec in self.runs.values():
                if not rec.hard_deleted:
                    self._rendered_run(rec)
            return len(self._rendered)

    def _metrics(self, rec: RunRecord) -> list[dict[str, Any]]:
        if rec.status == "pending" or rec.stripped:
            return []
        r = rng(self.seed, "ml-metrics", rec.id)
        vocabulary = CLASSIFIER_METRICS if rec.name.startswith(("bert", "resnet", "xgboost")) else LLM_METRICS
        keys = r.sample(vocabulary, r.randint(3, len(vocabulary)))
        for version in range(1, rec.version + 1):  # each update removes one metric and adds one
            v = rng(self.seed, "ml-metrics", rec.id, version)
            if len(keys) > 1:
                keys.remove(v.choice(keys))
            keys.append(f"custom/metric_{version}" if v.random() < 0.5 else v.choice(vocabulary))
            keys = list(dict.fromkeys(keys))
        return [_summary(rng(self.seed, "ml-metric", rec.id, key, rec.version), key) for key in keys]

    def _params(self, rec: RunRecord) -> list[dict[str, str]] | None:
        r = rng(self.seed, "ml-params", rec.id)
        if rec.stripped:
            return []
        if r.random() < 0.1:
            return None
        chosen = r.sample(PARAM_VALUES, r.randint(2, len(PARAM_VALUES)))
        params = [{"key": key, "value": r.choice(values)} for key, values in chosen]
        if r.random() < 0.2:
            params.append({"key": "features", "value": str([f"{f}_{i}" for i in range(12) for f in FEATURES])})
        if rec.version:
            params.append({"key": "resume_step", "value": str(rec.version * 100)})
        return params

    def _tags(self, rec: RunRecord) -> list[dict[str, str]]:
        if rec.stripped:
            return []
        r = rng(self.seed, "ml-tags", rec.id)
        tags = [
            {"key": "mlflow.runName", "value": rec.name},
            {"key": "mlflow.source.name", "value": r.choice(SOURCE_PATHS)},
            {"key": "mlflow.source.type", "value": r.choice(("LOCAL", "NOTEBOOK", "JOB"))},
            {"key": "mlflow.user", "value": r.choice(("dog", "ana", "li.wei"))},
            {"key": "team", "value": r.choice(("nlp", "vision", "ranking"))},
        ]
        if r.random() < 0.5:
            tags.append({"key": "datacenter", "value": r.choice(DATACENTERS)})
        tags.append({"key": "resumed", "value": "true" if rec.version else "false"})
        return tags

    # -- endpoints --------------------------------------------------------------------------

    def list_runs(self, request: Request) -> Response:
        if self.strict and (unknown := sorted(request.query.keys() - LIST_PARAMETERS)):
            raise BadRequest(f"unknown query parameter {unknown[0]!r}", parameter=unknown[0])
        size = _int_arg(request, "page[size]", 25, low=1, high=100)
        number = _int_arg(request, "page[number]", 0, low=0, high=None)
        for flag in ("pinned_first", "include_pinned", "include_descendant_matches"):
            if request.arg(flag) not in (None, "true", "false"):
                raise BadRequest(f"invalid boolean for {flag}", parameter=flag)
        sort = request.arg("sort") or "-updated_at"
        if sort.lstrip("-") not in SORTS:
            raise BadRequest(f"invalid sort field {sort!r}; valid: {', '.join(SORTS)}", parameter="sort")
        with self._lock:
            matching = self._matching(request, sort)
            chosen = matching[number * size : (number + 1) * size]
            page = [self._run_body(r) for r in chosen]
        total = len(matching)
        last = max(0, math.ceil(total / size) - 1)
        has_next = (number + 1) * size < total
        query = "&".join(f"{k}={v[-1]}" for k, v in request.query.items())
        base = f"{LIVE_LINK_HOST}{PATH}"
        links = {
            "self": f"{base}?{query}" if query else base,
            "first": f"{base}?page[number]=0&page[size]={size}",
            "last": f"{base}?page[number]={last}&page[size]={size}",
        }
        if has_next:
            links["next"] = f"{base}?page[number]={number + 1}&page[size]={size}"
        if number > 0:
            links["prev"] = f"{base}?page[number]={number - 1}&page[size]={size}"
        meta = {
            "type": "number_size",
            "number": number,
            "size": size,
            "total": total,
            "first_number": 0,
            "prev_number": number - 1 if number > 0 else None,
            "next_number": number + 1 if has_next else None,
            "last_number": last,
        }
        return Response(200, {"data": page, "meta": {"page": meta}, "links": links})

    def get_run(self, request: Request) -> Response:
        raw_id = request.path_params["run_id"]
        if not raw_id.isdigit():
            raise BadRequest(f"invalid run_id {raw_id!r}: must be an integer", parameter="run_id")
        with self._lock:
            record = self.runs.get(int(raw_id))
            if record is None or record.hard_deleted:
                return Response(404, NOT_FOUND_BODY)
            return Response(200, {"data": self._run_body(record)})

    def _matching(self, request: Request, sort: str) -> list[RunRecord]:
        filters = tuple(
            (k, request.arg(k))
            for k in (
                "filter[id]",
                "filter",
                "filter[owner_id]",
                "filter[status]",
                "filter[project_id]",
                "filter[tags]",
                "filter[params]",
                "filter[parent_run_id]",
            )
            if request.arg(k) not in (None, "")
        )
        key = (sort, filters)
        by_id = request.arg("filter[id]")
        if by_id or key not in self._cache:  # a list of ids is looked up, not scanned for (nor cached)
            wanted = _id_list(by_id, self.id_lists) if by_id else None
            pool = [self.runs[i] for i in wanted if i in self.runs] if wanted is not None else self.runs.values()
            records = [r for r in pool if not r.hard_deleted]
            for name, value in filters:
                if name != "filter[id]" and value is not None:
                    records = [r for r in records if self._keep(r, name, value)]
            descending = sort.startswith("-")
            field_name = sort.lstrip("-")
            if field_name == "duration":
                records.sort(key=lambda r: (r.duration is None, r.duration or 0.0, r.id), reverse=descending)
            elif field_name == "name":
                records.sort(key=lambda r: (r.name, r.id), reverse=descending)
            else:
                attr = "created_us" if field_name == "created_at" else "updated_us"
                records.sort(key=lambda r: (getattr(r, attr), r.id), reverse=descending)
            if by_id:
                return records
            self._cache[key] = records
        return self._cache[key]

    def _keep(self, rec: RunRecord, name: str, value: str) -> bool:
        if name == "filter":
            text = value.lower()
            attrs = self.render(rec)["attributes"]
            return text in attrs["name"].lower() or text in attrs["description"].lower()
        if name == "filter[owner_id]":
            return rec.owner_id == value
        if name == "filter[status]":
            if value not in STATUSES:
                raise BadRequest(f"invalid status {value!r}; valid: {', '.join(STATUSES)}", parameter=name)
            return rec.status == value
        if name == "filter[project_id]":
            if not value.lstrip("-").isdigit():
                raise BadRequest("filter[project_id] must be an integer", parameter=name)
            return rec.project_id == int(value)
        if name == "filter[parent_run_id]":
            return rec.parent_id is None if value == "null" else str(rec.parent_id) == value
        attrs = self.render(rec)["attributes"]
        pairs = {p["key"]: p["value"] for p in (attrs.get("tags" if name == "filter[tags]" else "params") or [])}
        return all(_matches_condition(pairs, cond, name) for cond in value.split(","))

    # -- change over time -------------------------------------------------------------------

    def advance(
        self,
        *,
        new: int = 0,
        update: int | list[int] = 0,
        finish: int | list[int] = 0,
        soft_delete: int | list[int] = 0,
        hard_delete: int | list[int] = 0,
        log_metrics: int | list[int] = 0,
        strip: int | list[int] = 0,
    ) -> dict[str, list[int]]:
        """Apply changes stamped with the sandbox clock's now; returns the affected run ids.

        Each argument is a count (runs picked deterministically) or a list of run ids.
        ``update`` bumps a run's version (one metric removed, one added, a param and a tag
        change) and may finish it; ``finish`` completes unfinished runs. ``log_metrics`` changes an
        unfinished run's metrics *without* moving its ``updated_at``, as metric logging does
        live: only a re-read by id notices. ``strip`` empties a run's metrics, params and tags.
        """
        if self.frozen:
            raise RuntimeError("a frozen Model Lab store never changes")
        with self._lock:
            self._steps += 1
            r = rng(self.seed, "ml-advance", self._steps)
            live = [x for x in self.runs.values() if not x.hard_deleted and x.raw is None]
            unfinished = [x for x in live if x.status in UNFINISHED]
            changed: dict[str, list[int]] = {}
            changed["finish"] = [self._finish(x, r) for x in _pick(finish, unfinished, self.runs, r)]
            changed["update"] = [self._update(x, r) for x in _pick(update, live, self.runs, r)]
            changed["strip"] = []
            for x in _pick(strip, live, self.runs, r):
                x.stripped = True
                x.updated_us = self.clock.now_us()
                changed["strip"].append(x.id)
            changed["log_metrics"] = []
            for x in _pick(log_metrics, unfinished, self.runs, r):
                x.version += 1
                changed["log_metrics"].append(x.id)
            changed["soft_delete"] = [self._soft_delete(x) for x in _pick(soft_delete, live, self.runs, r)]
            changed["hard_delete"] = []
            for x in _pick(hard_delete, live, self.runs, r):
                x.hard_deleted = True
                changed["hard_delete"].append(x.id)
            next_id = max(self.runs, default=69999) + 1
            changed["new"] = []
            for i in range(new):
                record = self._new_record(next_id + i, self.clock.now_us(), fresh=True)
                self.runs[record.id] = record
                changed["new"].append(record.id)
            self._cache.clear()
            return changed

    def _finish(self, rec: RunRecord, r: Any) -> int:
        now = self.clock.now_us()
        rec.status = r.choice(("completed", "completed", "failed"))
        rec.completed_us = now
        rec.duration = round((now - rec.started_us) / US, 3)
        rec.updated_us = now
        rec.version += 1
        return rec.id

    def _update(self, rec: RunRecord, r: Any) -> int:
        rec.version += 1
        rec.updated_us = self.clock.now_us()
        if rec.status in ("pending", "running") and r.random() < 0.3:
            rec.status = "running" if rec.status == "pending" else "completed"
        return rec.id

    def _soft_delete(self, rec: RunRecord) -> int:
        rec.deleted_us = rec.updated_us = self.clock.now_us()
        return rec.id

    def truth(self) -> list[dict[str, Any]]:
        """Every run a complete sync should hold, rendered as the API sends it."""
        with self._lock:
            return [self.render(r) for r in self.runs.values() if not r.hard_deleted]


# (low range, spread range) per metric family; integral metrics are JSON integers, as live.
_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "loss": ((0.05, 1.5), (0.1, 3.0)),
    "rate": ((0.3, 0.85), (0.01, 0.15)),
    "learning_rate": ((0.0, 0.0), (1e-5, 1e-3)),
    "grad_norm": ((0.05, 1.0), (0.5, 20.0)),
    "cost": ((0.0, 0.5), (0.1, 40.0)),
    "seconds": ((10.0, 600.0), (60.0, 86_400.0)),
    "tokens": ((1_000, 20_000), (10**5, 10**9)),
    "epoch": ((0, 1), (1, 10)),
}


def _family(key: str) -> str:
    if "loss" in key:
        return "loss"
    if key in ("accuracy", "precision", "recall", "f1", "auc", "system/completion_rate"):
        return "rate"
    if key.startswith("cost/"):
        return "cost"
    if key in ("train_runtime", "tokens_per_second", "system/gpu_0_memory_usage_megabytes"):
        return "seconds"
    if key in ("total_flos", "system/total_input_tokens", "system/total_output_tokens"):
        return "tokens"
    return key if key in _RANGES else "grad_norm"


def _summary(r: Any, key: str) -> dict[str, Any]:
    """One metric summary, keys in the live service's order (key, min, max, mean, latest, ...)."""
    count = r.randint(1, 500)
    (low_a, low_b), (spread_a, spread_b) = _RANGES[_family(key)]
    if key in INTEGER_METRICS:
        low: float = r.randint(int(low_a), int(low_b))
        high: float = low + r.randint(int(spread_a), int(spread_b))
        mean: float = (low + high) // 2
    else:
        low = round(r.uniform(low_a, low_b), 6)
        high = round(
            min(low + r.uniform(spread_a, spread_b), 1.0)
            if _family(key) == "rate"
            else low + r.uniform(spread_a, spread_b),
            6,
        )
        mean = round((low + high) / 2, 6)
    latest = r.choice((low, high, mean))
    if count <= 2 and _family(key) == "rate" and r.random() < 0.3:  # as recorded live: latest outside [min, max]
        low = high = mean = 1
        latest = 0
    summary: dict[str, Any] = {"key": key, "min": low, "max": high, "mean": mean, "latest": latest}
    if r.random() < 0.4:
        summary["stddev"] = round((high - low) / 4, 6)
    summary["count"] = count
    if r.random() < 0.9:
        first = r.choice((0, 1))
        summary.update(first_step=first, last_step=first + r.randint(0, count))
    return summary


def _id_list(value: str, lists: bool = True) -> set[int]:
    try:
        ids = {int(v) for v in value.split(",") if v.strip()}
    except ValueError:
        raise BadRequest("filter[id] must be a comma-separated list of integers", parameter="filter[id]") from None
    if not lists and len(ids) > 1:
        raise BadRequest("filter[id] must be an integer", parameter="filter[id]")
    return ids


def _int_arg(request: Request, name: str, default: int, *, low: int, high: int | None) -> int:
    value = request.arg(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer", parameter=name) from None
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise BadRequest(f"{name} must be {bound}", parameter=name)
    return number


def _matches_condition(pairs: dict[str, str], condition: str, parameter: str) -> bool:
    key, sep, expected = condition.partition(":")
    if not sep:
        raise BadRequest(f"{parameter} entries must look like key:value", parameter=parameter)
    actual = pairs.get(key)
    if actual is None:
        return False
    for op in (">=", "<=", ">", "<"):
        if expected.startswith(op):
            try:
                a, b = float(actual), float(expected[len(op) :])
            except ValueError:
                return False
            return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]
    return actual.lower() == expected.lower()


def _pick(spec: int | list[int], pool: list[RunRecord], runs: dict[int, RunRecord], r: Any) -> list[RunRecord]:
    if isinstance(spec, list):
        return [runs[i] for i in spec if i in runs]
    return r.sample(pool, min(spec, len(pool))) if spec else []
