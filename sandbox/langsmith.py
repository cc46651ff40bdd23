"""LangSmith runs: generated traces and ``POST /api/v2/runs/query`` (docs/upstream-contract.md).

Data. Runs come in traces: a CHAIN root (``trace_id == id``, ``parent_run_ids == []``) and one to
six children (mostly LLM, then TOOL, RETRIEVER, sometimes PROMPT, PARSER, EMBEDDING; an EMBEDDING
may sit under a RETRIEVER and an LLM under a TOOL), spread over ``days`` before the clock's anchor.
Run ids are UUIDv7 stamped with the start time, as the LangSmith SDKs make them, and
``dotted_order`` follows the SDK's ``<%Y%m%dT%H%M%S%fZ><id>`` joined by dots from the root. A
trace is generated on demand from (seed, trace index), so a million runs cost a few megabytes:
only the trace boundaries, the pending traces and the traces changed by ``advance`` are kept.
Start times increase strictly with the run index, which turns a time window into an index range
by bisection. Root runs carry the token and cost sums of their trace.

Endpoint semantics where the doc and the SDK are silent (the sandbox's choices):
- the window is ``min_start_time <= start_time < max_start_time``; defaults (now - 1 day, now)
  are resolved on the first page and carried by the cursor, so every page of a walk sees the
  same window;
- items are ordered by (start_time, id) in ``sort_order`` (default DESC). Start times never tie
  here, the id would break a tie;
- the cursor is base64url JSON holding the last (start_time, id), the window and a digest of the
  other known body fields (``page_size`` may change between pages); anything else is a 400;
- ``has_error: false`` means "no error", so pending runs match it;
- ``query_metadata`` comes back on every item as ``null`` (the SDK: "returned automatically");
- ``include_subtree_usage`` is accepted and changes nothing: roots already carry their trace's
  sums and intermediate runs have no token usage of their own;
- ``ai_search`` and ``sem_filter`` are refused with a 400 (no semantic search here);
- ``min_start_time > max_start_time`` gives an empty page, not an error.

Frozen (``frozen=True``, the data never changes): every generated trace is kept, and each rendered
item is kept as JSON bytes per (selects, run), so a page is mostly a join of cached bytes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import itertools
import math
import random
import re
import statistics
import threading
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

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
from sandbox.langsmith_filter import Filter, FilterError, Getter, parse_filter

# The 46 select tokens of the SDK's RunSelectField, in its order; each names a Run field in upper case.
SELECTS = (
    "ID", "NAME", "RUN_TYPE", "STATUS", "START_TIME", "END_TIME", "LATENCY_SECONDS", "FIRST_TOKEN_TIME", "ERROR",
    "ERROR_PREVIEW", "EXTRA", "METADATA", "EVENTS", "INPUTS", "INPUTS_PREVIEW", "OUTPUTS", "OUTPUTS_PREVIEW",
    "MANIFEST", "PARENT_RUN_IDS", "PROJECT_ID", "TRACE_ID", "THREAD_ID", "DOTTED_ORDER", "IS_ROOT",
    "REFERENCE_EXAMPLE_ID", "REFERENCE_DATASET_ID", "TOTAL_TOKENS", "PROMPT_TOKENS", "COMPLETION_TOKENS",
    "TOTAL_COST", "PROMPT_COST", "COMPLETION_COST", "PROMPT_TOKEN_DETAILS", "COMPLETION_TOKEN_DETAILS",
    "PROMPT_COST_DETAILS", "COMPLETION_COST_DETAILS", "PRICE_MODEL_ID", "TAGS", "APP_PATH", "ATTACHMENTS",
    "THREAD_EVALUATION_TIME", "IS_IN_DATASET", "LAST_QUEUED_AT", "SHARE_URL", "FEEDBACK_STATS", "LS_USER_ID",
)  # fmt: skip
# The 44 the published API reference lists: a strict store (a self-hosted server a release or two
# behind the SaaS) refuses a query naming any other with a 400, as a server that validates the
# documented enum does.
DOCUMENTED_SELECTS = tuple(s for s in SELECTS if s not in ("LAST_QUEUED_AT", "LS_USER_ID"))
ALL_FIELDS = tuple(s.lower() for s in SELECTS)
BODY_FIELDS = frozenset(
    {"inputs", "inputs_preview", "outputs", "outputs_preview", "extra", "metadata", "events", "manifest"}
)
RUN_TYPES = ("TOOL", "CHAIN", "LLM", "RETRIEVER", "EMBEDDING", "PROMPT", "PARSER")
# Body fields whose values a cursor must be used with (the SDK resends them all on every page).
CURSOR_BOUND = (
    "ai_search", "filter", "has_error", "ids", "include_subtree_usage", "is_root", "max_feedback_modified_at",
    "max_start_time", "min_feedback_modified_at", "min_start_time", "project_ids", "reference_dataset_id",
    "reference_examples", "run_type", "selects", "sem_filter", "sort_order", "trace_filter", "trace_id", "tree_filter",
)  # fmt: skip
DAY = 86400 * US
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 100, 1000
CACHE_TRACES = 2048  # generated traces kept; a 1000-run page touches about 300
TENANT = "4d2e7a1c-5b8f-4c3a-9e6d-1f0a2b3c4d5e"
APP_ORIGIN = "https://smith.langchain.com"
RFC3339_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")  # a date alone is not a date-time


class Model(NamedTuple):
    name: str
    provider: str
    cls: str  # the LangChain class, which names the run
    prompt_price: float | None  # USD per token; None: the pricing map has no entry
    completion_price: float | None
    cache_price: float | None
    reasoning: bool


MODELS = (
    Model("gpt-4o", "openai", "ChatOpenAI", 2.5e-6, 10e-6, 1.25e-6, False),
    Model("gpt-4o-mini", "openai", "ChatOpenAI", 0.15e-6, 0.6e-6, 0.075e-6, False),
    Model("o4-mini", "openai", "ChatOpenAI", 1.1e-6, 4.4e-6, 0.275e-6, True),
    Model("claude-sonnet-4-5", "anthropic", "ChatAnthropic", 3e-6, 15e-6, 0.3e-6, False),
    Model("claude-3-5-haiku-latest", "anthropic", "ChatAnthropic", 0.8e-6, 4e-6, 0.08e-6, False),
    Model("gemini-2.0-flash", "google_genai", "ChatGoogleGenerativeAI", 0.1e-6, 0.4e-6, 0.025e-6, False),
    Model("llama3.1:8b", "ollama", "ChatOllama", None, None, None, False),
)
MODEL_WEIGHTS = (30, 25, 8, 15, 8, 8, 6)
PRICE_MODEL_IDS = {m.name: stable_uuid("ls-price", m.name) for m in MODELS if m.prompt_price is not None}
CHILD_COUNTS, CHILD_WEIGHTS = (1, 2, 3, 4, 5, 6), (20, 30, 20, 14, 9, 7)
STEPS, STEP_WEIGHTS = ("LLM", "TOOL", "RETRIEVER", "PROMPT", "PARSER", "EMBEDDING"), (50, 20, 14, 6, 6, 4)
ROOT_NAMES = ("AgentExecutor", "RunnableSequence", "support_agent", "rag_pipeline", "LangGraph", "answer_question")
TOOL_NAMES = ("search_web", "get_weather", "sql_query", "calculator", "lookup_order", "send_email")
OTHER_NAMES = {"RETRIEVER": ("VectorStoreRetriever", "PineconeRetriever"), "EMBEDDING": ("OpenAIEmbeddings",),
               "PROMPT": ("ChatPromptTemplate",), "PARSER": ("StrOutputParser", "PydanticOutputParser")}  # fmt: skip
# Seconds, log-uniform between the two bounds.
DURATIONS = {"LLM": (0.3, 25.0), "TOOL": (0.01, 4.0), "RETRIEVER": (0.05, 1.5), "EMBEDDING": (0.03, 0.6),
             "PROMPT": (0.001, 0.02), "PARSER": (0.001, 0.03)}  # fmt: skip
ERROR_RATES = {"LLM": 0.03, "TOOL": 0.07, "RETRIEVER": 0.02, "EMBEDDING": 0.01, "PROMPT": 0.0, "PARSER": 0.02,
               "CHAIN": 0.02}  # fmt: skip
ERRORS = {
    "LLM": (
        "RateLimitError(\"Error code: 429 - {'error': {'message': 'Rate limit reached for requests', "
        "'type': 'requests', 'code': 'rate_limit_exceeded'}}\")",
        "APITimeoutError('Request timed out.')",
        "BadRequestError(\"Error code: 400 - {'error': {'code': 'context_length_exceeded'}}\")",
    ),
    "TOOL": ("ToolException('Order 4411 not found')", "KeyError('city')", "TimeoutError('tool call exceeded 30s')"),
    "RETRIEVER": ("ConnectionError('vector store unavailable: 503')",),
    "EMBEDDING": ("APIConnectionError('Connection error.')",),
    "PARSER": ("OutputParserException('Invalid json output: Überprüfung ✓')",),
    "CHAIN": (
        "GraphRecursionError('Recursion limit of 25 reached without hitting a stop condition.')",
        "ValueError('missing required input: question')",
    ),
}
ROOT_TAGS = ("production", "beta", "experimental", "v2", "customer-facing")
ENVS = ("production", "production", "staging")
SDK_VERSIONS = ("0.3.45", "0.4.1", "0.15.0")
QUESTIONS = (
    ("How do I reset my password?", "Open Settings → Security and choose “Reset password”."),
    ("What is the refund policy for annual plans?", "Annual plans are refundable within 30 days."),
    ("Summarise the Q3 incident report.", "Two outages, both caused by an expired certificate."),
    ("Translate 'Überprüfung abgeschlossen ✓' to English.", "'Review completed ✓'."),
    ("Which regions support data residency?", "The EU and US regions; APAC is in preview."),
    ("Why did my deployment fail with exit code 137?", "The container ran out of memory (OOMKilled)."),
    ("What's the weather in Paris tomorrow?", "Light rain, 14 °C, wind 12 km/h."),
    ("Find orders over $500 placed last week.", "Found 3 orders: #4411, #4415, #4420."),
    ("Draft a polite follow-up email to the customer.", "Hi Ana,\nJust checking in on your ticket…"),
    ('Explain "rate limit" in one sentence.', "A cap on how many requests you may send per period."),
)
SYSTEM_PROMPT = "You are a helpful assistant. Answer concisely."


def _mix(x: int) -> int:
    """splitmix64: a cheap deterministic scramble, used where an rng() per call would be slow."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _uuid7(ms: int, bits: int) -> str:
    value = (ms & (1 << 48) - 1) << 80 | 0x7 << 76 | (bits >> 62 & 0xFFF) << 64 | 0b10 << 62 | bits & (1 << 62) - 1
    return str(uuid.UUID(int=value))


def _dotted(start_us: int, run_id: str) -> str:
    stamp = datetime.fromtimestamp(start_us // US, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}{start_us % US:06d}Z{run_id}"


@dataclass(slots=True)
class _TraceInfo:
    """What every run of one trace shares."""

    t: int  # trace index
    project_id: str
    topic: int  # index into QUESTIONS
    env: str
    sdk_version: str
    temperature: float
    thread_id: str | None
    user_id: str | None


@dataclass(slots=True)
class _Run:
    index: int
    id: str
    trace: _TraceInfo
    parent_ids: tuple[str, ...]
    dotted_order: str
    run_type: str
    name: str
    start_us: int
    tags: tuple[str, ...]
    trace_id: str = ""
    status: str = "PENDING"
    end_us: int | None = None
    model: Model | None = None
    streamed: bool = False
    first_token_us: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cache_read: int = 0
    reasoning: int = 0
    prompt_cost: float | None = None
    completion_cost: float | None = None
    cache_cost: float = 0.0
    reasoning_cost: float = 0.0
    error: str | None = None
    example_id: str | None = None
    dataset_id: str | None = None
    # key -> feedback entries: (score (a number) or label (a string), its modified_at)
    feedback: dict[str, list[tuple[Any, int]]] | None = None
    manifest: bool = False
    attachment: bool = False
    shared: bool = False
    in_dataset: bool = False
    queued_us: int | None = None
    thread_eval_us: int | None = None


@dataclass(frozen=True)
class _Query:
    projects: frozenset[str] | None
    dataset: str | None
    min_us: int
    max_us: int
    asc: bool
    page_size: int
    fields: tuple[str, ...]
    ids: frozenset[str] | None
    trace_id: str | None
    is_root: bool | None
    run_type: str | None
    has_error: bool | None
    examples: frozenset[str] | None
    filter: Filter | None
    trace_filter: Filter | None
    tree_filter: Filter | None
    feedback_window: tuple[int, int] | None
    digest: str


@dataclass
class LangSmithStore:
    """Runs of ``projects`` tracing projects, answering the query endpoint; see the module doc."""

    seed: int
    clock: Clock
    projects: list[str]
    datasets: list[str]
    _first: array = field(default_factory=lambda: array("q", [0]))  # first run index per trace, + end
    _base_us: int = 0
    _window_us: int = 1  # time slot of one generated trace
    _generated: int = 0  # traces below this index are generated; above, made by advance()
    _pending: set[int] = field(default_factory=set)  # traces with a pending run
    _stored: dict[int, list[_Run]] = field(default_factory=dict)  # changed or new traces
    _cache: OrderedDict[int, list[_Run]] = field(default_factory=OrderedDict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _steps: int = 0
    frozen: bool = False  # no advance(); traces never evicted, items served from _rendered
    # Validate as the published reference does: only its 44 select tokens (see DOCUMENTED_SELECTS).
    strict: bool = False
    # Body fields this server does not know (an older release): a query naming one is refused with a 400.
    unknown_fields: frozenset[str] = frozenset()
    _feedback: list[tuple[int, int]] | None = None  # see _feedback_index
    _rendered: dict[tuple[str, ...], dict[int, bytes]] = field(default_factory=dict)  # fields -> index -> JSON

    # -- data -------------------------------------------------------------------------------

    @classmethod
    def generated(cls, seed: int, clock: Clock, *, runs: int, projects: int, days: float) -> LangSmithStore:
        store = cls(
            seed,
            clock,
            [stable_uuid(seed, "ls-project", k) for k in range(projects)],
            [stable_uuid(seed, "ls-dataset", k) for k in range(2)],
        )
        r = rng(seed, "ls-shape")
        total = 0
        for children in r.choices(CHILD_COUNTS, CHILD_WEIGHTS, k=runs // 2 + 1):
            if total >= runs:
                break
            remaining = runs - total
            size = min(children + 1, remaining)
            if remaining - size == 1:  # never leave a lone root for the last trace
                size = size - 1 if size > 2 else size + 1
            total += size
            store._first.append(total)
        n = store._generated = len(store._first) - 1
        span = int(days * DAY)
        store._window_us = span // max(n, 1)
        if n and store._window_us < 64:
            raise ValueError(f"{runs} runs do not fit in {days} days")
        store._base_us = clock.anchor_us - span - 120 * US
        # Pending: the two newest traces, some from the last hour, and some stuck for days.
        recent = max(0, n - max(2, math.ceil(3600 * US / max(store._window_us, 1))))
        store._pending.update(t for t in range(recent, n) if t >= n - 2 or r.random() < 0.3)
        old = min(n, max(0, (clock.anchor_us - 2 * DAY - store._base_us) // max(store._window_us, 1)))
        store._pending.update(r.sample(range(old), min(old, n // 300 + 1)))
        return store

    def project_ids(self) -> list[str]:
        return list(self.projects)

    def earliest_start(self) -> str:
        with self._lock:
            first = self._trace(0)[0].start_us if self._traces() else self.clock.anchor_us
            return rfc3339(first - 60 * US)

    def _traces(self) -> int:
        return len(self._first) - 1

    def _root_start(self, t: int) -> int:
        if t >= self._generated:
            return self._stored[t][0].start_us
        return self._base_us + t * self._window_us + _mix(self.seed * 1_000_003 + t) % max(1, self._window_us // 4)

    def _trace(self, t: int) -> list[_Run]:
        trace = self._stored.get(t)
        if trace is not None:
            return trace
        trace = self._cache.get(t)
        if trace is None:
            trace = self._cache[t] = self._generate(t)
            if len(self._cache) > CACHE_TRACES and not self.frozen:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(t)
        return trace

    def _mutable(self, t: int) -> list[_Run]:
        """The trace, moved to the overlay so a change survives cache eviction."""
        trace = self._trace(t)
        self._stored[t] = trace
        self._cache.pop(t, None)
        return trace

    def _generate(self, t: int) -> list[_Run]:
        size = self._first[t + 1] - self._first[t]
        r = rng(self.seed, "ls-trace", t)
        gap = max(1, min(self._window_us // (2 * size), 20 * US))
        starts = [self._root_start(t)]
        for _ in range(size - 1):
            starts.append(starts[-1] + r.randint(max(1, gap // 4), gap))
        return self._build(t, starts, r, "pending" if t in self._pending else "done")

    def _build(self, t: int, starts: list[int], r: random.Random, mode: str) -> list[_Run]:
        """One trace. ``mode``: "done" (all finished), "pending" (the last child and its
        ancestors still running) or "fresh" (everything running)."""
        project = r.choices(self.projects, [len(self.projects) - k for k in range(len(self.projects))])[0]
        threaded = r.random() < 0.35
        info = _TraceInfo(
            t=t,
            project_id=project,
            topic=r.randrange(len(QUESTIONS)),
            env=r.choice(ENVS),
            sdk_version=r.choice(SDK_VERSIONS),
            temperature=r.choice((0.0, 0.2, 0.7)),
            thread_id=stable_uuid(self.seed, "ls-thread", project, t // 8 * 4 + r.randrange(4)) if threaded else None,
            user_id=stable_uuid(self.seed, "ls-user", r.randrange(6)) if r.random() < 0.75 else None,
        )
        main_model = r.choices(MODELS, MODEL_WEIGHTS)[0]
        first = self._first[t]
        runs: list[_Run] = []
        parents: list[int] = []
        for pos, (run_type, parent) in enumerate(_plan(r, len(starts) - 1)):
            start = starts[pos]
            run_id = _uuid7(start // 1000, r.getrandbits(74))
            above = runs[parent] if parent >= 0 else None
            run = _Run(
                index=first + pos,
                id=run_id,
                trace=info,
                parent_ids=(*above.parent_ids, above.id) if above else (),
                dotted_order=f"{above.dotted_order}.{_dotted(start, run_id)}" if above else _dotted(start, run_id),
                run_type=run_type,
                name=r.choice(ROOT_NAMES) if pos == 0 else "",
                start_us=start,
                tags=tuple(r.sample(ROOT_TAGS, r.choice((0, 1, 1, 2)))) if pos == 0 else (),
                trace_id=runs[0].id if runs else run_id,
            )
            if pos:
                run.tags = (f"seq:step:{pos}",) if r.random() < 0.5 else ()
                if run_type == "LLM":
                    run.model = main_model if r.random() < 0.8 else r.choices(MODELS, MODEL_WEIGHTS)[0]
                    run.name = run.model.cls
                    run.streamed = r.random() < 0.6
                    run.manifest = True
                    run.attachment = r.random() < 0.03
                else:
                    run.name = r.choice(TOOL_NAMES if run_type == "TOOL" else OTHER_NAMES[run_type])
            else:
                if r.random() < 0.1:
                    k = r.randrange(len(self.datasets))
                    run.dataset_id = self.datasets[k]
                    run.example_id = stable_uuid(self.seed, "ls-example", k, r.randrange(40))
                run.manifest = r.random() < 0.5
                run.attachment = r.random() < 0.01
                run.shared = r.random() < 0.01
                run.in_dataset = r.random() < 0.03
            runs.append(run)
            parents.append(parent)
        if mode == "fresh":
            return runs
        running = set()
        if mode == "pending":
            pos = len(runs) - 1
            while pos >= 0:  # the last child and its ancestors
                running.add(pos)
                pos = parents[pos] if pos else -1
        limit = self.clock.anchor_us - US
        ends = [0] * len(runs)
        for pos in range(1, len(runs)):
            low, high = DURATIONS[runs[pos].run_type]
            ends[pos] = runs[pos].start_us + int(math.exp(r.uniform(math.log(low), math.log(high))) * US)
        for pos in range(len(runs) - 1, 0, -1):  # a parent ends after its children
            if parents[pos] > 0:
                ends[parents[pos]] = max(ends[parents[pos]], ends[pos] + r.randint(100, 5000))
        ends[0] = max(ends, default=0) + r.randint(1000, 80_000)
        for pos in range(len(runs) - 1, -1, -1):  # children first: a root's status depends on theirs
            if pos not in running:
                end = max(runs[pos].start_us + 1, min(ends[pos], limit))
                self._complete(runs, runs[pos], r, end, limit)
        _roll_up(runs)
        return runs

    def _complete(self, trace: list[_Run], run: _Run, r: random.Random, end_us: int, limit_us: int) -> None:
        """Finish a running run at ``end_us``: status, error, tokens, costs, root extras."""
        run.end_us = end_us
        message = None
        if run.parent_ids:
            if r.random() < ERROR_RATES[run.run_type]:
                message = r.choice(ERRORS[run.run_type])
        else:
            failed = [c.error.partition("\n")[0] for c in trace[1:] if c.error]
            if failed and r.random() < 0.6:
                message = failed[0]  # the exception propagated up
            elif r.random() < ERROR_RATES["CHAIN"]:
                message = r.choice(ERRORS["CHAIN"])
        if message:
            run.error = (
                f'{message}\n\nTraceback (most recent call last):\n  File "/app/agent.py", line '
                f"{r.randint(20, 400)}, in invoke\n    return self._call(inputs)\n{message}"
            )
        run.status = "ERROR" if run.error else "SUCCESS"

        def later() -> int:
            """A moment after the end, never past ``limit_us`` (now)."""
            return min(limit_us, end_us + r.randint(5, 7200) * US)

        if run.model is not None and not run.error:
            m = run.model
            run.prompt_tokens = int(r.lognormvariate(7, 0.8)) + 20
            run.completion_tokens = int(r.lognormvariate(5, 0.9)) + 1
            run.cache_read = int(run.prompt_tokens * r.uniform(0.2, 0.9)) if r.random() < 0.35 else 0
            run.reasoning = int(run.completion_tokens * r.uniform(0.3, 0.8)) if m.reasoning else 0
            if m.prompt_price is not None and m.completion_price is not None and m.cache_price is not None:
                run.cache_cost = round(run.cache_read * m.cache_price, 10)
                run.prompt_cost = round((run.prompt_tokens - run.cache_read) * m.prompt_price + run.cache_cost, 10)
                run.completion_cost = round(run.completion_tokens * m.completion_price, 10)
                run.reasoning_cost = round(run.reasoning * m.completion_price, 10)
            if run.streamed:
                run.first_token_us = run.start_us + int((end_us - run.start_us) * r.uniform(0.05, 0.4))
        if not run.parent_ids:
            if r.random() < 0.2:
                # Online evaluators score within hours; a quarter of the feedback is a human review or a
                # user's rating that came days later (as of the clock's anchor, never in the future).
                def given() -> int:
                    return later() if r.random() < 0.75 else min(limit_us, end_us + int(r.uniform(1, 20) * DAY))

                run.feedback = {"correctness": [(r.choice((0.0, 0.5, 1.0)), given()) for _ in range(r.randint(1, 3))]}
                if r.random() < 0.3:
                    run.feedback["user_sentiment"] = [(r.choice(("positive", "negative", "neutral")), given())]
            if r.random() < 0.03:
                run.queued_us = later()
            if run.trace.thread_id and r.random() < 0.4:
                run.thread_eval_us = later()

    # -- endpoint ---------------------------------------------------------------------------

    def query_runs(self, request: Request) -> Response:
        try:
            body = orjson.loads(request.body or b"{}")
        except orjson.JSONDecodeError:
            raise BadRequest("request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        with self._lock:
            query, after = self._parse(body)
            page = list(itertools.islice(self._matching(query, after), query.page_size + 1))
            more = len(page) > query.page_size
            page = page[: query.page_size]
            if self.frozen:  # items already serialised: orjson writes them as they are
                items: list[Any] = [orjson.Fragment(b) for b in self._rendered_items(page, query.fields)]
            else:
                items = [self._render(run, query.fields) for run in page]
        result: dict[str, Any] = {"items": items}
        if more:
            last = page[-1]
            cursor = {"t": last.start_us, "id": last.id, "lo": query.min_us, "hi": query.max_us, "h": query.digest}
            result["next_cursor"] = base64.urlsafe_b64encode(orjson.dumps(cursor)).decode()
        return Response(200, result)

    def _rendered_items(self, runs: list[_Run], fields: tuple[str, ...]) -> list[bytes]:
        """The items as JSON, rendered once per (fields, run): for a frozen store only."""
        cache = self._rendered.setdefault(fields, {})
        items = []
        for run in runs:
            item = cache.get(run.index)
            if item is None:
                item = cache[run.index] = json_bytes(self._render(run, fields))
            items.append(item)
        return items

    def warm(self, selects: Iterable[str]) -> int:
        """Render every run for these selects into the frozen cache; returns the number of runs."""
        if not self.frozen:
            raise RuntimeError("only a frozen LangSmith store caches rendered runs")
        selects = list(selects)
        if unknown := [s for s in selects if s not in SELECTS]:  # requests are checked by _parse
            raise ValueError(f"unknown select tokens {unknown!r}")
        fields = select_fields(selects)
        with self._lock:
            for t in range(self._traces()):
                self._rendered_items(self._trace(t), fields)
            return self._first[-1]

    def _parse(self, body: dict[str, Any]) -> tuple[_Query, tuple[int, str] | None]:
        get = {k: v for k, v in body.items() if v is not None}.get
        for name in sorted(self.unknown_fields & body.keys()):  # as a Go server decoding strictly words it
            raise BadRequest(f'json: unknown field "{name}"')
        for name in ("ai_search", "sem_filter"):
            if get(name) is not None:
                raise BadRequest(f"{name} is not supported by the sandbox (it needs semantic search)")
        projects, dataset = get("project_ids"), get("reference_dataset_id")
        if (projects is None) == (dataset is None):
            raise BadRequest("set exactly one of project_ids and reference_dataset_id")
        if projects is not None:
            projects = _uuids("project_ids", projects)
            if not projects:
                raise BadRequest("project_ids must not be empty")
        if dataset is not None:
            dataset = _uuid("reference_dataset_id", dataset)
        page_size = get("page_size", PAGE_SIZE_DEFAULT)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= PAGE_SIZE_MAX:
            raise BadRequest(f"page_size must be an integer between 1 and {PAGE_SIZE_MAX}, got {page_size!r}")
        sort_order = get("sort_order", "DESC")
        if sort_order not in ("ASC", "DESC"):
            raise BadRequest(f"sort_order must be ASC or DESC, got {sort_order!r}")
        selects = get("selects") or ["ID"]
        known = DOCUMENTED_SELECTS if self.strict else SELECTS
        if not isinstance(selects, list) or any(s not in known for s in selects):
            bad = [s for s in selects if s not in known] if isinstance(selects, list) else selects
            raise BadRequest(f"invalid selects {bad!r}; valid values: {', '.join(known)}")
        run_type = get("run_type")
        if run_type is not None and run_type not in RUN_TYPES:
            raise BadRequest(f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}")
        for name in ("is_root", "has_error", "include_subtree_usage"):
            if get(name) is not None and not isinstance(get(name), bool):
                raise BadRequest(f"{name} must be a boolean")
        filters = {name: _filter(name, get(name)) for name in ("filter", "trace_filter", "tree_filter")}
        feedback_min, feedback_max = _time(get, "min_feedback_modified_at"), _time(get, "max_feedback_modified_at")
        window = None
        if feedback_min is not None or feedback_max is not None:
            if not any(f is not None and f.uses_feedback for f in filters.values()):
                raise BadRequest(
                    "min/max_feedback_modified_at need a feedback condition in filter, trace_filter "
                    'or tree_filter, e.g. eq(feedback_key, "correctness")'
                )
            window = (
                feedback_min if feedback_min is not None else -1,
                feedback_max if feedback_max is not None else 1 << 62,
            )
        bound = {k: body[k] for k in CURSOR_BOUND if body.get(k) is not None}
        digest = hashlib.sha256(orjson.dumps(bound, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
        after = None
        if get("cursor") is not None:
            min_us, max_us, after = _cursor(get("cursor"), digest)
        else:
            now = self.clock.now_us()
            asked_max, asked_min = _time(get, "max_start_time"), _time(get, "min_start_time")
            max_us = now if asked_max is None else asked_max
            if asked_min is not None:
                min_us = asked_min
            else:
                min_us = self._dataset_start(dataset) if dataset is not None else now - DAY
        ids = get("ids")
        examples = get("reference_examples")
        query = _Query(
            projects=frozenset(projects) if projects is not None else None,
            dataset=dataset,
            min_us=min_us,
            max_us=max_us,
            asc=sort_order == "ASC",
            page_size=page_size,
            fields=select_fields(selects),
            ids=frozenset(_uuids("ids", ids)) if ids is not None else None,
            trace_id=_uuid("trace_id", get("trace_id")) if get("trace_id") is not None else None,
            is_root=get("is_root"),
            run_type=run_type,
            has_error=get("has_error"),
            examples=frozenset(_uuids("reference_examples", examples)) if examples is not None else None,
            filter=filters["filter"],
            trace_filter=filters["trace_filter"],
            tree_filter=filters["tree_filter"],
            feedback_window=window,
            digest=digest,
        )
        return query, after

    def _dataset_start(self, dataset: str) -> int:
        """Default min_start_time with reference_dataset_id: the earliest run referencing it."""
        if dataset in self.datasets:
            for t in range(self._traces()):
                root = self._trace(t)[0]
                if root.dataset_id == dataset:
                    return root.start_us
        return self.clock.anchor_us  # nothing references it: an empty window

    def _index_at(self, t_us: int) -> int:
        """The first run index whose start time is at or after ``t_us``."""
        k = bisect.bisect_left(range(self._traces()), t_us, key=self._root_start)
        if k > 0:
            for run in self._trace(k - 1):
                if run.start_us >= t_us:
                    return run.index
        return self._first[k]

    def _run(self, index: int) -> _Run:
        t = bisect.bisect_right(self._first, index) - 1
        return self._trace(t)[index - self._first[t]]

    def _find(self, run_id: str) -> _Run | None:
        """A run by id, through the start time its UUIDv7 carries; None for anything else."""
        try:
            key = uuid.UUID(run_id)
        except (TypeError, ValueError, AttributeError):
            return None
        ms = key.int >> 80
        for index in range(self._index_at(ms * 1000), self._index_at(ms * 1000 + 1000)):
            run = self._run(index)
            if run.id == str(key):
                return run
        return None

    def _matching(self, q: _Query, after: tuple[int, str] | None) -> Iterator[_Run]:
        """Runs in the window, in order, after the cursor position, passing every filter."""
        lo, hi = self._index_at(q.min_us), self._index_at(q.max_us)
        if after is not None:
            if q.asc:
                lo = max(lo, self._position(after, strict=True))
            else:
                hi = min(hi, self._position(after, strict=False))
        unknown = (q.dataset is not None and q.dataset not in self.datasets) or (
            q.projects is not None and q.projects.isdisjoint(self.projects)
        )
        if lo >= hi or unknown:
            return
        if q.ids is not None or q.trace_id is not None:
            yield from self._by_id(q, lo, hi)
            return
        if q.feedback_window is not None:  # as a real store would, through an index on feedback modified_at
            changed = {i for stamp, i in self._feedback_index() if q.feedback_window[0] <= stamp < q.feedback_window[1]}
            yield from self._in_order(q, sorted(i for i in changed if lo <= i < hi))
            return
        step = 1 if q.asc else -1
        t = bisect.bisect_right(self._first, lo if q.asc else hi - 1) - 1
        while 0 <= t < self._traces() and (self._first[t] < hi if q.asc else self._first[t + 1] > lo):
            trace = self._trace(t)
            if self._trace_ok(q, trace):
                for run in trace if q.asc else reversed(trace):
                    if lo <= run.index < hi and self._run_ok(q, run):
                        yield run
            t += step

    def _position(self, key: tuple[int, str], *, strict: bool) -> int:
        """The first run index whose (start_time, id) is > ``key`` (strict) or >= ``key``."""
        at = self._index_at(key[0])
        while at < self._first[-1]:
            run = self._run(at)
            if run.start_us != key[0] or (run.id > key[1] if strict else run.id >= key[1]):
                break
            at += 1  # ties on start_time are ordered by id (none occur in generated data)
        return at

    def _feedback_index(self) -> list[tuple[int, int]]:
        """(modified_at, run index) of every feedback entry; made once (every trace generated), then kept up to date."""
        if self._feedback is None:
            self._feedback = [
                (stamp, run.index)
                for t in range(self._traces())
                for run in self._trace(t)
                for entries in (run.feedback or {}).values()
                for _, stamp in entries
            ]
        return self._feedback

    def _in_order(self, q: _Query, indices: list[int]) -> Iterator[_Run]:
        for index in indices if q.asc else reversed(indices):
            run = self._run(index)
            if self._trace_ok(q, self._trace(run.trace.t)) and self._run_ok(q, run):
                yield run

    def _by_id(self, q: _Query, lo: int, hi: int) -> Iterator[_Run]:
        if q.ids is not None:
            found = [self._find(i) for i in q.ids]
        else:
            root = self._find(q.trace_id) if q.trace_id is not None else None
            found = list(self._trace(root.trace.t)) if root is not None else []
        runs = sorted(
            {r.index: r for r in found if r is not None and lo <= r.index < hi}.values(),
            key=lambda r: r.index,
            reverse=not q.asc,
        )
        for run in runs:
            if self._trace_ok(q, self._trace(run.trace.t)) and self._run_ok(q, run):
                yield run

    def _trace_ok(self, q: _Query, trace: list[_Run]) -> bool:
        if q.projects is not None and trace[0].trace.project_id not in q.projects:
            return False
        if q.trace_filter is not None and not q.trace_filter(self._getter(trace[0], q)):
            return False
        return q.tree_filter is None or any(q.tree_filter(self._getter(run, q)) for run in trace)

    def _run_ok(self, q: _Query, run: _Run) -> bool:
        return (
            (q.is_root is None or q.is_root == (not run.parent_ids))
            and (q.run_type is None or q.run_type == run.run_type)
            and (q.has_error is None or q.has_error == (run.error is not None))
            and (q.ids is None or run.id in q.ids)
            and (q.trace_id is None or run.trace_id == q.trace_id)
            and (q.examples is None or run.example_id in q.examples)
            and (q.dataset is None or run.dataset_id == q.dataset)
            and (q.filter is None or q.filter(self._getter(run, q)))
        )

    def _getter(self, run: _Run, q: _Query) -> Getter:
        def get(name: str) -> Any:
            if name in FILTER_VALUES:
                return FILTER_VALUES[name](run)
            if name == "metadata":
                return self._metadata(run)
            if name == "feedback":  # with a feedback window, only the entries modified inside it count
                window = q.feedback_window or (-1, 1 << 62)
                entries = {
                    key: kept
                    for key, points in (run.feedback or {}).items()
                    if (kept := [p for p in points if window[0] <= p[1] < window[1]])
                }
                return {k: v["avg"] for k, v in _feedback_stats(entries).items()} or None
            body = self._body(run)  # "text", for search()
            parts = (run.name, body["inputs_preview"], body.get("outputs_preview"), run.error)
            return "\n".join(p for p in parts if p).lower()

        return get

    # -- rendering --------------------------------------------------------------------------

    def _render(self, run: _Run, fields: tuple[str, ...]) -> dict[str, Any]:
        values = self._fields(run)
        if not BODY_FIELDS.isdisjoint(fields):
            values.update(self._body(run))
        item = {name: values[name] for name in fields if name in values}
        item["query_metadata"] = None
        return item

    def _fields(self, run: _Run) -> dict[str, Any]:
        """Every field but the payload ones (see _body); optional ones only when set."""
        info, start = run.trace, rfc3339(run.start_us)
        values: dict[str, Any] = {
            "id": run.id,
            "name": run.name,
            "run_type": run.run_type,
            "status": run.status,
            "start_time": start,
            "end_time": None if run.end_us is None else rfc3339(run.end_us),  # null while pending
            "parent_run_ids": list(run.parent_ids),
            "project_id": info.project_id,
            "trace_id": run.trace_id,
            "dotted_order": run.dotted_order,
            "is_root": not run.parent_ids,
            "tags": list(run.tags),
            "app_path": f"/o/{TENANT}/projects/p/{info.project_id}/r/{run.id}"
            f"?trace_id={run.trace_id}&start_time={start}",
            "is_in_dataset": run.in_dataset,
        }
        optional = {
            "latency_seconds": _latency(run),
            "first_token_time": rfc3339(run.first_token_us) if run.first_token_us is not None else None,
            "error": run.error,
            "error_preview": run.error.partition("\n")[0][:100] if run.error else None,
            "thread_id": info.thread_id,
            "reference_example_id": run.example_id,
            "reference_dataset_id": run.dataset_id,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "total_tokens": _total_tokens(run),
            "prompt_cost": run.prompt_cost,
            "completion_cost": run.completion_cost,
            "total_cost": _total_cost(run),
            "prompt_token_details": {"raw": {"cache_read": run.cache_read}} if run.cache_read else None,
            "completion_token_details": {"raw": {"reasoning": run.reasoning}} if run.reasoning else None,
            "prompt_cost_details": {"raw": {"cache_read": run.cache_cost}} if run.cache_cost else None,
            "completion_cost_details": {"raw": {"reasoning": run.reasoning_cost}} if run.reasoning_cost else None,
            "price_model_id": PRICE_MODEL_IDS.get(run.model.name) if run.model is not None else None,
            "attachments": {
                "screenshot.png": f"https://attachments.langsmith.sandbox/{info.project_id}/{run.id}/"
                f"screenshot.png?X-Signature={stable_uuid(self.seed, 'ls-sig', run.id)}"
            }
            if run.attachment
            else None,
            "thread_evaluation_time": rfc3339(run.thread_eval_us) if run.thread_eval_us is not None else None,
            "last_queued_at": rfc3339(run.queued_us) if run.queued_us is not None else None,
            "share_url": f"{APP_ORIGIN}/public/{stable_uuid(self.seed, 'ls-share', run.id)}/r" if run.shared else None,
            "feedback_stats": _feedback_stats(run.feedback) if run.feedback else None,
            "ls_user_id": info.user_id,
        }
        values.update((k, v) for k, v in optional.items() if v is not None)
        return values

    def _metadata(self, run: _Run) -> dict[str, Any]:
        info = run.trace
        metadata: dict[str, Any] = {
            "env": info.env,
            "ls_run_depth": len(run.parent_ids),
            "revision_id": f"v1.{info.t % 7}.0",
        }
        if info.thread_id:
            metadata["thread_id"] = info.thread_id
        if run.model is not None:
            metadata.update(
                ls_model_name=run.model.name,
                ls_model_type="chat",
                ls_provider=run.model.provider,
                ls_temperature=info.temperature,
            )
        return metadata

    def _body(self, run: _Run) -> dict[str, Any]:
        """The payload fields, generated from the run's own seed."""
        r = rng(self.seed, "ls-body", run.index)
        question, answer = QUESTIONS[run.trace.topic]
        metadata = self._metadata(run)
        kind = run.run_type
        inputs: dict[str, Any]
        outputs: dict[str, Any] | None = None
        output_text = answer
        if kind == "CHAIN":
            inputs = {"question": question}
            outputs = {"output": answer}
        elif kind == "LLM":
            inputs = {
                "messages": [
                    [_message("SystemMessage", "system", SYSTEM_PROMPT), _message("HumanMessage", "human", question)]
                ]
            }
            message = _message("AIMessage", "ai", answer)
            if run.prompt_tokens is not None:
                message["kwargs"]["usage_metadata"] = {
                    "input_tokens": run.prompt_tokens,
                    "output_tokens": run.completion_tokens,
                    "total_tokens": run.prompt_tokens + (run.completion_tokens or 0),
                }
            outputs = {
                "generations": [
                    [
                        {
                            "text": answer,
                            "generation_info": {"finish_reason": "stop"},
                            "type": "ChatGeneration",
                            "message": message,
                        }
                    ]
                ],
                "llm_output": {"model_name": run.model.name if run.model else None},
                "run": None,
                "type": "LLMResult",
            }
        elif kind == "TOOL":
            inputs = {"input": question}
            output_text = f"{run.name} returned {r.randint(1, 9)} results"
            outputs = {"output": output_text}
        elif kind == "RETRIEVER":
            inputs = {"query": question}
            documents: list[dict[str, Any]] = [
                {
                    "page_content": f"{answer} (source {k + 1})",
                    "type": "Document",
                    "metadata": {"source": f"kb/article-{r.randint(100, 999)}.md", "score": round(r.random(), 4)},
                }
                for k in range(r.randint(1, 4))
            ]
            outputs = {"documents": documents}
            output_text = documents[0]["page_content"]
        elif kind == "EMBEDDING":
            inputs = {"texts": [question]}
            outputs = {"embeddings": [[round(r.uniform(-1, 1), 4) for _ in range(8)]]}
            output_text = "[8 floats]"
        elif kind == "PROMPT":
            inputs = {"question": question}
            output_text = f"System: {SYSTEM_PROMPT}\nHuman: {question}"
            outputs = {"output": output_text}
        else:
            inputs = {"input": answer}
            outputs = {"output": answer}
        body: dict[str, Any] = {
            "inputs": inputs,
            "inputs_preview": (answer if kind == "PARSER" else question)[:150],
            "metadata": metadata,
            "extra": {
                "metadata": metadata,
                "runtime": {
                    "sdk": "langsmith-py",
                    "sdk_version": run.trace.sdk_version,
                    "library": "langchain-core",
                    "runtime": "python",
                    "py_implementation": "CPython",
                    "runtime_version": "3.11.9",
                    "platform": "Linux-6.8.0-1019-aws-x86_64-with-glibc2.36",
                },
            },
            "events": [{"name": "start", "time": rfc3339(run.start_us, digits=3)}],
        }
        if run.model is not None:
            body["extra"]["invocation_params"] = {
                "model": run.model.name,
                "temperature": run.trace.temperature,
                "stream": run.streamed,
                "_type": f"{run.model.provider}-chat",
            }
        if run.status == "SUCCESS":
            body["outputs"] = outputs
            body["outputs_preview"] = output_text[:150]
        if run.first_token_us is not None:
            body["events"].append(
                {
                    "name": "new_token",
                    "time": rfc3339(run.first_token_us, digits=3),
                    "kwargs": {"token": answer.split()[0]},
                }
            )
        if run.end_us is not None:
            body["events"].append({"name": "error" if run.error else "end", "time": rfc3339(run.end_us, digits=3)})
        if run.manifest:
            path = (
                ["langchain", "chat_models", run.model.provider, run.model.cls]
                if run.model
                else ["langchain", "schema", "runnable", "RunnableSequence"]
            )
            body["manifest"] = {
                "lc": 1,
                "type": "constructor",
                "id": path,
                "kwargs": {"model_name": run.model.name, "temperature": run.trace.temperature}
                if run.model
                else {"name": run.name},
            }
        return body

    # -- change over time -------------------------------------------------------------------

    def advance(
        self,
        *,
        new_traces: int = 0,
        finish_pending: int | list[str] = 0,
        update_feedback: int = 0,
        late_feedback: int = 0,
        late_feedback_days: tuple[float, float] = (2, 20),
    ) -> dict[str, list[str]]:
        """Apply changes stamped with the sandbox clock's now; returns the affected run ids.

        ``finish_pending`` is a count of pending runs (finished children first, so a root is
        never done before its children) or a list of run ids (a listed run's running
        descendants finish with it). ``update_feedback`` adds a correctness score to that many
        root runs, old ones included. ``late_feedback`` gives that many finished runs (roots and
        their steps) that started ``late_feedback_days`` ago a new score or rating, as human
        review, annotation queues and a user's thumbs-up do days after a run. ``new_traces``
        start traces whose runs are all pending.
        """
        if self.frozen:
            raise RuntimeError("a frozen LangSmith store never changes")
        with self._lock:
            self._steps += 1
            r = rng(self.seed, "ls-advance", self._steps)
            changed: dict[str, list[str]] = {
                "finish_pending": [], "update_feedback": [], "late_feedback": [], "new_traces": []
            }  # fmt: skip
            if isinstance(finish_pending, list):
                for run_id in finish_pending:
                    run = self._find(run_id)
                    if run is not None and run.status == "PENDING":
                        changed["finish_pending"] += self._finish(run.trace.t, run)
            else:
                for t in r.sample(sorted(self._pending), len(self._pending)):
                    if len(changed["finish_pending"]) >= finish_pending:
                        break
                    trace = self._trace(t)
                    running = sorted(
                        (x for x in trace if x.status == "PENDING"), key=lambda x: (-len(x.parent_ids), -x.index)
                    )
                    for run in running[: finish_pending - len(changed["finish_pending"])]:
                        changed["finish_pending"] += self._finish(t, run)
            for _ in range(update_feedback if self._traces() else 0):
                root = self._mutable(r.randrange(self._traces()))[0]
                self._add_feedback(root, "correctness", r.choice((0.0, 0.5, 1.0)))
                changed["update_feedback"].append(root.id)
            changed["late_feedback"] = self._late_feedback(r, late_feedback, late_feedback_days)
            for _ in range(new_traces):
                t = self._traces()
                trace_rng = rng(self.seed, "ls-trace", t)
                size = 1 + trace_rng.choices(CHILD_COUNTS, CHILD_WEIGHTS)[0]
                starts = [self.clock.now_us() for _ in range(size)]
                self._stored[t] = self._build(t, starts, trace_rng, "fresh")
                self._first.append(self._first[-1] + size)
                self._pending.add(t)
                changed["new_traces"] += [run.id for run in self._stored[t]]
            changed["update_feedback"] = list(dict.fromkeys(changed["update_feedback"]))
            return changed

    def _add_feedback(self, run: _Run, key: str, value: Any) -> None:
        run.feedback = run.feedback or {}
        stamp = self.clock.now_us()
        run.feedback.setdefault(key, []).append((value, stamp))
        if self._feedback is not None:
            self._feedback.append((stamp, run.index))

    def _late_feedback(self, r: random.Random, count: int, days: tuple[float, float]) -> list[str]:
        """New feedback on ``count`` distinct finished runs that started between ``days`` ago."""
        now = self.clock.now_us()
        lo, hi = self._index_at(now - int(days[1] * DAY)), self._index_at(now - int(days[0] * DAY))
        chosen: dict[str, None] = {}
        for _ in range(count * 20 if hi > lo else 0):  # pending runs are skipped: feedback follows a result
            if len(chosen) >= count:
                break
            run = self._run(r.randrange(lo, hi))
            if run.status == "PENDING" or run.id in chosen:
                continue
            run = self._mutable(run.trace.t)[run.index - self._first[run.trace.t]]
            if run.parent_ids:
                self._add_feedback(run, "helpfulness", r.choice((0, 1)))
            elif r.random() < 0.5:
                self._add_feedback(run, "correctness", r.choice((0.0, 0.5, 1.0)))
            else:
                self._add_feedback(run, "user_sentiment", r.choice(("positive", "negative", "neutral")))
            chosen[run.id] = None
        return list(chosen)

    def _finish(self, t: int, run: _Run) -> list[str]:
        """Finish ``run`` now, after its running descendants; returns the ids finished."""
        trace = self._mutable(t)
        done = []
        for child in reversed(trace):
            if child.status == "PENDING" and run.id in child.parent_ids:
                done += self._finish(t, child)
        now = self.clock.now_us()
        self._complete(trace, run, rng(self.seed, "ls-finish", run.index), now, now)
        self._feedback = None  # finishing may have given it feedback: the index is made again when asked
        _roll_up(trace)
        if all(x.status != "PENDING" for x in trace):
            self._pending.discard(t)
        return [*done, run.id]

    def truth(self) -> list[dict[str, Any]]:
        """Every run, oldest first, rendered as if every select token had been sent."""
        with self._lock:
            return [self._render(run, ALL_FIELDS) for t in range(self._traces()) for run in self._trace(t)]


def select_fields(selects: Iterable[str]) -> tuple[str, ...]:
    """The item fields, in order, that (known) select tokens ask for."""
    return tuple(dict.fromkeys(s.lower() for s in selects))


def _total_tokens(run: _Run) -> int | None:
    return None if run.prompt_tokens is None else run.prompt_tokens + (run.completion_tokens or 0)


def _total_cost(run: _Run) -> float | None:
    if run.prompt_cost is None and run.completion_cost is None:
        return None
    return round((run.prompt_cost or 0.0) + (run.completion_cost or 0.0), 10)


def _latency(run: _Run) -> float | None:
    return None if run.end_us is None else (run.end_us - run.start_us) / US


# What filter expressions compare (see sandbox.langsmith_filter): times in microseconds.
FILTER_VALUES: dict[str, Callable[[_Run], Any]] = {
    "id": lambda r: r.id, "trace_id": lambda r: r.trace_id, "thread_id": lambda r: r.trace.thread_id,
    "name": lambda r: r.name, "run_type": lambda r: r.run_type, "status": lambda r: r.status,
    "error": lambda r: r.error, "is_root": lambda r: not r.parent_ids, "tags": lambda r: r.tags,
    "start_time": lambda r: r.start_us, "end_time": lambda r: r.end_us, "latency": _latency,
    "prompt_tokens": lambda r: r.prompt_tokens, "completion_tokens": lambda r: r.completion_tokens,
    "total_tokens": _total_tokens, "prompt_cost": lambda r: r.prompt_cost,
    "completion_cost": lambda r: r.completion_cost, "total_cost": _total_cost,
}  # fmt: skip


def _plan(r: random.Random, children: int) -> list[tuple[str, int]]:
    """(run_type, parent position) per run of a trace; position 0 is the root."""
    plan = [("CHAIN", -1)]
    while len(plan) <= children:
        step = r.choices(STEPS, STEP_WEIGHTS)[0]
        room = len(plan) < children
        if step == "RETRIEVER" and room and r.random() < 0.5:
            plan += [("RETRIEVER", 0), ("EMBEDDING", len(plan))]
        elif step == "TOOL" and room and r.random() < 0.15:
            plan += [("TOOL", 0), ("LLM", len(plan))]
        else:
            plan.append((step, 0))
    return plan


def _roll_up(trace: list[_Run]) -> None:
    """Give the root the token and cost sums of its trace's LLM runs."""
    root, llms = trace[0], [x for x in trace[1:] if x.prompt_tokens is not None]
    root.prompt_tokens = sum(x.prompt_tokens or 0 for x in llms) if llms else None
    root.completion_tokens = sum(x.completion_tokens or 0 for x in llms) if llms else None
    priced = [x for x in llms if x.prompt_cost is not None]
    root.prompt_cost = round(sum(x.prompt_cost or 0.0 for x in priced), 10) if priced else None
    root.completion_cost = round(sum(x.completion_cost or 0.0 for x in priced), 10) if priced else None


def _feedback_stats(feedback: dict[str, list[tuple[Any, int]]]) -> dict[str, dict[str, Any]]:
    stats = {}
    for key, entries in feedback.items():
        points = [value for value, _ in entries]
        scores = [p for p in points if isinstance(p, float | int)]
        labels = [p for p in points if isinstance(p, str)]
        stats[key] = {
            "n": len(points),
            "avg": round(statistics.fmean(scores), 6) if scores else None,
            "min": min(scores) if scores else None,
            "max": max(scores) if scores else None,
            "stdev": round(statistics.stdev(scores), 6) if len(scores) > 1 else None,
            "errors": 0,
            "values": {label: labels.count(label) for label in sorted(set(labels))},
            "comments": ["Matches the reference answer."] if scores and min(scores) == 1 else [],
            "sources": ["api"] if scores else ["app"],
            "contains_thread_feedback": False,
        }
    return stats


def _message(cls: str, role: str, content: str) -> dict[str, Any]:
    return {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", cls],
        "kwargs": {"content": content, "type": role},
    }


def _uuid(name: str, value: Any) -> str:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise BadRequest(f"{name} must be a UUID, got {value!r}") from None


def _uuids(name: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest(f"{name} must be an array of UUIDs")
    return [_uuid(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _time(get: Any, name: str) -> int | None:
    value = get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not RFC3339_PREFIX.match(value):
            raise ValueError
        return parse_rfc3339(value.upper().replace(" ", "T"))
    except ValueError:
        raise BadRequest(f"{name} must be an RFC 3339 date-time such as 2024-01-01T00:00:00Z, got {value!r}") from None


def _filter(name: str, text: Any) -> Filter | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise BadRequest(f"{name} must be a string")
    try:
        return parse_filter(text)
    except FilterError as exc:
        raise BadRequest(f"invalid {name} {text!r}: {exc}") from None


def _cursor(cursor: Any, digest: str) -> tuple[int, int, tuple[int, str]]:
    """(min_us, max_us, (last start_time, last id)) from a next_cursor, or a 400."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        t, run_id, lo, hi, h = (decoded[k] for k in ("t", "id", "lo", "hi", "h"))
        if not all(isinstance(x, int) for x in (t, lo, hi)) or not isinstance(run_id, str) or not isinstance(h, str):
            raise ValueError
    except (AttributeError, TypeError, KeyError, ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequest("invalid cursor: pass back next_cursor exactly as received") from None
    if h != digest:
        raise BadRequest(
            "cursor does not match this query: send the same body as for the previous page, "
            "with only cursor (and page_size) changed"
        )
    return lo, hi, (t, run_id)
