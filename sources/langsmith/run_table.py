"""How a page of LangSmith runs becomes one typed Arrow table: the columns, and two ways to read them.

- The direct path (``RunTables.decode``): msgspec reads the response body straight into typed
  values, one struct per run, with nested values kept as the JSON text the service sent (never
  parsed into Python objects and written out again). It only takes a page that is exactly as
  documented: every field one the table knows, each value of its column's type, no NUL.
- The general path (``runs_table``): any other page is parsed into Python values
  (``parse_json_body``) and shaped column by column, where drift is sorted out and reported
  (sources/arrow_tables.py): unknown fields to extra_fields, lossless conversions, rejects.

Both give the same table for a page both can read (tests/test_langsmith_sync.py); nested values
are the same JSON either way, and the same text too when the body is compact JSON. The direct
path costs about half the GIL time per page, and GIL time is what bounds a sync with many
windows in flight.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa

from sources.arrow_tables import (
    EXTRA_FIELD,
    EXTRA_FIELDS,
    TIMESTAMP,
    DataIssues,
    json_texts,
    plain_columns,
    table,
    unknown_fields_each,
)
from sources.errors import ConfigError, UpstreamError
from sources.http_client import parse_json_body
from sources.langsmith.client import SOURCE
from sources.langsmith.settings import SELECT_TOKENS

# Selected whatever the configuration says: the merge key, the window order and the pending check.
REQUIRED_SELECTS = ("ID", "START_TIME", "END_TIME", "STATUS")
_JSON = pa.string()  # nested values travel as JSON text; the resource hints these columns as json
# One column per select token, named as the API names the field, typed deterministically.
COLUMN_TYPES: dict[str, pa.DataType] = {
    "ID": pa.string(),
    "NAME": pa.string(),
    "RUN_TYPE": pa.string(),
    "STATUS": pa.string(),
    "START_TIME": TIMESTAMP,
    "END_TIME": TIMESTAMP,
    "LATENCY_SECONDS": pa.float64(),
    "FIRST_TOKEN_TIME": TIMESTAMP,
    "ERROR": pa.string(),
    "ERROR_PREVIEW": pa.string(),
    "EXTRA": _JSON,
    "METADATA": _JSON,
    "EVENTS": _JSON,
    "INPUTS": _JSON,
    "INPUTS_PREVIEW": pa.string(),
    "OUTPUTS": _JSON,
    "OUTPUTS_PREVIEW": pa.string(),
    "MANIFEST": _JSON,
    "PARENT_RUN_IDS": _JSON,
    "PROJECT_ID": pa.string(),
    "TRACE_ID": pa.string(),
    "THREAD_ID": pa.string(),
    "DOTTED_ORDER": pa.string(),
    "IS_ROOT": pa.bool_(),
    "REFERENCE_EXAMPLE_ID": pa.string(),
    "REFERENCE_DATASET_ID": pa.string(),
    "TOTAL_TOKENS": pa.int64(),
    "PROMPT_TOKENS": pa.int64(),
    "COMPLETION_TOKENS": pa.int64(),
    "TOTAL_COST": pa.float64(),
    "PROMPT_COST": pa.float64(),
    "COMPLETION_COST": pa.float64(),
    "PROMPT_TOKEN_DETAILS": _JSON,
    "COMPLETION_TOKEN_DETAILS": _JSON,
    "PROMPT_COST_DETAILS": _JSON,
    "COMPLETION_COST_DETAILS": _JSON,
    "PRICE_MODEL_ID": pa.string(),
    "TAGS": _JSON,
    "APP_PATH": pa.string(),
    "ATTACHMENTS": _JSON,
    "THREAD_EVALUATION_TIME": TIMESTAMP,
    "IS_IN_DATASET": pa.bool_(),
    "LAST_QUEUED_AT": TIMESTAMP,
    "SHARE_URL": pa.string(),
    "FEEDBACK_STATS": _JSON,
    "LS_USER_ID": pa.string(),
}
JSON_TOKENS = frozenset(
    {
        "EXTRA", "METADATA", "EVENTS", "INPUTS", "OUTPUTS", "MANIFEST", "PARENT_RUN_IDS", "PROMPT_TOKEN_DETAILS",
        "COMPLETION_TOKEN_DETAILS", "PROMPT_COST_DETAILS", "COMPLETION_COST_DETAILS", "TAGS", "ATTACHMENTS",
        "FEEDBACK_STATS",
    }
)  # fmt: skip
# Fields with a select token go to their column when selected and are dropped when not (some are
# opt-in on purpose), as is query_metadata (about the query's match, not the run); any other
# non-null field of a run goes to extra_fields.
_KNOWN_FIELDS = frozenset(token.lower() for token in COLUMN_TYPES) | {"query_metadata"}
_REQUIRED = ("name", "run_type", "status", "start_time", "trace_id", "project_id")  # when selected
TABLE = "runs"  # the resource's name, for warnings


def normalize_selects(selects: Iterable[str]) -> tuple[str, ...]:
    """The select tokens to send: the required ones added, duplicates dropped, in the API's order.

    The order is fixed so that the table's columns do not depend on how the list was written.
    """
    wanted = {s.strip().upper() for s in selects} | set(REQUIRED_SELECTS)
    unknown = sorted(wanted - set(SELECT_TOKENS))
    if unknown:
        raise ConfigError(
            SOURCE,
            f"SOURCES__LANGSMITH__SELECTS holds unknown value {', '.join(map(repr, unknown))}",
            f"Use any of: {', '.join(SELECT_TOKENS)}.",
        )
    return tuple(token for token in SELECT_TOKENS if token in wanted)


def run_schema(selects: Sequence[str]) -> pa.Schema:
    """The Arrow schema of the runs table for these (normalized) selects: one column per token, then extra_fields."""
    return pa.schema(
        [*(pa.field(token.lower(), COLUMN_TYPES[token], nullable=token != "ID") for token in selects), EXTRA_FIELD],
    )


def json_columns(selects: Sequence[str]) -> list[str]:
    """Columns that hold JSON text (to be hinted ``data_type: json``)."""
    return [*(token.lower() for token in selects if token in JSON_TOKENS), EXTRA_FIELDS]


def runs_table(
    items: Sequence[Any],
    schema: pa.Schema,
    json_names: frozenset[str],
    issues: DataIssues,
    required: Sequence[str] | None = None,
) -> pa.Table:
    """Shape run objects into ``schema``: absent and ``null`` both load as NULL.

    Runs without an id are left out, and values that do not fit are kept in extra_fields;
    both are reported through ``issues``, as are ``required`` fields (default: those of the
    schema that must be set) left without a value.
    """
    if not set(map(type, items)) <= {dict}:
        items = [item if isinstance(item, dict) else {} for item in items]  # not an object: a run without an id
    # String, bool and timestamp columns in one pass ({} when one does not fit), the rest per column.
    columns: dict[str, Any] = plain_columns(items, _without(schema, json_names))
    for f in schema:
        if f.name == EXTRA_FIELDS:
            columns[f.name] = unknown_fields_each(items, _KNOWN_FIELDS)
        elif f.name not in columns:
            values = [item.get(f.name) for item in items]
            columns[f.name] = json_texts(values) if f.name in json_names else values
    return table(
        schema, columns, name=TABLE, issues=issues, required=_required(schema) if required is None else required
    )


@functools.cache
def _without(schema: pa.Schema, names: frozenset[str]) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in names])


@functools.cache
def _required(schema: pa.Schema) -> tuple[str, ...]:
    return tuple(name for name in _REQUIRED if name in schema.names)


@dataclass(frozen=True, slots=True)
class TypedPage:
    """A runs page read by the direct path: typed columns (timestamps still text) and the next cursor."""

    columns: dict[str, pa.Array]
    next_cursor: str | None


# Python types msgspec checks a value against, per column type (strictly: 3.0 is no integer,
# "true" no boolean); timestamps are read as text and parsed by table().
_DIRECT_TYPES: dict[pa.DataType, Any] = {
    pa.string(): str | None,
    TIMESTAMP: str | None,
    pa.int64(): int | None,
    pa.float64(): float | None,
    pa.bool_(): bool | None,
}
_RAW_NULL = msgspec.Raw(b"null")
# What msgspec and Arrow raise for a page the direct path does not take: msgspec's DecodeError and
# ValidationError and Arrow's ArrowInvalid are ValueErrors; an integer beyond 64 bits overflows;
# nesting deeper than msgspec recurses is a RecursionError.
_NOT_DIRECT = (ValueError, OverflowError, UnicodeError, RecursionError, pa.ArrowException)


class RunTables:
    """Typed tables of runs for one sync's selects; data issues go to ``issues`` (thread-safe).

    ``sent``: the tokens the queries actually send, when the server refused some of the selects
    (their columns stay, NULL); a field that must be set is only checked when it was asked for.
    """

    def __init__(self, selects: Sequence[str], issues: DataIssues, sent: Sequence[str] | None = None) -> None:
        self.schema = run_schema(selects)
        self.json_names = frozenset(json_columns(selects))
        self.issues = issues
        asked = {token.lower() for token in (selects if sent is None else sent)}
        self.required = tuple(name for name in _required(self.schema) if name in asked)
        # Every field the table knows, so that any other makes the page take the general path
        # (where it goes to extra_fields). Fields not selected and JSON columns are kept raw.
        fields = [
            (name, _DIRECT_TYPES[self.schema.field(name).type], None)
            if name in self.schema.names and name not in self.json_names
            else (name, msgspec.Raw, _RAW_NULL)
            for name in sorted(_KNOWN_FIELDS)
        ]
        run: Any = msgspec.defstruct("Run", fields, forbid_unknown_fields=True, gc=False)  # made at run time
        page: Any = msgspec.defstruct("Page", [("items", list[run]), ("next_cursor", str | None, None)])
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(page)
        self._field_names = [name for name, _, _ in fields]

    def decode(self, content: bytes) -> TypedPage | Any:
        """The body as a TypedPage when the direct path takes it, else parsed (``parse_json_body``)."""
        if b"\\u0000" not in content:  # a NUL is stripped from strings on the general path
            try:
                page = self._decoder.decode(content)
                return TypedPage(self._columns(page.items), page.next_cursor)
            except _NOT_DIRECT:
                pass
        return parse_json_body(content)

    def read(self, decoded: TypedPage | Any) -> tuple[pa.Table, str | None]:
        """A decoded page's typed table and next cursor; the general path checks the page's shape first."""
        if isinstance(decoded, TypedPage):
            runs = table(self.schema, decoded.columns, name=TABLE, issues=self.issues, required=self.required)
            return runs, decoded.next_cursor
        items, cursor = _parse_page(decoded)
        return runs_table(items, self.schema, self.json_names, self.issues, self.required), cursor

    def _columns(self, runs: list[Any]) -> dict[str, pa.Array]:
        rows = [msgspec.structs.astuple(run) for run in runs]
        by_field = zip(*rows, strict=True) if rows else [()] * len(self._field_names)  # an empty page: empty columns
        values = dict(zip(self._field_names, by_field, strict=True))
        columns: dict[str, pa.Array] = {}
        for f in self.schema:
            if f.name == EXTRA_FIELDS:  # none: a field without a column sends the page down the general path
                continue
            if f.name in self.json_names:
                texts = [None if raw == _RAW_NULL else bytes(raw) for raw in values[f.name]]
                columns[f.name] = pa.array(texts, type=pa.binary()).cast(pa.string())  # the cast checks UTF-8
            else:
                columns[f.name] = pa.array(values[f.name], type=pa.string() if f.type == TIMESTAMP else f.type)
        return columns


def _parse_page(page: Any) -> tuple[list[dict[str, Any]], str | None]:
    items = page.get("items") if isinstance(page, dict) else None
    cursor = page.get("next_cursor") if isinstance(page, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _malformed("no 'items' array of run objects")
    if cursor is not None and not isinstance(cursor, str):
        raise _malformed(f"next_cursor is a {type(cursor).__name__}, not a string")
    return items, cursor


def _malformed(why: str) -> UpstreamError:
    return UpstreamError(
        SOURCE,
        f"the runs query response is not shaped as documented ({why})",
        "The API may have changed; run with --debug and report the response.",
    )
