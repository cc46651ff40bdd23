"""LangSmith runs: which windows a sync reads and which runs it re-reads (pages become tables in run_table.py).

Nothing here knows about dlt or DuckDB: ``RunsReader`` queries through an ApiClient, keeps its
own small state dict (which the dlt resource persists) and yields ``pyarrow.Table`` pages.

Why the sync looks the way it does:
- The API defaults ``min_start_time`` to one day ago, so every request carries an explicit
  ``[min_start_time, max_start_time)`` window; nothing relies on a server default.
- Window walk: ``[INITIAL_START, now)`` on the first sync and on a full refresh,
  ``[cursor - INGEST_LAG, now)`` later (never before INITIAL_START). The span is cut into
  ``window_hours`` windows, each one cursor walk with ``sort_order=ASC`` and ``page_size=1000``;
  windows are fetched by a bounded thread pool and their pages handed on as they arrive
  (``windows.fetch_concurrently``). A change of projects, dataset or filters starts over from
  INITIAL_START, since the old cursor says nothing about runs the old query did not match.
- The cursor is the end of the last window: the ``now`` the sync started with. Every run
  that started before it and had reached the server was read. The newest start time seen
  would be wrong twice over: a quiet project would keep it days behind (each sync walking the
  quiet stretch again), and it says nothing about the empty tail of the last window.
- ``INGEST_LAG``: SDKs send runs in background batches, so a run can reach the server minutes
  after it started; later syncs re-read the last 10 minutes before the cursor. The rows are
  merged on ``id``, so reading a run twice costs nothing but the bytes. A run that reaches the
  server later than that is only picked up by a full refresh.
- Pending runs (no ``end_time``) are remembered with their start time and re-read by ``ids``
  on every later sync until they finish, however old: with a window from their earliest
  start (the default window would hide them), in batches of 1000, without the row filters
  (a run that matched ``has_error=false`` while pending must still get its final state).
  Runs the refresh no longer finds (deleted, past retention) are dropped from the set.
- ``INITIAL_START`` moved earlier than any sync walked from (``covered_from``): the gap is
  walked once, said in the output. Moved later, nothing is read again or removed.
- Late feedback: feedback usually lands after a run ended (human review, online evaluators, a
  user's rating days later), and a finished run's start time never comes round again. So every
  incremental sync also asks, in one walk over ``[INITIAL_START, walk start)``, for the runs
  whose feedback was modified since the cursor minus INGEST_LAG: ``min_feedback_modified_at``
  and ``max_feedback_modified_at`` with the feedback condition FEEDBACK_CONDITION (the SDK's
  ``RunQueryV2Params`` has them, the published reference does not). A server that refuses
  them gets the fallback: every sync re-reads the runs that started in the last
  ``feedback_lookback_hours`` (0, the default: late feedback is not followed, said once).
- A run read again unchanged (the lag window, the pending runs, feedback within the lag) is not
  loaded again: the reader keeps digests of the runs the next sync reads again
  (sources/rereads.py). With nothing new, a cursor younger than half a window stays where it is,
  so that the state is unchanged and the sync loads nothing at all.
- Refusals (refusals.py): select tokens the server refuses are dropped, with a warning, and
  their columns stay (NULL for the runs read from then on); the refusal of the feedback query
  switches to the fallback. Both are remembered in the state, so later syncs neither pay for
  the refused request again nor repeat the warning, and tried again after ``--full-refresh``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources.arrow_tables import DataIssues, parse_timestamp
from sources.errors import ConfigError, CursorRejected, UpstreamError
from sources.http_client import ApiClient
from sources.langsmith.client import SOURCE, iter_run_pages
from sources.langsmith.refusals import is_refusal, refused_selects
from sources.langsmith.run_table import REQUIRED_SELECTS, RunTables, normalize_selects
from sources.langsmith.settings import DEFAULT_INITIAL_DAYS, FEEDBACK_CONDITION, PAGE_SIZE
from sources.langsmith.windows import Window, fetch_concurrently, plan_windows
from sources.paging import Restart, restartable
from sources.rereads import Rereads

log = logging.getLogger("runyard.langsmith")

INGEST_LAG = timedelta(minutes=10)
IDS_PER_REQUEST = 1000  # pending runs re-read per query (the page size, so one page each)
# Runs per yielded table: small pages (window tails, incremental syncs) are combined, because
# dlt's cost per yielded item is high next to its cost per row.
EMIT_BATCH_ROWS = 5000


@dataclass(frozen=True)
class RunQuery:
    """What to read: exactly one of project ids and a reference dataset, plus optional row filters."""

    project_ids: tuple[str, ...] = ()
    reference_dataset_id: str | None = None
    filter: str | None = None
    trace_filter: str | None = None
    tree_filter: str | None = None
    is_root: bool | None = None
    run_type: str | None = None
    has_error: bool | None = None

    def __post_init__(self) -> None:
        if bool(self.project_ids) == bool(self.reference_dataset_id):
            raise ConfigError(
                SOURCE,
                "set exactly one of SOURCES__LANGSMITH__PROJECT_IDS and SOURCES__LANGSMITH__REFERENCE_DATASET_ID",
                "The runs query needs one: e.g. SOURCES__LANGSMITH__PROJECT_IDS=<tracing project UUID>,<another>.",
            )

    def scope(self) -> dict[str, Any]:
        """The body fields naming where runs live (needed by every request, the id refresh too)."""
        if self.project_ids:
            return {"project_ids": list(self.project_ids)}
        return {"reference_dataset_id": self.reference_dataset_id}

    def filters(self) -> dict[str, Any]:
        """The row filters that were set."""
        names = ("filter", "trace_filter", "tree_filter", "is_root", "run_type", "has_error")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def fingerprint(self) -> str:
        """Identifies which runs a cursor covers; a different one means the cursor does not apply."""
        fields = {**asdict(self), "project_ids": sorted(self.project_ids)}
        return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


def parse_initial_start(value: str | None, now: datetime) -> datetime:
    """``SOURCES__LANGSMITH__INITIAL_START`` (default: DEFAULT_INITIAL_DAYS before ``now``); ConfigError if unusable.

    A start in the future would read nothing and leave a cursor past every run: refused.
    """
    if not value:
        return now - timedelta(days=DEFAULT_INITIAL_DAYS)
    try:
        start: datetime | None = parse_timestamp(value)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise ConfigError(
            SOURCE,
            f"SOURCES__LANGSMITH__INITIAL_START={value!r} is not an RFC 3339 timestamp with a time zone",
            "For example SOURCES__LANGSMITH__INITIAL_START=2026-01-01T00:00:00Z.",
        )
    if start > now:
        raise ConfigError(
            SOURCE,
            f"SOURCES__LANGSMITH__INITIAL_START={value!r} is in the future (now is {rfc3339(now)}), so there is "
            "nothing to read yet",
            f"Use the earliest start time to load, e.g. SOURCES__LANGSMITH__INITIAL_START={now:%Y-%m-01T00:00:00Z}.",
        )
    return start


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class RunsReader:
    """Reads the runs of one sync and keeps the resource state up to date.

    State layout (persisted by dlt with the load, so it only moves when the data lands)::

        {"cursor": "<RFC 3339: every run that started before this was read>",
         "pending": {"<run id>": "<its start_time>", ...},
         "scope": "<RunQuery.fingerprint() the cursor belongs to>",
         "refused_selects": ["<token the server refused>", ...],
         "feedback_query_refused": "<the server's answer>",   # only once it refused
         "late_feedback": "<how late feedback is followed, for status>",
         "covered_from": "<the earliest INITIAL_START walked: an earlier one backfills the gap>",
         "digests": {"<run id>": "<digest>", ...}}   # of the runs the next sync reads again
    """

    def __init__(
        self,
        client: ApiClient,
        state: dict[str, Any],
        *,
        query: RunQuery,
        selects: Sequence[str],
        initial_start: datetime,
        window: timedelta,
        concurrency: int,
        now: datetime,
        feedback_lookback: timedelta = timedelta(0),
        on_progress: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.query = query
        self.selects = normalize_selects(selects)
        self.initial_start = initial_start
        self.window = window
        self.concurrency = concurrency
        self.now = now
        self.feedback_lookback = feedback_lookback
        self.on_progress = on_progress or (lambda _label, _done, _total: None)
        self.warnings: list[str] = []
        self.issues = DataIssues(SOURCE)  # runs that did not fit the table: warnings at the end (thread-safe)
        self.tables = RunTables(self.selects, self.issues)
        self.sent = self.selects  # what the queries ask for: the selects less any the server refused
        self._narrowing = threading.Lock()

    def sync(self, *, full: bool) -> Iterator[pa.Table]:
        """The window walk, the runs whose feedback changed, then the pending runs not seen yet.

        Pages are combined into batches of ~EMIT_BATCH_ROWS rows.
        """
        scope = self.query.fingerprint()
        cursor = parse_timestamp(self.state["cursor"]) if self.state.get("cursor") and not full else None
        if cursor is not None and self.state.get("scope") != scope:
            self.warnings.append(
                "the LangSmith projects, dataset or filters changed since the last sync; "
                "runs are read again from SOURCES__LANGSMITH__INITIAL_START"
            )
            cursor = None
        if full:  # refusals are tried again
            for key in ("refused_selects", "feedback_query_refused"):
                self.state.pop(key, None)
        self._restore_refused_selects()
        start = max(cursor - INGEST_LAG, self.initial_start) if cursor is not None else self.initial_start
        feedback_refused = "feedback_query_refused" in self.state
        if cursor is not None and feedback_refused:
            start = self._lookback_start(start)
        known = {} if full else dict(self.state.get("pending", {}))
        tracker = _PendingTracker(known)
        rereads = _RunRereads(None if full else self.state.get("digests"))
        # The next sync's walk starts at this sync's cursor (or the one kept) minus the lag.
        reread_from = (cursor or self.now) - INGEST_LAG
        if feedback_refused:
            reread_from = self._lookback_start(reread_from)
        walks: list[tuple[Iterator[pa.Table], datetime | None]] = [
            (self._walk(plan_windows(start, self.now, self.window)), reread_from)
        ]
        covered = parse_timestamp(kept) if (kept := self.state.get("covered_from")) else self.initial_start
        if cursor is not None and self.initial_start < covered:
            self.warnings.append(
                f"SOURCES__LANGSMITH__INITIAL_START moved earlier ({rfc3339(covered)} -> "
                f"{rfc3339(self.initial_start)}): this sync also reads the runs that started in between"
            )
            # Up to where the window walk starts (a look-back may reach below the old start); kept
            # digests only for pending runs, as for any walk below the next sync's start.
            walks.append((self._walk(plan_windows(self.initial_start, min(covered, start), self.window)), self.now))
        feedback_from = max(self.initial_start, covered)  # below it, this sync reads every run anyway
        if cursor is not None and not feedback_refused and start > feedback_from:
            # Every run it finds may be read again: digests kept for all (keep_from None).
            walks.append((self._late_feedback(cursor - INGEST_LAG, feedback_from, start), None))
        emitted = 0
        for pages, keep_from in walks:
            for batch in _batched(pages, EMIT_BATCH_ROWS):
                tracker.observe(batch)
                if (changed := rereads.changed(batch, keep_from)).num_rows:
                    emitted += changed.num_rows
                    yield changed
        unseen = {run_id: started for run_id, started in known.items() if run_id not in tracker.seen}
        for batch in _batched(self._refresh(unseen), EMIT_BATCH_ROWS):
            tracker.observe(batch)
            if (changed := rereads.changed(batch, None)).num_rows:
                emitted += changed.num_rows
                yield changed
        gone = len(unseen.keys() - tracker.seen)
        if gone:
            self.warnings.append(
                f"{gone} run(s) pending at the last sync were not found any more (deleted, past the "
                "project's retention, or outside the configured projects); their rows keep their last state"
            )
        self.warnings.extend(self.issues.warnings())
        # With nothing new a young cursor stays: the state is then unchanged, and the sync has nothing
        # to load at all. Past half a window it moves, so that quiet spells do not widen the next walk.
        quiet = cursor is not None and not emitted and self.now - cursor < self.window / 2
        self.state.update(
            cursor=rfc3339(cursor if quiet and cursor is not None else max(self.now, cursor or self.now)),
            pending=tracker.pending,
            scope=scope,
            covered_from=rfc3339(self.initial_start if cursor is None else min(covered, self.initial_start)),
            late_feedback=self._feedback_mode(),
            digests=rereads.current,
        )
        refused = [token for token in self.selects if token not in self.sent]
        if refused:
            self.state["refused_selects"] = refused
        else:
            self.state.pop("refused_selects", None)

    # -- late feedback ------------------------------------------------------------------

    def _feedback_mode(self) -> str:
        """How late feedback is followed, as ``runyard status`` shows it."""
        if "feedback_query_refused" not in self.state:
            return "followed (min_feedback_modified_at)"
        hours = self.feedback_lookback.total_seconds() / 3600
        how = f"the last {hours:g} h re-read on every sync" if hours else "not followed"
        return f"{how} (the server refused min_feedback_modified_at)"

    def _lookback_start(self, start: datetime) -> datetime:
        """The fallback: the window walk reaches back ``feedback_lookback`` (never before INITIAL_START)."""
        return max(min(start, self.now - self.feedback_lookback), self.initial_start)

    def _late_feedback(self, since: datetime, lower: datetime, walked_from: datetime) -> Iterator[pa.Table]:
        """Runs that started before this sync's window walk and whose feedback changed since ``since``.

        One walk over ``[lower, walked_from)`` (``lower``: INITIAL_START, or where a backfill of an
        earlier INITIAL_START ends): the other runs were just read whole. A server
        that refuses the feedback parameters switches this and every later sync to the fallback.
        """
        user_filter = self.query.filter
        extra = {
            "filter": f"and({user_filter}, {FEEDBACK_CONDITION})" if user_filter else FEEDBACK_CONDITION,
            "min_feedback_modified_at": rfc3339(since),
            "max_feedback_modified_at": rfc3339(self.now),
        }
        try:
            yield from self._fetch_window((lower, walked_from), extra=extra, label="late feedback")
        except UpstreamError as exc:
            if not is_refusal(exc) or isinstance(exc, CursorRejected):
                raise
            answer = exc.detail or exc.cause
            self.state["feedback_query_refused"] = answer
            hours = self.feedback_lookback.total_seconds() / 3600
            fallback = (
                f"every sync re-reads the runs that started in the last {hours:g} hours instead"
                if hours
                else "late feedback on finished runs is not followed (set SOURCES__LANGSMITH__FEEDBACK_LOOKBACK_HOURS, "
                "e.g. 72, to re-read the runs of the last three days on every sync)"
            )
            self.warnings.append(
                f"the LangSmith server refused the query for runs whose feedback changed "
                f"(min_feedback_modified_at; it answered {exc.status}: {answer[:200]}); {fallback}. "
                "It is tried again after the next --full-refresh"
            )
            lookback = max(self._lookback_start(walked_from), lower)
            if lookback < walked_from:
                yield from self._walk(plan_windows(lookback, walked_from, self.window))

    # -- selects ------------------------------------------------------------------------

    def _restore_refused_selects(self) -> None:
        refused = set(self.state.get("refused_selects", ())) - set(REQUIRED_SELECTS)
        if refused & set(self.selects):
            self._use_selects(tuple(token for token in self.selects if token not in refused))

    def _use_selects(self, sent: tuple[str, ...]) -> None:
        self.sent = sent
        self.tables = RunTables(self.selects, self.issues, sent=sent)

    def _narrow(self, exc: UpstreamError, sent: tuple[str, ...]) -> bool:
        """Whether asking again may succeed: drops the tokens a refusal names (once for all windows)."""
        with self._narrowing:
            if self.sent != sent:  # another window's refusal already narrowed them
                return True
            refused = refused_selects(exc, sent)
            if not refused or set(refused) & set(REQUIRED_SELECTS):
                return False
            self._use_selects(tuple(token for token in sent if token not in refused))
            self.warnings.append(
                f"the LangSmith server refused the select token(s) {', '.join(refused)} ({exc.status}: "
                f"{(exc.detail or exc.cause)[:200]}); the sync goes on without them. Their columns stay, NULL "
                "for runs read from now on; they are asked for again after the next --full-refresh"
            )
            return True

    def _pages(self, body: Mapping[str, Any]) -> Iterator[pa.Table]:
        """The pages of one query with the selects this sync sends; a refusal of some asks again without them."""
        while True:
            sent, tables = self.sent, self.tables
            started = False
            try:
                for page in iter_run_pages(self.client, {**body, "selects": list(sent)}, tables):
                    started = True
                    yield page
                return
            except UpstreamError as exc:
                if started or not self._narrow(exc, sent):
                    raise

    # -- reads --------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        return {"sort_order": "ASC", "page_size": PAGE_SIZE, **self.query.scope()}

    def _walk(self, windows: list[Window]) -> Iterator[pa.Table]:
        self.on_progress("windows", 0, len(windows))
        yield from fetch_concurrently(
            windows,
            self._fetch_window,
            concurrency=self.concurrency,
            on_window_done=lambda done: self.on_progress("windows", done, len(windows)),
        )

    def _fetch_window(
        self, window: Window, *, extra: Mapping[str, Any] | None = None, label: str = "runs window"
    ) -> Iterator[pa.Table]:
        """One window's cursor walk (runs on a pool thread); checks the order the walk relies on.

        ``extra`` adds body fields to (or overrides those of) the window's query.
        """
        low, high = window
        body = {
            **self._body(),
            **self.query.filters(),
            "min_start_time": rfc3339(low),
            "max_start_time": rfc3339(high),
            **(extra or {}),
        }
        previous: datetime | None = None
        pages = runs = 0
        handed: list[pa.ChunkedArray] = []  # ids handed on, so a walk that starts over sends none twice
        passed: pa.Array | None = None  # built from them only when a walk starts over
        walk = restartable(
            lambda: self._pages(body),
            label=f"{label} [{body['min_start_time']}, {body['max_start_time']})",
            warnings=self.warnings,
        )
        for page in walk:
            if isinstance(page, Restart):  # the API refused a cursor: this window is walked again from the top
                previous = None
                passed = pa.chunked_array(handed, type=pa.string()).combine_chunks()
                continue
            previous = _check_page_order(page["start_time"], low, high, previous)
            if passed is not None:  # after a restart: drop what was handed on before it
                page = page.filter(pc.invert(pc.is_in(page["id"], value_set=passed)))
            handed.append(page["id"])
            pages, runs = pages + 1, runs + page.num_rows
            yield page
        log.debug("window [%s, %s): %d runs in %d pages", body["min_start_time"], body["max_start_time"], runs, pages)

    def _refresh(self, pending: Mapping[str, str]) -> Iterator[pa.Table]:
        """Re-read runs by id, oldest first; each batch's window spans its runs' start times."""
        ordered = sorted(pending.items(), key=lambda item: (parse_timestamp(item[1]), item[0]))
        batches = [ordered[k : k + IDS_PER_REQUEST] for k in range(0, len(ordered), IDS_PER_REQUEST)]
        for done, batch in enumerate(batches, 1):
            body = {
                **self._body(),
                "ids": [run_id for run_id, _ in batch],
                "min_start_time": rfc3339(parse_timestamp(batch[0][1])),
                # One second past the newest: the bound is exclusive, and precision may differ.
                "max_start_time": rfc3339(parse_timestamp(batch[-1][1]) + timedelta(seconds=1)),
            }
            yield from self._pages(body)
            self.on_progress("pending runs", done, len(batches))
        log.debug("re-read %d pending runs in %d batches", len(ordered), len(batches))


class _RunRereads(Rereads):
    """Re-read runs that did not change are dropped from the pages (sources/rereads.py)."""

    def changed(self, page: pa.Table, keep_from: datetime | None) -> pa.Table:
        """The runs of ``page`` that are new or changed. Digests are kept for those the next sync
        reads again: started since ``keep_from`` (None: every run), and the pending ones."""
        keep = pc.or_kleene(_running(page), pc.greater_equal(page["start_time"], keep_from)) if keep_from else None
        keep = pa.array([True] * page.num_rows) if keep is None else keep.combine_chunks().fill_null(False)
        known = pc.is_in(page["id"], value_set=pa.array(list(self.previous), type=pa.string()))
        candidates = pc.indices_nonzero(pc.or_(keep, known.combine_chunks() if known.num_chunks else known))
        if not len(candidates):
            return page
        rows = page.take(candidates).to_pylist()
        flags = keep.take(candidates).to_pylist()
        drop = {
            index
            for index, row, kept in zip(candidates.to_pylist(), rows, flags, strict=True)
            if self.unchanged(row["id"], row, keep=kept)
        }
        if not drop:
            return page
        return page.filter(pa.array([i not in drop for i in range(page.num_rows)]))


def _running(page: pa.Table) -> pa.ChunkedArray:
    """Runs still pending: no end_time, or status PENDING."""
    return pc.or_kleene(pc.is_null(page["end_time"]), pc.equal(pc.utf8_upper(page["status"]), "PENDING"))


class _PendingTracker:
    """Which runs are still pending after this sync, and which previously pending ones were seen.

    A pending run without a start time is not tracked: re-reading it by id needs its window.
    """

    def __init__(self, known: Mapping[str, str]) -> None:
        self._known = pa.array(list(known), type=pa.string())
        self.seen: set[str] = set()
        self.pending: dict[str, str] = {}

    def observe(self, page: pa.Table) -> None:
        ids = page["id"]
        if len(self._known):
            self.seen.update(ids.filter(pc.is_in(ids, value_set=self._known)).to_pylist())
        running = _running(page).fill_null(False)
        # Columns are filtered one by one: filtering the page would copy every column of it.
        if self.pending:  # only runs seen pending earlier in this sync can stop being pending
            done = ids.filter(pc.invert(running))
            for run_id in done.filter(pc.is_in(done, value_set=pa.array(list(self.pending)))).to_pylist():
                del self.pending[run_id]
        started = pc.and_(running, pc.is_valid(page["start_time"]))
        if pc.any(started).as_py():
            starts = page["start_time"].filter(started).to_pylist()
            for run_id, start in zip(ids.filter(started).to_pylist(), starts, strict=True):
                self.pending[run_id] = rfc3339(start)


def _check_page_order(
    starts: pa.ChunkedArray, low: datetime, high: datetime, previous: datetime | None
) -> datetime | None:
    """Fail loudly if the API ignored the window or the ASC order; returns the page's last start.

    Runs without a usable start time are loaded but take no part in this check.
    """
    if starts.null_count:
        starts = starts.drop_null()
    if len(starts) == 0:
        return previous
    first, last = starts[0].as_py(), starts[-1].as_py()
    bounds = pc.min_max(starts)
    in_order = len(starts) < 2 or pc.all(pc.less_equal(starts[:-1], starts[1:])).as_py()
    if (
        not in_order
        or (previous is not None and first < previous)
        or bounds["min"].as_py() < low
        or bounds["max"].as_py() > high
    ):
        raise UpstreamError(
            SOURCE,
            f"the runs query for [{rfc3339(low)}, {rfc3339(high)}) returned runs outside that window or out of "
            "start_time order although sort_order=ASC was requested; the sync relies on both",
            "Report the behaviour to LangChain; a self-hosted LangSmith must be v0.16 or later.",
        )
    return last


def _batched(pages: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """Combine consecutive pages until they hold at least ``rows`` rows; empty pages are dropped."""
    held: list[pa.Table] = []
    count = 0
    for page in pages:
        if page.num_rows:
            held.append(page)
            count += page.num_rows
        if count >= rows:
            yield pa.concat_tables(held)
            held, count = [], 0
    if held:
        yield pa.concat_tables(held)
