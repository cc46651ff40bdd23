"""Model Lab runs: how the run list is walked, and how runs become four typed tables.

Nothing here knows about dlt or DuckDB: ``ModelLabReader`` reads pages through an ApiClient,
keeps its own small state dict (which the dlt resource persists) and yields
``(table_name, pyarrow.Table)`` pairs.

Why the walks look the way they do (the list has no updated-since filter, only sorts):
- Incremental: ``sort=-updated_at`` from the top, stopping after the first page that reaches
  below the stored high-water mark minus a lag. Under this order an update or insert during
  the walk only pushes rows down (read twice, merged away); the row that moved is newer than
  the new high-water mark, so the next sync reads it.
- Full: ``sort=created_at``, an order updates cannot reshuffle, with the high-water mark taken
  *before* the walk. Hard deletes still shift rows across page boundaries; a walk that saw
  ``meta.page.total`` shrink, or read fewer runs than the total, is repeated.
- Unfinished runs (pending/running/paused/unresponsive) are re-read on every sync, because
  their metrics change without moving them in the list: 100 per list request through
  ``filter[id]``, so a sync with nothing new costs 1 + ceil(followed / 100) requests, never one
  per run. A run missing from the answer is deleted (as a 404 was); a few are confirmed by GET.
- A run read again unchanged is not loaded again (sources/rereads.py): runs at or below the
  cursor minus the lag were loaded before and have not moved; runs within the lag and the
  followed ones are compared with the digests this reader kept of them.
- Runs that never finish (a crashed job stays ``running``: one run in five in the recorded live
  org) are followed until their ``updated_at`` is ``follow_unfinished_days`` old, then left to
  the list walk (a status change moves ``updated_at``) and to ``--full-refresh``: the cost stays
  bounded by the runs of the last weeks, not by every zombie the org ever had.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from sources.arrow_tables import (
    EXTRA_FIELD,
    EXTRA_FIELDS,
    TIMESTAMP,
    DataIssues,
    cursor_time,
    parse_timestamp,
    plain_columns,
    table,
    unknown_fields_each,
)
from sources.datadog.client import SOURCE, fetch_run_page, get_run, iter_run_pages
from sources.datadog.settings import (
    MODEL_LAB_CONFIRM_MISSING,
    MODEL_LAB_FOLLOW_UNFINISHED_DAYS,
    MODEL_LAB_IDS_PER_REQUEST,
    MODEL_LAB_MAX_FULL_WALKS,
    MODEL_LAB_PAGE_SIZE,
    MODEL_LAB_UNFINISHED,
)
from sources.errors import ConfigError, NotFoundError, UpstreamError
from sources.http_client import ApiClient
from sources.paging import is_descending
from sources.rereads import Rereads

log = logging.getLogger("runyard.datadog.model_lab")

RUNS_TABLE = "model_lab_runs"
METRICS_TABLE = "model_lab_run_metrics"
PARAMS_TABLE = "model_lab_run_params"
TAGS_TABLE = "model_lab_run_tags"
# Runs shaped into tables per yield: fewer, larger Arrow tables keep dlt's per-item overhead low.
EMIT_BATCH_RUNS = 1000
# Requests in flight while unfinished runs are read again, and while a full walk reads the list
# (the org's pacer keeps them within the rate limit): over a real network one page after another
# would spend most of a first sync waiting (65,614 runs are 657 round trips).
REFRESH_CONCURRENCY = 8
PAGE_CONCURRENCY = 8
# Child tables carry one marker row per run whose list came back empty; dlt's merge treats it
# as "delete every row with this run_id" and never inserts it (docs/decisions.md#tombstones).
TOMBSTONE = "_tombstone"

RUNS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("status", pa.string()),
        pa.field("project_id", pa.int64()),
        pa.field("owner_id", pa.string()),
        pa.field("created_at", TIMESTAMP),
        pa.field("updated_at", TIMESTAMP),
        pa.field("started_at", TIMESTAMP),
        pa.field("completed_at", TIMESTAMP),
        pa.field("duration", pa.float64()),
        pa.field("deleted_at", TIMESTAMP),
        pa.field("has_children", pa.bool_()),
        pa.field("is_pinned", pa.bool_()),
        pa.field("external_url", pa.string()),
        pa.field("mlflow_artifact_location", pa.string()),
        EXTRA_FIELD,
    ]
)
METRICS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("key", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("min", pa.float64()),
        pa.field("max", pa.float64()),
        pa.field("mean", pa.float64()),
        pa.field("latest", pa.float64()),
        pa.field("stddev", pa.float64()),
        pa.field("first_step", pa.int64()),
        pa.field("last_step", pa.int64()),
        EXTRA_FIELD,
        pa.field(TOMBSTONE, pa.bool_()),
    ]
)
KEY_VALUE_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("key", pa.string()),
        pa.field("value", pa.string()),
        EXTRA_FIELD,
        pa.field(TOMBSTONE, pa.bool_()),
    ]
)
CHILD_SCHEMAS = {METRICS_TABLE: METRICS_SCHEMA, PARAMS_TABLE: KEY_VALUE_SCHEMA, TAGS_TABLE: KEY_VALUE_SCHEMA}
_CHILD_LISTS = {"metric_summaries": METRICS_TABLE, "params": PARAMS_TABLE, "tags": TAGS_TABLE}
# Attributes that have a column, feed a child table, or are dropped on purpose (``descendant_match``
# says how a list search matched, not what the run is); any other one goes to extra_fields.
_RUN_ATTRIBUTES = frozenset(RUNS_SCHEMA.names[1:-1]) | frozenset((*_CHILD_LISTS, "descendant_match"))
_REQUIRED = ("name", "status", "project_id", "created_at", "updated_at")
_TOMBSTONE_ROW: dict[str, Any] = {}  # stands for a tombstone among a child table's entries


@dataclass(frozen=True)
class ModelLabFilters:
    """Optional list filters from config. Project ids and statuses fan out (the API takes one each)."""

    project_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    tags: str | None = None
    params: str | None = None
    parent_run_id: str | None = None
    text: str | None = None

    def partitions(self) -> list[tuple[str, dict[str, Any]]]:
        """(state key, query) for every project x status combination the filters ask for."""
        common = {
            k: v
            for k, v in (
                ("filter[tags]", self.tags),
                ("filter[params]", self.params),
                ("filter[parent_run_id]", self.parent_run_id),
                ("filter", self.text),
            )
            if v
        }
        result = []
        for project in self.project_ids or (None,):
            for status in self.statuses or (None,):
                query: dict[str, Any] = dict(common)
                if project is not None:
                    query["filter[project_id]"] = project
                if status is not None:
                    query["filter[status]"] = status
                key = "&".join(f"{k}={v}" for k, v in sorted(query.items())) or "all"
                result.append((key, query))
        return result


def run_tables(runs: Sequence[dict[str, Any]], *, tombstones: bool, issues: DataIssues) -> dict[str, pa.Table]:
    """Shape Model Lab run objects (``data[]`` items with a usable id) into the four tables.

    ``null`` and absent are the same (the live service omits optional fields). A null
    ``params`` is read as "no params": the run's current state has none, so old rows go. A child
    list of another shape is kept in the run's ``extra_fields``, and its old rows stay.
    """
    ids: list[int | None] = []
    attrs_list: list[dict[str, Any]] = []
    for run in runs:
        ids.append(_run_id(run))
        attrs_list.append(_attributes(run))

    run_columns: dict[str, Any] = {"id": ids, **plain_columns(attrs_list, RUNS_SCHEMA)}
    for name in RUNS_SCHEMA.names[1:-1]:
        if name not in run_columns:
            run_columns[name] = [a.get(name) for a in attrs_list]
    run_extras = run_columns[EXTRA_FIELDS] = unknown_fields_each(attrs_list, _RUN_ATTRIBUTES)

    children: dict[str, tuple[list[int | None], list[dict[str, Any]]]] = {name: ([], []) for name in _CHILD_LISTS}
    for row, (run_id, attrs) in enumerate(zip(ids, attrs_list, strict=True)):
        for name, (run_ids, entries) in children.items():
            items = attrs.get(name)
            try:
                items = _unique_by_key(items)
            except _NotObjects:
                issues.add(RUNS_TABLE, name, "shape", example=items)
                run_extras[row] = {**(run_extras[row] or {}), name: items}
                continue
            if items:
                run_ids.extend([run_id] * len(items))
                entries.extend(items)
            elif tombstones:
                run_ids.append(run_id)
                entries.append(_TOMBSTONE_ROW)
    tables = {RUNS_TABLE: table(RUNS_SCHEMA, run_columns, name=RUNS_TABLE, issues=issues, required=_REQUIRED)}
    for name, (run_ids, entries) in children.items():
        child = _CHILD_LISTS[name]
        schema = CHILD_SCHEMAS[child]
        tables[child] = table(
            schema, _child_columns(schema, run_ids, entries), name=child, issues=issues, required=("key",),
            marker=TOMBSTONE,
        )  # fmt: skip
    return tables


def _child_columns(schema: pa.Schema, run_ids: list[int | None], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A child table's columns over the entries of a whole batch: text columns read in one pass
    (``plain_columns``), the others column by column."""
    columns: dict[str, Any] = {
        "run_id": run_ids,
        TOMBSTONE: [True if e is _TOMBSTONE_ROW else None for e in entries],
    }
    fields = [name for name in schema.names if name not in (*columns, EXTRA_FIELDS)]
    columns.update(plain_columns(entries, pa.schema([schema.field(name) for name in fields])))
    for name in fields:
        if name not in columns:
            columns[name] = [entry.get(name) for entry in entries]
    columns[EXTRA_FIELDS] = unknown_fields_each(entries, frozenset(fields))
    return columns


def _run_id(run: Any) -> int | None:
    """The run's id (an integer, sent as text); None when it has none that can be merged on."""
    value = run.get("id") if isinstance(run, dict) else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value if type(value) is int else None


def _attributes(run: dict[str, Any]) -> dict[str, Any]:
    """The run's attributes; anything but an object is kept whole (it lands in extra_fields)."""
    attrs = run.get("attributes")
    return attrs if isinstance(attrs, dict) else {} if attrs is None else {"attributes": attrs}


def _updated_at(run: Any) -> datetime | None:
    """The run's ``updated_at``; None when missing or unusable (the run is kept, outside the cursor logic)."""
    return cursor_time(_attributes(run).get("updated_at")) if isinstance(run, dict) else None


class _NotObjects(Exception):
    """A child list (metric_summaries, params, tags) that is not a list of objects."""


def _unique_by_key(items: Any) -> list[dict[str, Any]]:
    """Entries keyed by ``key``; a repeated key keeps its last value (a run has one of each).

    Entries whose key is missing or not text are all kept (the table reports them). Raises
    _NotObjects for anything but null or a list of objects, found without a check per entry.
    """
    if items is None:
        return []
    if type(items) is not list:
        raise _NotObjects
    try:
        if len({item["key"] for item in items}) == len(items):
            return items
    except (KeyError, TypeError):  # an entry without a key, with an unhashable one, or not an object
        pass
    try:
        by_key = {key if isinstance(key := item.get("key"), str) else id(item): item for item in items}
    except AttributeError:
        raise _NotObjects from None
    return list(by_key.values())


class ModelLabReader:
    """Reads Model Lab runs for one sync and keeps the resource state up to date.

    State layout (persisted by dlt with the load, so it only moves when the data lands)::

        {"partitions": {key: {"cursor": "<updated_at>", "needs_full_walk": bool}},
         "unfinished": {"<run id>": "<its updated_at>", ...},   # followed: read again every sync
         "not_found": {"<run id>": "<detected at>"},
         "digests": {"<run id>": "<digest>", ...}}   # of the runs the next sync reads again
    """

    def __init__(
        self,
        client: ApiClient,
        state: dict[str, Any],
        *,
        filters: ModelLabFilters,
        lag_s: int,
        merge: bool,
        follow_unfinished_days: int = MODEL_LAB_FOLLOW_UNFINISHED_DAYS,
        on_page: Callable[[str, int, int | None], None] | None = None,
    ) -> None:
        self.client = client
        self.state = state
        self.filters = filters
        self.lag = timedelta(seconds=lag_s)
        self.merge = merge
        self.follow_since = datetime.now(UTC) - timedelta(days=follow_unfinished_days)
        self.on_page = on_page or (lambda _label, _done, _total: None)
        self.seen: set[int] = set()
        self._batch: list[dict[str, Any]] = []
        self.status_of: dict[int, tuple[str, str | None]] = {}  # run id -> (status, updated_at) as read
        self._by_get = False  # the list did not take filter[id]: unfinished runs read by GET
        self._warn_once = threading.Lock()
        self.warnings: list[str] = []
        self.issues = DataIssues(SOURCE)  # records that did not fit the tables: warnings at the end
        # A replace (full refresh) loads every run it reads; a merge only those that changed.
        self.rereads = Rereads(state.get("digests") if merge else None)

    # -- entry points -------------------------------------------------------------------

    def sync(self, *, full: bool) -> Iterator[tuple[str, pa.Table]]:
        """The list walk for every partition, then the unfinished runs by id."""
        partitions = self.state.setdefault("partitions", {})
        wanted = self.filters.partitions()
        for key in set(partitions) - {k for k, _ in wanted}:
            del partitions[key]
        for key, query in wanted:
            part = partitions.setdefault(key, {})
            if full or not part.get("cursor") or part.get("needs_full_walk"):
                yield from self._full_walk(key, query, part)
            else:
                yield from self._incremental_walk(key, query, part)
        yield from self._refresh_unfinished()
        yield from self._flush()
        self._remember_statuses()
        self.state["digests"] = self.rereads.current
        self.warnings.extend(self.issues.warnings())

    def backfill(self, run_ids: Sequence[int]) -> Iterator[tuple[str, pa.Table]]:
        """Read exactly these runs by id, and load them whatever they hold; cursors stay where they are."""
        self.rereads = Rereads()  # compared with nothing, remembered nowhere: the state keeps its digests
        runs = []
        for run_id in run_ids:
            try:
                runs.append(get_run(self.client, run_id))
            except NotFoundError:
                raise ConfigError(
                    SOURCE,
                    f"Model Lab run {run_id} does not exist (GET returned 404)",
                    "Check the --run-id values; nothing was written.",
                ) from None
            self.on_page("runs by id", len(runs), len(run_ids))
        yield from self._emit(runs, reread_from=None)
        yield from self._flush()
        self._remember_statuses()
        self.warnings.extend(self.issues.warnings())

    # -- walks --------------------------------------------------------------------------

    def _full_walk(self, key: str, query: dict[str, Any], part: dict[str, Any]) -> Iterator[tuple[str, pa.Table]]:
        # The high-water mark comes first: anything updated after this request is newer than it.
        top = fetch_run_page(self.client, {**query, "sort": "-updated_at"}, size=1)
        if not top.runs:
            part.update(cursor=None, needs_full_walk=False)
            return
        # Without a usable updated_at on the newest run there is no mark: the next sync walks everything again.
        high_water = top.runs[0]["attributes"]["updated_at"] if _updated_at(top.runs[0]) else None
        if high_water is None:
            self.warnings.append(
                f"the newest Model Lab run ({key}) has no usable updated_at, so this sync sets no cursor and the "
                "next one reads the whole list again"
            )
        for attempt in range(1, MODEL_LAB_MAX_FULL_WALKS + 1):
            read: set[int] = set()
            unkeyed = 0  # runs without a usable id still count towards the total
            disturbed = False
            previous_total: int | None = None
            pages = iter_run_pages(self.client, {**query, "sort": "created_at"}, concurrency=PAGE_CONCURRENCY)
            for page in pages:
                self.on_page(_pages_label(key), page.number + 1, _page_count(page.total))
                disturbed |= previous_total is not None and page.total < previous_total
                previous_total = page.total
                ids = [_run_id(run) for run in page.runs]
                read.update(i for i in ids if i is not None)
                unkeyed += ids.count(None)
                yield from self._emit(page.runs, reread_from=_reread_from(high_water, self.lag))
            if previous_total is not None and len(read) + unkeyed < previous_total:
                disturbed = True
            if not disturbed:
                break
            log.info("Model Lab list shrank during full walk %d of %s; reading it again", attempt, key)
        if disturbed:
            self.warnings.append(
                f"the Model Lab run list ({key}) kept changing while it was read; runs shifted across "
                "pages may be missing, so the next sync reads the whole list again"
            )
        part.update(cursor=high_water, needs_full_walk=disturbed)

    def _incremental_walk(
        self, key: str, query: dict[str, Any], part: dict[str, Any]
    ) -> Iterator[tuple[str, pa.Table]]:
        cursor = part["cursor"]
        stop_below = parse_timestamp(cursor) - self.lag
        new_cursor = cursor
        previous_total: int | None = None
        previous_last: datetime | None = None
        disturbed = False
        for page in iter_run_pages(self.client, {**query, "sort": "-updated_at"}):
            self.on_page(_pages_label(key), page.number + 1, None)
            if not page.runs:
                break
            # Runs without a usable updated_at are loaded but take no part in the order and the cursor.
            dated = [(stamp, run) for run in page.runs if (stamp := _updated_at(run)) is not None]
            stamps = [stamp for stamp, _ in dated]
            _check_descending(stamps, previous_last)
            if previous_total is None and stamps and stamps[0] > parse_timestamp(new_cursor):
                new_cursor = dated[0][1]["attributes"]["updated_at"]
            disturbed |= previous_total is not None and page.total < previous_total
            previous_total, previous_last = page.total, stamps[-1] if stamps else previous_last
            yield from self._emit(page.runs, reread_from=_reread_from(new_cursor, self.lag), loaded_before=stop_below)
            if stamps and stamps[-1] < stop_below:
                break
        # A shrinking list may have shifted a row past us: keep the old mark so the next sync
        # covers the same stretch again.
        part.update(cursor=cursor if disturbed else new_cursor, needs_full_walk=False)

    def _followed(self) -> dict[int, str]:
        """The unfinished runs followed so far (an older state kept a list: ages unknown, so followed)."""
        kept = self.state.get("unfinished") or {}
        pairs = kept.items() if isinstance(kept, dict) else ((i, "") for i in kept)
        return {int(i): updated or "" for i, updated in pairs}

    def _refresh_unfinished(self) -> Iterator[tuple[str, pa.Table]]:
        """The followed runs the walks did not see, 100 ids per list request, a few requests in flight."""
        ids = sorted(i for i in self._followed() if i not in self.seen)
        batches = [ids[k : k + MODEL_LAB_IDS_PER_REQUEST] for k in range(0, len(ids), MODEL_LAB_IDS_PER_REQUEST)]
        missing: list[int] = []
        pool = ThreadPoolExecutor(max_workers=REFRESH_CONCURRENCY, thread_name_prefix="unfinished")
        try:
            answers = pool.map(self._runs_by_id, batches)
            for done, (batch, runs) in enumerate(zip(batches, answers, strict=True), 1):
                self.on_page("unfinished runs", done, len(batches))
                found = {_run_id(run) for run in runs}
                missing += [run_id for run_id in batch if run_id not in found]
                yield from self._emit(runs, reread_from=None)
        finally:
            pool.shutdown(cancel_futures=True)
        yield from self._emit(self._confirm_missing(missing), reread_from=None)

    def _runs_by_id(self, ids: list[int]) -> list[dict[str, Any]]:
        """These runs as the list has them (``filter[id]``); one the list does not hold is left out.

        A server that refuses a list of ids (400/422) or ignores it (answers other runs) gets a
        GET per run instead, for this sync, said once.
        """
        wanted = set(ids)
        try:
            runs = [
                run
                for page in iter_run_pages(self.client, {"filter[id]": ",".join(map(str, ids))})
                for run in page.runs
            ]
            why = "answered runs that were not asked for" if any(_run_id(r) not in wanted for r in runs) else None
        except UpstreamError as exc:
            if exc.status not in (400, 422):
                raise
            runs, why = [], f"refused it: {exc.status} {exc.detail[:200]}"
        if why is None:
            return runs
        with self._warn_once:
            if not self._by_get:
                self._by_get = True
                self.warnings.append(
                    f"the Model Lab run list did not take a list of ids in filter[id] (it {why}); this sync "
                    "read each unfinished run with its own GET instead"
                )
        return [run for run_id in ids if (run := self._run_or_none(run_id)) is not None]

    def _run_or_none(self, run_id: int) -> dict[str, Any] | None:
        try:
            return get_run(self.client, run_id)
        except NotFoundError:
            return None

    def _confirm_missing(self, missing: list[int]) -> list[dict[str, Any]]:
        """Runs the list no longer holds are deleted; when few, a GET each confirms it. Returns runs still there."""
        not_found = self.state.setdefault("not_found", {})
        found = []
        for run_id in missing:
            run = self._run_or_none(run_id) if len(missing) <= MODEL_LAB_CONFIRM_MISSING else None
            if run is None:
                not_found[str(run_id)] = datetime.now(UTC).isoformat()
                self.status_of[run_id] = ("deleted", None)
            else:
                found.append(run)
        if found:
            self.warnings.append(
                f"{len(found)} unfinished Model Lab run(s) were missing from the list's filter[id] answer but a GET "
                f"found them (e.g. {_run_id(found[0])}); they were read that way"
            )
        return found

    # -- output -------------------------------------------------------------------------

    def _emit(
        self,
        runs: Sequence[dict[str, Any]],
        *,
        reread_from: datetime | None,
        loaded_before: datetime | None = None,
    ) -> Iterator[tuple[str, pa.Table]]:
        """Queue runs not seen yet in this sync and changed since they were loaded; yield tables once a batch is full.

        ``reread_from``: runs updated since are read again by the next sync (its lag window), so
        their digest is kept; so is every followed run's. ``loaded_before``: runs updated before
        this were loaded by an earlier sync and have not moved since. Batches of ~1000 runs keep
        dlt's per-item cost (schema checks per yielded table) small.
        """
        for run in runs:
            run_id = _run_id(run)
            if run_id is None:
                self.issues.add(RUNS_TABLE, "id", "unkeyed", example=run.get("id") if isinstance(run, dict) else run)
                continue
            if run_id in self.seen:
                continue
            self.seen.add(run_id)
            attributes = _attributes(run)
            status, updated = attributes.get("status"), attributes.get("updated_at")
            status = status if isinstance(status, str) else ""
            updated = updated if isinstance(updated, str) else None
            self.status_of[run_id] = (status, updated)
            stamp = cursor_time(updated) if updated else None
            followed = status in MODEL_LAB_UNFINISHED and self._still_followed(updated or "")
            if (
                not followed
                and self.merge
                and stamp is not None
                and loaded_before is not None
                and stamp < loaded_before
            ):
                continue
            keep = followed or (stamp is not None and reread_from is not None and stamp >= reread_from)
            if self.rereads.unchanged(str(run_id), run, keep=keep):
                continue
            self._batch.append(run)
        if len(self._batch) >= EMIT_BATCH_RUNS:
            yield from self._flush()

    def _flush(self) -> Iterator[tuple[str, pa.Table]]:
        if self._batch:
            batch, self._batch = self._batch, []
            yield from run_tables(batch, tombstones=self.merge, issues=self.issues).items()

    def _remember_statuses(self) -> None:
        """Which runs are followed from now on: unfinished ones whose updated_at is recent enough."""
        unfinished = self._followed()
        not_found = self.state.setdefault("not_found", {})
        for run_id, (status, updated) in self.status_of.items():
            if status in MODEL_LAB_UNFINISHED:
                unfinished[run_id] = updated or ""
            else:
                unfinished.pop(run_id, None)
            if status != "deleted":
                not_found.pop(str(run_id), None)
        self.state["unfinished"] = {
            str(i): updated for i, updated in sorted(unfinished.items()) if self._still_followed(updated)
        }
        self.state.pop("last_sync_at", None)  # kept by runyard itself now (a sync with nothing new records nothing)

    def _still_followed(self, updated: str) -> bool:
        stamp = cursor_time(updated) if updated else None
        return stamp is None or stamp >= self.follow_since


def _reread_from(cursor: str | None, lag: timedelta) -> datetime | None:
    """Where the next sync's walk will stop reading: runs updated since are read again."""
    stamp = cursor_time(cursor) if cursor else None
    return stamp - lag if stamp is not None else None


def _pages_label(partition: str) -> str:
    return "list pages" if partition == "all" else f"list pages ({partition})"


def _page_count(total: int) -> int:
    return max(1, -(-total // MODEL_LAB_PAGE_SIZE))


def _check_descending(stamps: list[datetime], previous_last: datetime | None) -> None:
    if not is_descending(stamps, previous_last):
        raise UpstreamError(
            SOURCE,
            "Model Lab returned runs out of updated_at order although sort=-updated_at was requested; "
            "an incremental sync relies on that order",
            "Run `runyard sync model_lab --full-refresh`, and report the behaviour to Datadog.",
        )
