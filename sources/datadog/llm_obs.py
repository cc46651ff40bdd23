"""LLM Observability experimentation entities: one search walk per scope, shaped into typed tables.

Like model_lab.py this knows nothing about dlt: ``ExperimentationReader`` reads pages through an
ApiClient, keeps a small state dict (persisted by the dlt resource with the load) and yields
pyarrow tables.

How a scope is read:
- The search has no updated-since filter and no sort parameter. The walk is incremental when
  the service returns a scope newest ``updated_at`` first (``created_at`` for experiment runs,
  which have no ``updated_at``): it stops after the first page that reaches below the stored
  high-water mark minus a lag. If a page ever comes back out of that order, the reader says so
  and reads the whole scope on every sync instead; merging on ``id`` makes both correct.
- Soft deletes: the walk asks for deleted entities too (``include_deleted``). Experiments say
  which ones are deleted (``deleted_at``); the other scopes do not, so a second walk over the
  same stretch with ``is_deleted`` names them, and their rows get ``is_deleted = true``.
- Hard deletes are only reconciled by ``--full-refresh`` (the tables are replaced).
- JSON-any values (``input``, ``expected_output``, ``metadata``, ``config``, ``aggregate_data``)
  are stored as JSON text in JSON columns; a JSON ``null`` becomes SQL NULL.

Experiments carry no ``id`` in the docs or in the official client's model. When the service
sends one it is the key (``id_source = 'service'``); otherwise the key is derived from fields
that never change for an experiment: ``sha1(project_id, dataset_id, name, created_at)``, written
``derived:<40 hex>`` (``id_source = 'derived'``). Derived keys cannot be joined to
``experiment_runs.experiment_id``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from sources.arrow_tables import (
    EXTRA_FIELD,
    EXTRA_FIELDS,
    TIMESTAMP,
    DataIssues,
    cursor_time,
    json_texts,
    parse_timestamp,
    table,
    unknown_fields_each,
)
from sources.datadog.client import SOURCE, iter_search_pages
from sources.datadog.model_lab import TOMBSTONE  # here: "this experiment has no aggregates now"
from sources.http_client import ApiClient
from sources.paging import RESTART, is_descending, restartable
from sources.rereads import Rereads

log = logging.getLogger("runyard.datadog.llm_obs")

TABLES = {
    "projects": "llmobs_projects",
    "datasets": "llmobs_datasets",
    "dataset_records": "llmobs_dataset_records",
    "experiments": "llmobs_experiments",
    "experiment_runs": "llmobs_experiment_runs",
}
# Fields holding any JSON value: stored as JSON columns, not exploded into columns.
JSON_FIELDS = frozenset({"input", "expected_output", "metadata", "config", "aggregate_data"})
CURSOR_FIELD = {scope: "updated_at" for scope in TABLES} | {"experiment_runs": "created_at"}


_STRING = pa.string()


def _s(name: str, kind: pa.DataType = _STRING, nullable: bool = True) -> pa.Field:
    return pa.field(name, kind, nullable=nullable)


_ID = _s("id", nullable=False)
SCHEMAS: dict[str, pa.Schema] = {
    "projects": pa.schema(
        [_ID, _s("name"), _s("description"), _s("created_at", TIMESTAMP), _s("updated_at", TIMESTAMP),
         _s("is_deleted", pa.bool_()), EXTRA_FIELD]
    ),
    "datasets": pa.schema(
        [_ID, _s("name"), _s("description"), _s("metadata"), _s("current_version", pa.int64()),
         _s("created_at", TIMESTAMP), _s("updated_at", TIMESTAMP), _s("is_deleted", pa.bool_()), EXTRA_FIELD]
    ),
    "dataset_records": pa.schema(
        [_ID, _s("dataset_id"), _s("input"), _s("expected_output"), _s("metadata"), _s("created_at", TIMESTAMP),
         _s("updated_at", TIMESTAMP), _s("is_deleted", pa.bool_()), EXTRA_FIELD]
    ),
    "experiments": pa.schema(
        [_ID, _s("id_source"), _s("name"), _s("description"), _s("experiment"), _s("project_id"), _s("dataset_id"),
         _s("dataset_name"), _s("dataset_version", pa.int64()), _s("parent_experiment_id"), _s("status"),
         _s("run_count", pa.int64()), _s("error"), _s("config"), _s("metadata"), _s("aggregate_data"),
         _s("author_id"), _s("author_name"), _s("author_email"), _s("author_handle"), _s("created_at", TIMESTAMP),
         _s("updated_at", TIMESTAMP), _s("deleted_at", TIMESTAMP), _s("is_deleted", pa.bool_()), EXTRA_FIELD]
    ),
    "experiment_runs": pa.schema(
        [_ID, _s("experiment_id"), _s("run_number", pa.int64()), _s("aggregate_data"), _s("created_at", TIMESTAMP),
         _s("is_deleted", pa.bool_()), EXTRA_FIELD]
    ),
}  # fmt: skip
JSON_COLUMNS = {
    scope: [f.name for f in schema if f.name in JSON_FIELDS or f.name == EXTRA_FIELDS]
    for scope, schema in SCHEMAS.items()
}
# Fields of a flattened row that have a column or are dropped on purpose (an author's avatar URL);
# any other one goes to extra_fields.
_KNOWN = {scope: frozenset(schema.names) - {EXTRA_FIELDS} | {"author_icon"} for scope, schema in SCHEMAS.items()}
_REQUIRED = {
    "projects": ("name", "created_at", "updated_at"),
    "datasets": ("name", "created_at", "updated_at"),
    "dataset_records": ("dataset_id", "created_at", "updated_at"),
    "experiments": ("name", "project_id", "dataset_id", "status", "created_at", "updated_at"),
    "experiment_runs": ("experiment_id", "created_at"),
}

# The top-level numbers of each experiment's aggregate_data, one row per (experiment, metric,
# statistic): a number is statistic "value", an object gives one row per numeric member. Pulled
# out at load time so every destination's views can chart them with plain SQL.
AGGREGATES_TABLE = "llmobs_experiment_aggregates"
AGGREGATES_SCHEMA = pa.schema(
    [
        _s("experiment_id", nullable=False),
        _s("metric_key"),
        _s("statistic"),
        _s("value", pa.float64()),
        _s(TOMBSTONE, pa.bool_()),
    ]
)


def flatten(scope: str, item: Any) -> dict[str, Any]:
    """One search result as a flat row. Projects and datasets are JSON:API objects; the rest are flat.

    A part of another shape than documented is kept whole under its own name (so it lands in
    extra_fields); an id that cannot be merged on (nor derived) leaves the row without one.
    """
    if not isinstance(item, dict):
        return {"id": None}
    if scope in ("projects", "datasets"):
        attributes = item.get("attributes")
        if not isinstance(attributes, dict):
            attributes = {} if attributes is None else {"attributes": attributes}
        return {**attributes, "id": _key(item.get("id"))}
    row = dict(item)
    row["id"] = _key(row.get("id"))
    if scope == "experiments":
        author = row.get("author")
        if isinstance(author, dict):
            del row["author"]
            row.update({f"author_{k}": v for k, v in author.items()})
        row["id_source"] = "derived" if row["id"] is None else "service"
        if row["id"] is None:
            row["id"] = derived_id(row.get("project_id"), row.get("dataset_id"), row.get("name"), row.get("created_at"))
    elif scope == "experiment_runs" and row["id"] is None:
        row["id"] = derived_id(row.get("experiment_id"), row.get("run_number"), row.get("created_at"))
    return row


def _key(value: Any) -> str | int | None:
    """An id that can be merged on (text, or a number the table turns into text); None for anything else."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def derived_id(*parts: Any) -> str:
    """A stable key from immutable fields, for entities the service sends without an id."""
    digest = hashlib.sha1("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()
    return f"derived:{digest}"


def rows_to_table(scope: str, rows: list[dict[str, Any]], deleted_ids: set[str], issues: DataIssues) -> pa.Table:
    """The scope's table; rows without an id are left out (reported through ``issues``)."""
    schema = SCHEMAS[scope]
    columns: dict[str, Any] = {}
    for f in schema:
        if f.name == "is_deleted":
            columns[f.name] = [bool(r.get("deleted_at")) or r["id"] in deleted_ids for r in rows]
        elif f.name in JSON_FIELDS:
            columns[f.name] = json_texts([r.get(f.name) for r in rows])
        elif f.name == EXTRA_FIELDS:
            columns[f.name] = unknown_fields_each(rows, _KNOWN[scope])
        else:
            columns[f.name] = [r.get(f.name) for r in rows]
    return table(schema, columns, name=TABLES[scope], issues=issues, required=_REQUIRED[scope])


def aggregates_table(rows: list[dict[str, Any]], *, tombstones: bool, issues: DataIssues) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in AGGREGATES_SCHEMA.names}

    def add(experiment_id: str, metric: Any, statistic: Any, value: Any, tombstone: bool | None = None) -> None:
        for name, item in zip(
            AGGREGATES_SCHEMA.names, (experiment_id, metric, statistic, value, tombstone), strict=True
        ):
            columns[name].append(item)

    for row in rows:
        data = row.get("aggregate_data")
        before = len(columns["experiment_id"])
        if isinstance(data, dict):
            for metric, value in data.items():
                if (number := _chartable(value)) is not None:
                    add(row["id"], str(metric), "value", number)
                elif isinstance(value, dict):
                    for statistic, member in value.items():
                        if (number := _chartable(member)) is not None:
                            add(row["id"], str(metric), str(statistic), number)
        if tombstones and len(columns["experiment_id"]) == before:
            add(row["id"], None, None, None, True)
    return table(AGGREGATES_SCHEMA, columns, name=AGGREGATES_TABLE, issues=issues)


def _chartable(value: Any) -> float | None:
    """A number as a float for the aggregates table; None for anything else, NaN, and integers
    beyond a float's range (those stay, exact, in the experiment's aggregate_data)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return None if number != number else number


class ExperimentationReader:
    """Reads one scope for one sync. State: ``{"cursor": ..., "ordered": bool, "digests": {id: digest}}``.

    A row read again unchanged is not loaded again (sources/rereads.py): in a walk that comes
    newest first, rows below the cursor minus the lag were loaded before and have not moved, and
    those within the lag are compared with the digests kept of them.
    """

    def __init__(
        self,
        client: ApiClient,
        state: dict[str, Any],
        *,
        scope: str,
        page_limit: int,
        content_preview_limit: int | None,
        query: str | None,
        include_user_data: bool,
        lag_s: int,
        on_page: Callable[[str, int, int | None], None],
    ) -> None:
        self.client = client
        self.state = state
        self.scope = scope
        self.cursor_field = CURSOR_FIELD[scope]
        self.page_limit = page_limit
        self.lag = timedelta(seconds=lag_s)
        self.on_page = on_page
        self.warnings: list[str] = []
        self.issues = DataIssues(SOURCE)  # records that did not fit the tables: warnings at the end
        self.extra: dict[str, Any] = {}
        if content_preview_limit:
            self.extra["content_preview"] = {"limit": content_preview_limit}
        if include_user_data and scope == "experiments":
            self.extra["include"] = {"user_data": True}
        self.query = query

    def read(self, *, full: bool) -> Iterator[tuple[str, pa.Table]]:
        """(table name, rows) per page: the scope's table, and for experiments their aggregates."""
        cursor = None if full or not self.state.get("ordered", True) else self.state.get("cursor")
        stop_below = parse_timestamp(cursor) - self.lag if cursor else None
        rereads = Rereads(self.state.get("digests") if cursor else None)
        deleted = set() if self.scope == "experiments" else self._deleted_ids(stop_below)
        high_water = cursor
        ordered = True
        previous: datetime | None = None
        seen: set[str] = set()
        for number, items in enumerate(self._pages(include_deleted=True), 1):
            if items is RESTART:  # the service refused a cursor: the scope is walked again from the top
                previous = None
                continue
            self.on_page(f"{self.scope} pages", number, None)
            rows = [r for r in (flatten(self.scope, item) for item in items) if r.get("id") not in seen]
            seen.update(r["id"] for r in rows if r["id"] is not None)  # rows without one go on, to be reported
            if not rows:
                continue
            # Rows without a usable cursor field are loaded but take no part in the order and the cursor.
            dated = [(stamp, r[self.cursor_field]) for r in rows if (stamp := cursor_time(r.get(self.cursor_field)))]
            stamps = [stamp for stamp, _ in dated]
            ordered &= is_descending(stamps, previous)
            previous = stamps[-1] if stamps else previous
            if dated:
                newest, text = max(dated, key=lambda pair: pair[0])
                if high_water is None or newest > parse_timestamp(high_water):
                    high_water = text
            if (
                ordered and high_water is not None
            ):  # (nothing is skipped without a cursor: a first sync or full refresh)
                rows = self._changed(rows, rereads, deleted, stop_below, parse_timestamp(high_water) - self.lag)
            if rows:
                yield TABLES[self.scope], rows_to_table(self.scope, rows, deleted, self.issues)
            if rows and self.scope == "experiments":
                yield AGGREGATES_TABLE, aggregates_table(rows, tombstones=not full, issues=self.issues)
            if ordered and stop_below is not None and stamps and stamps[-1] < stop_below:
                break
        if not ordered and self.state.get("ordered", True):
            self.warnings.append(
                f"{self.scope}: the search did not return newest {self.cursor_field} first, so every sync reads "
                "the whole scope (correct, but more requests)"
            )
        self.warnings.extend(self.issues.warnings())
        self.state.update(cursor=high_water, ordered=ordered, digests=rereads.current if ordered else {})
        self.state.pop("last_sync_at", None)  # kept by runyard itself now (a sync with nothing new records nothing)

    def _changed(
        self,
        rows: list[dict[str, Any]],
        rereads: Rereads,
        deleted: set[str],
        loaded_before: datetime | None,
        reread_from: datetime,
    ) -> list[dict[str, Any]]:
        """The rows that are new or changed since they were loaded."""
        changed = []
        for row in rows:
            stamp = cursor_time(row.get(self.cursor_field))
            if stamp is not None and loaded_before is not None and stamp < loaded_before:
                continue  # below the lag window: loaded by an earlier sync, and not moved since
            keep = row["id"] is not None and stamp is not None and stamp >= reread_from
            if row["id"] is None or not rereads.unchanged(str(row["id"]), [row, row["id"] in deleted], keep=keep):
                changed.append(row)
        return changed

    def _deleted_ids(self, stop_below: datetime | None) -> set[str]:
        """Ids of soft-deleted entities over the same stretch the main walk reads."""
        ids: set[str] = set()
        for items in self._pages(is_deleted=True):
            if items is RESTART:
                continue
            rows = [flatten(self.scope, item) for item in items]
            ids.update(r["id"] for r in rows if r.get("id"))
            stamps = [stamp for r in rows if (stamp := cursor_time(r.get(self.cursor_field)))]
            if stop_below is not None and stamps and min(stamps) < stop_below:
                break
        return ids

    def _pages(self, **flags: bool) -> Iterator[Any]:
        """Search pages (lists of items), with ``RESTART`` where a refused cursor made the walk start over."""
        search_filter: dict[str, Any] = {"scope": [self.scope], **flags}
        if self.query:
            search_filter["query"] = self.query
        yield from restartable(
            lambda: iter_search_pages(self.client, self.scope, search_filter, self.page_limit, self.extra),
            label=f"{self.scope} search",
            warnings=self.warnings,
        )
