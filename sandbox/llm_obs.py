"""LLM Observability experimentation entities: generated data, the search endpoint, change over time.

Projects, datasets, dataset records, experiments and experiment runs are kept as small
``Entity`` records and rendered on demand from (seed, ordinal, edits), so 100k records cost
little memory. Shapes follow the published reference (docs/upstream-contract.md): projects
and datasets are JSON:API objects, records, experiments and runs are flat; optional fields are
absent when unset, while required-and-nullable ones (``description``, ``metadata``, ``config``, ``input``,
``expected_output``) are present and may be null. Experiments have no ``id`` unless the
store is built with ``experiment_ids=True``, as in the docs and the client model.

Sandbox assumptions where the docs are silent:

- Order: scopes come in the order projects, datasets, dataset_records, experiments,
  experiment_runs (only those requested); within a scope newest ``updated_at`` first, ties by
  id descending. Experiment runs have no ``updated_at`` and sort by ``created_at``.
- ``page.limit`` (default 100, 1..1000) counts items across all scopes of one page.
- ``meta.after`` is a keyset position (scope, sort time, id) bound to the search's filter, so
  inserts and updates never shift later pages; an entity updated mid-walk moves to the front
  and is seen by the next walk. The last page is a 200 with ``meta: {}``.
- ``filter.query`` is a case-insensitive substring of the name (projects, datasets,
  experiments) or of the JSON text of ``input`` (records); experiment runs ignore it.
- ``filter.version`` keeps dataset records added in that dataset version or earlier.
- Soft deletes hide an entity unless ``include_deleted`` (or, exclusively, ``is_deleted``);
  only experiments show ``deleted_at``. Deletes do not cascade to children.
- ``content_preview.limit`` cuts every string inside ``input`` and ``expected_output``.
"""

from __future__ import annotations

import base64
import binascii
import threading
import zlib
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from sandbox.common import US, BadRequest, Clock, Request, Response, rfc3339, rng, stable_uuid

SCOPES = ("projects", "datasets", "dataset_records", "experiments", "experiment_runs")
UPDATABLE = ("projects", "datasets", "dataset_records", "experiments")  # runs have no updated_at
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
POINTER = "/data/attributes"

PROJECT_NAMES = (
    "support-bot",
    "search-ranker",
    "Résumé screener",
    "code-review-agent",
    "客服助手",
    "sql-copilot",
)
DATASET_NAMES = ("golden-set", "regression-suite", "edge cases ✓", "adversarial-prompts", "multilingual-qa")
PIPELINES = ("rag-eval", "prompt-sweep", "judge-calibration", "tool-use-eval", "summarization-eval")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "llama-3.1-70b", "qwen3-32b")
STATUSES = ("completed", "failed", "interrupted", "running")
ERRORS = (
    "TimeoutError: task exceeded 600s",
    "RateLimitError: 429 from model provider after 5 retries",
    "ValueError: evaluator 'faithfulness' returned NaN",
)
USERS = (
    ("Jane Doe", "jane.doe@example.com"),
    ("Li Wei", "li.wei@example.com"),
    ("Zoë Martin", "zoe.martin@example.com"),
    ("Ana García", "ana.garcia@example.com"),
)
QUESTIONS = (
    "How do I reset my password?",
    "Quelle est la politique de remboursement ?",
    "¿Dónde está mi pedido #4821?",
    "注文をキャンセルするには？",
    "Summarize the attached incident report in two sentences.",
    'Translate "good morning" into German 🌅',
    "Why does SELECT * FROM orders WHERE id = 'x' return nothing?",
)
WORDS = (
    "the", "model", "latency", "retrieval", "context", "window", "tokens", "answer", "user", "refund",
    "policy", "naïve", "café", "über", "日本語", "données", "🚀", "evaluation", "ground", "truth",
    "prompt", "completion", "said:", '"quoted"', "tab\there", "back\\slash", "50%", "<tag>", "&", "ok.",
)  # fmt: skip
CORPUS = "\n\n".join(" ".join(rng("llm-corpus", i).choices(WORDS, k=80)) for i in range(64))
# Input shapes cycle by record ordinal, so every JSON type shows up in even a small data set.
INPUT_SHAPES = ("text", "object", "long_text", "int", "array", "float", "empty_object", "bool", "empty_array")
OUTPUT_SHAPES = ("text", "object", "null", "float", "array", "bool", "int", "empty_object", "empty_array")


@dataclass(slots=True)
class Entity:
    """One entity of any scope; everything else is rendered from (seed, scope, n, edits)."""

    n: int  # ordinal within its scope
    id: str
    created_us: int
    updated_us: int  # experiment runs keep it equal to created_us: their sort key
    parent: str = ""  # project of a dataset; dataset of a record or experiment; experiment of a run
    project: str = ""  # project of an experiment
    version: int = 1  # dataset: current_version; record: version added in; experiment: dataset_version
    edits: int = 0  # updates so far; re-rolls the mutable fields
    status: str = ""  # experiment
    count: int = 0  # experiment: run_count; run: run_number
    ref: str | None = None  # experiment: parent_experiment_id
    deleted_us: int | None = None


@dataclass(frozen=True)
class Search:
    """A validated search request."""

    scopes: tuple[int, ...]  # indexes into SCOPES, ascending
    limit: int = DEFAULT_LIMIT
    cursor: tuple[int, int, str] | None = None  # (scope index, sort time, id) of the last item sent
    query: str = ""
    version: int | None = None
    deleted: str = "live"  # live, all, only
    user_data: bool = False
    preview: int | None = None

    @property
    def fingerprint(self) -> int:
        """Binds a cursor to the filter it was issued for."""
        return zlib.crc32(orjson.dumps([self.scopes, self.query, self.version, self.deleted]))


@dataclass
class LlmObsStore:
    seed: int
    clock: Clock
    experiment_ids: bool = False
    entities: dict[str, dict[str, Entity]] = field(default_factory=lambda: {s: {} for s in SCOPES})
    _next: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCOPES, 0))
    _orders: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _steps: int = 0

    # -- data -------------------------------------------------------------------------------

    @classmethod
    def generated(
        cls,
        seed: int,
        clock: Clock,
        *,
        projects: int,
        records_per_dataset: int,
        experiment_ids: bool,
        days: float,
        experiments_per_dataset: int = 4,
    ) -> LlmObsStore:
        store = cls(seed, clock, experiment_ids)
        end = clock.anchor_us - 60 * US
        start = end - int(days * 86400 * US)
        for p in range(projects):
            r = rng(seed, "llm-gen", p)
            project = store._generate("projects", r, start, start + (end - start) // 5, end)
            for _ in range(r.randint(2, 4)):
                store._generate_dataset(project, r, records_per_dataset, experiments_per_dataset, end)
        return store

    def _new(self, scope: str, created_us: int, updated_us: int, **fields: Any) -> Entity:
        n = self._next[scope]
        self._next[scope] = n + 1
        uid = stable_uuid(self.seed, scope, n)
        entity = Entity(n, f"rec-{uid}" if scope == "dataset_records" else uid, created_us, updated_us, **fields)
        self.entities[scope][entity.id] = entity
        self._orders.clear()
        return entity

    def _generate(self, scope: str, r: Any, low: int, high: int, end: int, **fields: Any) -> Entity:
        """A past entity created in [low, high), maybe updated since, 3% soft-deleted."""
        created = _between(r, low, high)
        updated = created if scope == "experiment_runs" or r.random() < 0.4 else _between(r, created, end)
        entity = self._new(scope, created, updated, **fields)
        if r.random() < 0.03:
            entity.deleted_us = _between(r, updated, end)
            if scope != "experiment_runs":
                entity.updated_us = entity.deleted_us
        return entity

    def _generate_dataset(
        self, project: Entity, r: Any, records_per_dataset: int, experiments_per_dataset: int, end: int
    ) -> None:
        low = project.created_us
        versions = r.randint(1, 4)
        dataset = self._generate("datasets", r, low, low + (end - low) // 3, end, parent=project.id, version=versions)
        count = max(0, round(records_per_dataset * r.uniform(0.6, 1.4)))
        for i in range(count):  # later records belong to later versions
            low = dataset.created_us + (end - dataset.created_us) * i // max(count, 1)
            self._generate(
                "dataset_records",
                r,
                low,
                max(low + 1, low + (end - low) // 4),
                end,
                parent=dataset.id,
                version=1 + i * versions // count,
            )
        siblings: list[Entity] = []
        mean = experiments_per_dataset
        for _ in range(r.randint(max(1, round(mean * 0.5)), max(1, round(mean * 1.5)))):
            created = _between(r, dataset.created_us, end)
            recent = end - created < 2 * 86400 * US
            experiment = self._generate(
                "experiments",
                r,
                created,
                created + 1,
                end,
                parent=dataset.id,
                project=project.id,
                version=r.randint(1, versions),
                count=r.randint(1, 5),
                status=r.choices(STATUSES, weights=(75, 10, 7, 40 if recent else 0))[0],
                ref=r.choice(siblings).id if siblings and r.random() < 0.4 else None,
            )
            siblings.append(experiment)
            step = max(1, min(600 * US, (end - experiment.created_us) // (experiment.count + 1)))
            for number in range(1, experiment.count + 1):
                low = experiment.created_us + number * step
                self._generate("experiment_runs", r, low, low + step // 2 + 1, end, parent=experiment.id, count=number)

    # -- rendering --------------------------------------------------------------------------

    def render(self, scope: str, e: Entity, search: Search) -> dict[str, Any]:
        """The entity as the search endpoint sends it."""
        attributes: dict[str, Any]
        if scope == "projects":
            r = rng(self.seed, "project", e.n, e.edits)
            attributes = {
                "created_at": rfc3339(e.created_us),
                "description": _description(r, "LLM app"),
                "name": self._name(scope, e),
                "updated_at": rfc3339(e.updated_us),
            }
            return {"id": e.id, "type": "projects", "attributes": attributes}
        if scope == "datasets":
            r = rng(self.seed, "dataset", e.n, e.edits)
            attributes = {
                "created_at": rfc3339(e.created_us),
                "current_version": e.version,
                "description": _description(r, "Curated examples"),
                "metadata": _metadata(r),
                "name": self._name(scope, e),
                "updated_at": rfc3339(e.updated_us),
            }
            return {"id": e.id, "type": "datasets", "attributes": attributes}
        if scope == "dataset_records":
            r = rng(self.seed, "record", e.n, e.edits)
            expected = _value(OUTPUT_SHAPES[(e.n + e.n // len(INPUT_SHAPES) + e.edits) % len(OUTPUT_SHAPES)], r)
            source = self._input(e)
            if search.preview is not None:
                source, expected = _truncate(source, search.preview), _truncate(expected, search.preview)
            return {
                "created_at": rfc3339(e.created_us),
                "dataset_id": e.parent,
                "expected_output": expected,
                "id": e.id,
                "input": source,
                "metadata": _metadata(r),
                "updated_at": rfc3339(e.updated_us),
            }
        if scope == "experiments":
            return self._experiment(e, search)
        r = rng(self.seed, "run", e.n)
        return {
            "aggregate_data": _aggregate(r, e.count * 10),
            "created_at": rfc3339(e.created_us),
            "experiment_id": e.parent,
            "id": e.id,
            "run_number": e.count,
        }

    def _experiment(self, e: Entity, search: Search) -> dict[str, Any]:
        r = rng(self.seed, "experiment", e.n, e.edits)
        fixed = rng(self.seed, "experiment-fixed", e.n)
        model = MODELS[e.n % len(MODELS)]  # as in the name
        config = (
            None
            if fixed.random() < 0.15
            else {
                "model": model,
                "temperature": fixed.choice((0, 0.2, 0.7)),
                "max_tokens": fixed.choice((256, 1024)),
                "prompt_template": "Answer using only the context.\n\n{context}\n\nQ: {question}",
                "evaluators": fixed.sample(("faithfulness", "exact_match", "toxicity", "llm_judge"), 2),
            }
        )
        body: dict[str, Any] = {
            "aggregate_data": None if e.status == "running" and r.random() < 0.7 else _aggregate(r, e.count * 40),
            "config": config,
            "created_at": rfc3339(e.created_us),
            "dataset_id": e.parent,
            "dataset_version": e.version,
            "description": _description(r, f"Evaluate {model} on"),
            "experiment": self._pipeline(e),
            "metadata": _metadata(r),
            "name": self._name("experiments", e),
            "project_id": e.project,
            "run_count": e.count,
            "status": e.status,
            "updated_at": rfc3339(e.updated_us),
        }
        if search.user_data:
            name, email = USERS[fixed.randrange(len(USERS))]
            user_id = stable_uuid("user", email)
            body["author"] = {
                "email": email,
                "handle": email,
                "icon": f"https://secure.gravatar.com/avatar/{user_id.replace('-', '')}?s=48&d=retro",
                "id": user_id,
                "name": name,
            }
        if e.deleted_us is not None:
            body["deleted_at"] = rfc3339(e.deleted_us)
        if e.status == "failed":
            body["error"] = r.choice(ERRORS)
        if e.ref is not None:
            body["parent_experiment_id"] = e.ref
        if self.experiment_ids:
            body["id"] = e.id
        return dict(sorted(body.items()))

    def _pipeline(self, e: Entity) -> str:
        return PIPELINES[zlib.crc32(e.project.encode()) % len(PIPELINES)] if e.n % 3 else PIPELINES[e.n % 5]

    def _name(self, scope: str, e: Entity) -> str:
        if scope == "projects":
            base = PROJECT_NAMES[e.n % len(PROJECT_NAMES)]
            return base if e.n < len(PROJECT_NAMES) else f"{base}-{e.n // len(PROJECT_NAMES) + 1}"
        if scope == "datasets":
            return f"{DATASET_NAMES[e.n % len(DATASET_NAMES)]} #{e.n}"
        return f"{self._pipeline(e)} {MODELS[e.n % len(MODELS)]} #{e.n}"

    def _input(self, e: Entity) -> Any:
        return _value(INPUT_SHAPES[e.n % len(INPUT_SHAPES)], rng(self.seed, "input", e.n))

    # -- endpoint ---------------------------------------------------------------------------

    def search(self, request: Request) -> Response:
        search = parse_search(request.body)
        with self._lock:
            results: dict[str, list[dict[str, Any]]] = {SCOPES[i]: [] for i in search.scopes}
            last: tuple[int, int, str] | None = None
            sent, more = 0, False
            for si in search.scopes:
                if search.cursor and si < search.cursor[0]:
                    continue
                scope = SCOPES[si]
                order = self._order(scope)
                top = bisect_left(order, search.cursor[1:]) if search.cursor and si == search.cursor[0] else len(order)
                for i in range(top - 1, -1, -1):
                    entity = self.entities[scope][order[i][1]]
                    if not self._keep(scope, entity, search):
                        continue
                    if sent == search.limit:
                        more = True
                        break
                    results[scope].append(self.render(scope, entity, search))
                    sent += 1
                    last = (si, *order[i])
                if more:
                    break
        body: dict[str, Any] = {
            "data": {
                "id": stable_uuid(self.seed, "search", zlib.crc32(request.body)),
                "type": "experimentation",
                "attributes": results,
            },
            "meta": {},
        }
        if more and last is not None:
            body["meta"]["after"] = _encode_cursor(search.fingerprint, last)
            return Response(206, body)
        return Response(200, body)

    def _order(self, scope: str) -> list[tuple[int, str]]:
        """(sort time, id) of every entity of ``scope``, ascending; cached until the next change."""
        if scope not in self._orders:
            self._orders[scope] = sorted((e.updated_us, e.id) for e in self.entities[scope].values())
        return self._orders[scope]

    def _keep(self, scope: str, e: Entity, search: Search) -> bool:
        if (e.deleted_us is not None) != (search.deleted == "only") and search.deleted != "all":
            return False
        if scope == "dataset_records" and search.version is not None and e.version > search.version:
            return False
        if not search.query or scope == "experiment_runs":
            return True
        text = orjson.dumps(self._input(e)).decode() if scope == "dataset_records" else self._name(scope, e)
        return search.query.lower() in text.lower()

    def truth(self) -> dict[str, list[dict[str, Any]]]:
        """scope -> every entity a complete sync should hold (deleted ones and authors included),
        in search order, rendered as the search endpoint sends it."""
        search = Search(scopes=tuple(range(len(SCOPES))), deleted="all", user_data=True)
        with self._lock:
            return {
                scope: [self.render(scope, self.entities[scope][i], search) for _, i in reversed(self._order(scope))]
                for scope in SCOPES
            }

    # -- change over time -------------------------------------------------------------------

    def advance(
        self,
        *,
        new_records: int = 0,
        update: int = 0,
        soft_delete: int = 0,
        hard_delete: int = 0,
        new_experiments: int = 0,
        bump_dataset_version: int = 0,
    ) -> dict[str, list[str]]:
        """Apply changes stamped with the sandbox clock's now; returns the affected ids per kind.

        ``update`` re-rolls mutable fields of projects, datasets, records and experiments (a
        running experiment finishes); ``new_experiments`` adds running experiments with their
        runs (listed under ``new_experiment_runs``); ``bump_dataset_version`` raises a
        dataset's ``current_version`` and adds 1-5 records in it (listed under ``new_records``).
        """
        with self._lock:
            self._steps += 1
            r = rng(self.seed, "llm-advance", self._steps)
            changed: dict[str, list[str]] = {
                k: []
                for k in (
                    "update",
                    "soft_delete",
                    "hard_delete",
                    "new_records",
                    "new_experiments",
                    "new_experiment_runs",
                    "bump_dataset_version",
                )
            }
            for scope, e in self._sample(r, update, UPDATABLE, live=True):
                self._update(scope, e, r)
                changed["update"].append(e.id)
            for scope, e in self._sample(r, soft_delete, SCOPES, live=True):
                e.deleted_us = self.clock.now_us()
                if scope != "experiment_runs":
                    e.updated_us = e.deleted_us
                changed["soft_delete"].append(e.id)
            for scope, e in self._sample(r, hard_delete, SCOPES, live=False):
                del self.entities[scope][e.id]
                changed["hard_delete"].append(e.id)
            datasets = [e for _, e in self._sample(r, 10**9, ("datasets",), live=True)]
            if datasets:
                for _ in range(new_records):
                    changed["new_records"].append(self._add_record(r.choice(datasets)))
                for _ in range(new_experiments):
                    experiment, runs = self._add_experiment(r.choice(datasets), r)
                    changed["new_experiments"].append(experiment)
                    changed["new_experiment_runs"].extend(runs)
                for dataset in r.sample(datasets, min(bump_dataset_version, len(datasets))):
                    dataset.version += 1
                    dataset.updated_us = self.clock.now_us()
                    changed["bump_dataset_version"].append(dataset.id)
                    changed["new_records"].extend(self._add_record(dataset) for _ in range(r.randint(1, 5)))
            self._orders.clear()
            return changed

    def _sample(self, r: Any, count: int, scopes: tuple[str, ...], *, live: bool) -> list[tuple[str, Entity]]:
        pool = [(s, e) for s in scopes for e in self.entities[s].values() if not (live and e.deleted_us is not None)]
        return r.sample(pool, min(count, len(pool))) if count else []

    def _update(self, scope: str, e: Entity, r: Any) -> None:
        e.edits += 1
        e.updated_us = self.clock.now_us()
        if scope == "experiments" and e.status == "running":
            e.status = r.choice(("completed", "completed", "failed", "interrupted"))

    def _add_record(self, dataset: Entity) -> str:
        now = self.clock.now_us()
        return self._new("dataset_records", now, now, parent=dataset.id, version=dataset.version).id

    def _add_experiment(self, dataset: Entity, r: Any) -> tuple[str, list[str]]:
        siblings = [e.id for e in self.entities["experiments"].values() if e.parent == dataset.id]
        now = self.clock.now_us()
        experiment = self._new(
            "experiments",
            now,
            now,
            parent=dataset.id,
            project=dataset.parent,
            version=dataset.version,
            status="running",
            count=r.randint(1, 4),
            ref=r.choice(siblings) if siblings and r.random() < 0.5 else None,
        )
        runs = []
        for number in range(1, experiment.count + 1):
            at = self.clock.now_us()
            runs.append(self._new("experiment_runs", at, at, parent=experiment.id, count=number).id)
        return experiment.id, runs


# -- request parsing ------------------------------------------------------------------------


def parse_search(raw: bytes) -> Search:
    """Validate a search body; raises BadRequest with a JSON pointer to the offending field."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    data = _object(body, "data", "/data", required=True)
    if data.get("type") != "experimentation":
        raise BadRequest("data.type must be 'experimentation'", pointer="/data/type")
    attributes = _object(data, "attributes", POINTER, required=True)
    flt = _object(attributes, "filter", f"{POINTER}/filter", required=True)
    scope = flt.get("scope")
    pointer = f"{POINTER}/filter/scope"
    if not isinstance(scope, list) or not scope:
        raise BadRequest(f"filter.scope must be a non-empty list of: {', '.join(SCOPES)}", pointer=pointer)
    invalid = [s for s in scope if s not in SCOPES]
    if invalid:
        raise BadRequest(f"invalid scope {invalid[0]!r}; valid: {', '.join(SCOPES)}", pointer=pointer)
    page = _object(attributes, "page", f"{POINTER}/page")
    preview = _object(attributes, "content_preview", f"{POINTER}/content_preview")
    include = _object(attributes, "include", f"{POINTER}/include")
    version = flt.get("version")
    if version is not None and not _is_int(version):
        raise BadRequest("filter.version must be an integer or null", pointer=f"{POINTER}/filter/version")
    query = flt.get("query", "")
    if not isinstance(query, str):
        raise BadRequest("filter.query must be a string", pointer=f"{POINTER}/filter/query")
    search = Search(
        scopes=tuple(sorted({SCOPES.index(s) for s in scope})),
        limit=_bounded(page, "limit", f"{POINTER}/page/limit", DEFAULT_LIMIT, MAX_LIMIT),
        query=query,
        version=version,
        deleted=_deleted(flt),
        user_data=_flag(include, "user_data", "include"),
        preview=_bounded(preview, "limit", f"{POINTER}/content_preview/limit", None, None),
    )
    cursor = page.get("cursor")
    if cursor is None:
        return search
    return replace(search, cursor=_decode_cursor(cursor, search))


def _object(parent: dict[str, Any], key: str, pointer: str, *, required: bool = False) -> dict[str, Any]:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(
            f"{pointer.rsplit('/', 1)[-1]} {'is required' if value is None else 'must be an object'}",
            pointer=pointer,
        )
    return value


def _deleted(flt: dict[str, Any]) -> str:
    if _flag(flt, "is_deleted", "filter"):
        return "only"
    return "all" if _flag(flt, "include_deleted", "filter") else "live"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bounded(parent: dict[str, Any], key: str, pointer: str, default: int | None, high: int | None) -> Any:
    value = parent.get(key)
    if value is None:
        return default
    if not _is_int(value) or value < 1 or (high is not None and value > high):
        bound = f"between 1 and {high}" if high else "a positive integer"
        raise BadRequest(f"{pointer.removeprefix(POINTER + '/').replace('/', '.')} must be {bound}", pointer=pointer)
    return value


def _flag(parent: dict[str, Any], key: str, section: str) -> bool:
    value = parent.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{section}.{key} must be a boolean", pointer=f"{POINTER}/{section}/{key}")
    return value


def _encode_cursor(fingerprint: int, position: tuple[int, int, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([fingerprint, *position])).decode().rstrip("=")


def _decode_cursor(cursor: Any, search: Search) -> tuple[int, int, str]:
    pointer = f"{POINTER}/page/cursor"
    try:
        fingerprint, si, sort_us, entity_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (_is_int(si) and _is_int(sort_us) and isinstance(entity_id, str)):
            raise ValueError
    except (TypeError, ValueError, binascii.Error):
        raise BadRequest("page.cursor is malformed", pointer=pointer) from None
    if fingerprint != search.fingerprint or si not in search.scopes:
        raise BadRequest("page.cursor does not belong to this search", pointer=pointer)
    return si, sort_us, entity_id


# -- generated values -----------------------------------------------------------------------


def _between(r: Any, low: int, high: int) -> int:
    return low + r.randrange(max(1, high - low))


def _description(r: Any, prefix: str) -> str | None:
    roll = r.random()
    return None if roll < 0.2 else "" if roll < 0.5 else f"{prefix} {r.choice(QUESTIONS)[:-1].lower()}"


def _metadata(r: Any) -> dict[str, Any] | None:
    roll = r.random()
    if roll < 0.2:
        return None
    if roll < 0.4:
        return {}
    return {
        "source": r.choice(("prod-traces", "synthetic", "annotated")),
        "difficulty": r.randint(1, 5),
        "tags": r.sample(("billing", "fr", "ja", "long", "pii"), r.randint(0, 3)),
        "reviewed": r.random() < 0.5,
    }


def _aggregate(r: Any, count: int) -> dict[str, Any] | None:
    if r.random() < 0.15:
        return None
    return {
        "accuracy": {"mean": round(r.uniform(0.4, 0.99), 4), "count": count},
        "latency_ms": {"mean": round(r.uniform(200, 3000), 1), "p95": r.randint(3000, 9000), "count": count},
        "cost_usd": {"sum": round(r.uniform(0.01, 20), 6)},
        "error_rate": round(r.uniform(0, 0.1), 4),
    }


def _value(shape: str, r: Any) -> Any:
    """A JSON value of the given shape. Top-level arrays hold only strings, numbers, objects and
    booleans (the AnyValueItem schema); nested values inside objects may be anything."""
    if shape == "text":
        return r.choice(QUESTIONS)
    if shape == "long_text":  # a few KB cut from a shared corpus: cheap to render for 100k records
        size = r.randint(2000, 6000)
        start = r.randrange(len(CORPUS) - size)
        return CORPUS[start : start + size]
    if shape == "int":
        return r.randint(-1000, 10**6)
    if shape == "float":
        return round(r.uniform(-100, 100), 4)
    if shape == "bool":
        return r.random() < 0.5
    if shape == "array":
        return [
            r.choice(QUESTIONS),
            r.randint(0, 99),
            round(r.random(), 3),
            {"role": "user", "lang": "fr"},
            True,
        ]
    if shape == "empty_array":
        return []
    if shape == "empty_object":
        return {}
    if shape == "null":
        return None
    return {
        "question": r.choice(QUESTIONS),
        "context": {
            "documents": [
                {"id": f"doc-{r.randrange(1000)}", "score": round(r.random(), 3)} for _ in range(r.randint(0, 3))
            ],
            "user": {"name": r.choice(("Zoë", "Łukasz", "王芳")), "emoji": "🚀", "premium": r.random() < 0.5},
        },
        "history": [],
        "options": {},
        "matrix": [[1, 2], [3]],
        "note": None,
    }


def _truncate(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, list):
        return [_truncate(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _truncate(v, limit) for k, v in value.items()}
    return value
