"""Turning parsed JSON pages into typed Arrow tables that survive upstream drift.

Every table is built against an explicit schema: inferring one per page gives a different
type whenever a page happens to hold only nulls or only integers (docs/decisions.md#arrow-schemas). Because the
schema is fixed, drift never changes a column's type; instead:

- Fields a table has no column for go, as JSON, into its ``extra_fields`` column.
- A value of the wrong type is converted when that loses nothing ("12.5" for a double, 3.0 for
  an integer, "true" for a boolean, a number for a string); otherwise the column gets NULL
  and the original value goes into ``extra_fields`` under the field's name.
- A required field that is missing leaves NULL; a record without its key is left out.

Each of these is counted in a ``DataIssues`` and reported once per sync as a warning. The fast
path stays ``pa.array(values, type=...)``; values are looked at one by one only when it fails.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources.errors import UpstreamError

if TYPE_CHECKING:
    from dlt.common.schema.typing import TTableSchemaColumns

TIMESTAMP = pa.timestamp("us", tz="UTC")
EXTRA_FIELDS = "extra_fields"  # JSON text; the resources hint it data_type json
EXTRA_FIELD = pa.field(EXTRA_FIELDS, pa.string())

# RFC 3339 with more than microsecond precision (Go's RFC3339Nano): keep 6 digits.
_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_INT64 = (-(2**63), 2**63 - 1)
_NONE = type(None)
# Python types each column type takes as they are. pa.array refuses the others, except in number
# columns, where it would silently truncate 3.5 to 3 and read True as 1.0: those are checked first.
_PLAIN: dict[pa.DataType, frozenset[type]] = {
    pa.int64(): frozenset({int, _NONE}),
    pa.float64(): frozenset({float, int, _NONE}),
    pa.string(): frozenset({str, _NONE}),
    pa.bool_(): frozenset({bool, _NONE}),
}
_CHECKED_FIRST = frozenset({pa.int64(), pa.float64()})
_REJECT = object()  # a value that cannot be stored in its column


def parse_timestamp(value: str) -> datetime:
    """One RFC 3339 string (any number of fractional digits, Z or offset) to a datetime."""
    return datetime.fromisoformat(_EXCESS_FRACTION.sub(r"\1", value))


def cursor_time(value: Any) -> datetime | None:
    """A record's cursor field as a datetime; None when it is missing, not a timestamp or without
    an offset (ambiguous). Such a record is kept, but takes no part in order checks and cursors.
    """
    if not isinstance(value, str):
        return None
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _json_text(value: Any) -> str:
    """``value`` as JSON text for a JSON column; NaN and Infinity become null (JSON has neither).

    orjson refuses values nested deeper than 254 levels and integers beyond 64 bits; those
    (rare) values go through ``_json_any_depth`` instead.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _json_any_depth(value)


def json_texts(values: Sequence[Any]) -> list[str | None]:
    """``_json_text`` of every value but None, at orjson's speed when it takes them all."""
    try:
        return [None if v is None else orjson.dumps(v).decode() for v in values]
    except orjson.JSONEncodeError:
        return [None if v is None else _json_text(v) for v in values]


class _Raw(str):
    """Text already encoded, queued between the members of a container."""


def _json_any_depth(value: Any) -> str:
    """JSON text without a nesting limit: an explicit stack instead of recursion."""
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if type(item) is _Raw:
            out.append(item)
        elif isinstance(item, dict):
            out.append("{")
            stack.append(_Raw("}"))
            pairs = list(item.items())
            for i in range(len(pairs) - 1, -1, -1):
                stack.append(pairs[i][1])
                stack.append(_Raw(("," if i else "") + json.dumps(str(pairs[i][0]), ensure_ascii=False) + ":"))
        elif isinstance(item, list | tuple):
            out.append("[")
            stack.append(_Raw("]"))
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_Raw(","))
        elif isinstance(item, float) and not math.isfinite(item):
            out.append("null")
        else:
            out.append(json.dumps(item, ensure_ascii=False))
    return "".join(out)


def unknown_fields(record: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    """The non-null members of ``record`` that have no column, sorted by name; None when there are none."""
    if record.keys() <= known:
        return None
    found = {name: record[name] for name in sorted(record.keys() - known) if record[name] is not None}
    return found or None


def json_hints(names: Iterable[str]) -> TTableSchemaColumns:
    """dlt column hints that make these columns JSON (the tables carry them as JSON text)."""
    return {name: {"data_type": "json"} for name in names}


def unknown_fields_each(records: Sequence[Mapping[str, Any]], known: frozenset[str]) -> list[dict[str, Any] | None]:
    """``unknown_fields`` of every record, checked in one pass without Python code per record
    when (as usual) none has any."""
    if all(map(known.issuperset, records)):
        return [None] * len(records)
    return [unknown_fields(record, known) for record in records]


@dataclass
class DataIssues:
    """Upstream records that did not fit their tables during one sync, reported once at its end.

    Counted per (table, field, kind) so a drifted field gives one warning, not one per record.
    Thread-safe: LangSmith windows shape their pages on pool threads.
    """

    source: str
    _counts: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, table: str, name: str, kind: str, count: int = 1, example: Any = None) -> None:
        """``kind``: coerced, nulled (type); missing (required field); unkeyed (left out); shape (children)."""
        with self._lock:
            entry = self._counts.setdefault((table, name, kind), [0, example])
            entry[0] += count

    def warnings(self) -> list[str]:
        """One sentence per (table, field) and kind of problem, in the order they were first met."""
        grouped: dict[tuple[str, str], dict[str, tuple[int, Any]]] = {}
        with self._lock:
            for (table, name, kind), (count, example) in self._counts.items():
                grouped.setdefault((table, name), {})[kind] = (count, example)
        messages = []
        for (table, name), kinds in grouped.items():
            where = f"{table}.{name}"
            (coerced, coerced_example), (nulled, nulled_example) = (
                kinds.get("coerced", (0, None)),
                kinds.get("nulled", (0, None)),
            )
            if coerced or nulled:
                done = [f"{coerced} converted without loss"] if coerced else []
                if nulled:
                    done.append(f"{nulled} stored as NULL with the original value in {EXTRA_FIELDS}")
                messages.append(
                    f"{where}: {coerced + nulled} record(s) held a value of another type than the column's"
                    f"{_eg(nulled_example if nulled else coerced_example)}; {' and '.join(done)}"
                )
            if "missing" in kinds:
                messages.append(
                    f"{where}: {kinds['missing'][0]} record(s) came without this required field; they were kept "
                    "with NULL in this column"
                )
            if "shape" in kinds:
                count, example = kinds["shape"]
                messages.append(
                    f"{where}: {count} record(s) held something other than a list of objects{_eg(example)}; the "
                    f"value is kept in {EXTRA_FIELDS}, and the rows built from it keep their previous state"
                )
            if "unkeyed" in kinds:
                count, example = kinds["unkeyed"]
                messages.append(
                    f"{where}: {count} record(s) came without a usable {name}{_eg(example)}; they cannot be merged "
                    "and were left out"
                )
        return messages


# Column types pa.array converts exactly as the per-column path does (it refuses, never bends, a
# value of another type); timestamps are read as their text and parsed by table().
_STRUCT_READABLE = frozenset({pa.string(), pa.bool_(), TIMESTAMP})


def plain_columns(records: Sequence[Mapping[str, Any]], schema: pa.Schema) -> dict[str, pa.Array]:
    """The string, bool and timestamp columns of ``schema`` read from ``records`` in one pass in C++.

    One ``pa.array`` over the records as structs looks each field up in Arrow, where a list per
    column costs a Python ``dict.get`` per value; it is most of what building a page costs. Returns
    {} when a value does not fit its column, and ``table`` then reads every column the slow way,
    where coercions and rejects are sorted out.
    """
    fields = [f for f in schema if f.type in _STRUCT_READABLE and f.name != EXTRA_FIELDS]
    as_text = pa.struct([pa.field(f.name, pa.string() if f.type == TIMESTAMP else f.type) for f in fields])
    try:
        read = pa.array(records, type=as_text)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return {}
    return dict(zip(as_text.names, read.flatten(), strict=True))


def _eg(value: Any) -> str:
    """`` (e.g. <type> <short repr>)`` for an offending value, or nothing for a missing one."""
    if value is None:
        return ""
    text = repr(value)
    return f" (e.g. {type(value).__name__} {text[:40] + '…' if len(text) > 40 else text})"


def table(
    schema: pa.Schema,
    columns: Mapping[str, Sequence[Any] | pa.Array],
    *,
    name: str,
    issues: DataIssues,
    required: Collection[str] = (),
    marker: str | None = None,
) -> pa.Table:
    """Build table ``name`` column by column against ``schema`` from raw values (timestamps as text).

    A column may also come as an Arrow array from ``plain_columns`` (timestamps still as text).
    ``columns[EXTRA_FIELDS]`` holds each record's fields without a column (``unknown_fields``);
    the values the columns reject are added to it. Rows with a null in a non-nullable (key)
    column are left out, and nulls in ``required`` columns are counted (rows flagged true in
    ``marker`` only delete and hold nothing but the key); both go to ``issues``.
    """
    arrays: list[pa.Array | None] = []
    rejected: dict[str, dict[int, Any]] = {}
    rows = len(columns[schema.names[0]])
    for f in schema:
        if f.name == EXTRA_FIELDS:
            arrays.append(None)  # filled in once every column's rejects are known
            continue
        array, coerced, rejects = _convert(columns[f.name], f.type)
        arrays.append(array)
        if coerced:
            issues.add(name, f.name, "coerced", len(coerced), coerced[0])
        if rejects and f.nullable:  # a rejected key is reported below with its left-out row
            issues.add(name, f.name, "nulled", len(rejects), next(iter(rejects.values())))
            rejected[f.name] = rejects
    if EXTRA_FIELDS in schema.names:
        arrays[schema.get_field_index(EXTRA_FIELDS)] = _extras_array(columns.get(EXTRA_FIELDS), rejected, rows)
    elif rejected:
        column, values = next(iter(rejected.items()))
        raise UpstreamError(
            issues.source,
            f"{name}.{column} holds a value that is not {schema.field(column).type}{_eg(next(iter(values.values())))}",
            "The API may have changed; run with --debug and report the response.",
        )
    result = pa.Table.from_arrays(arrays, schema=schema)
    markers = (pc.sum(result[marker]).as_py() or 0) if marker and required else 0
    for column in required:
        missing = result[column].null_count - markers - len(rejected.get(column, ()))
        if missing:
            issues.add(name, column, "missing", missing)
    keep: pa.Array | None = None
    for f in schema:
        if not f.nullable and result[f.name].null_count:
            valid = pc.is_valid(result[f.name])
            example = columns[f.name][pc.index(valid, False).as_py()]
            example = example.as_py() if isinstance(example, pa.Scalar) else example
            issues.add(name, f.name, "unkeyed", result[f.name].null_count, example)
            keep = valid if keep is None else pc.and_(keep, valid)
    return result if keep is None else result.filter(keep)


def _extras_array(
    extras: Sequence[dict[str, Any] | None] | None, rejected: dict[str, dict[int, Any]], rows: int
) -> pa.Array:
    if not rejected and (extras is None or not any(extras)):
        return pa.nulls(rows, pa.string())
    merged: list[dict[str, Any] | None] = list(extras) if extras is not None else [None] * rows
    for column, values in rejected.items():
        for row, value in values.items():
            merged[row] = {**(merged[row] or {}), column: value}
    return pa.array(json_texts(merged), type=pa.string())


def _convert(values: Sequence[Any] | pa.Array, kind: pa.DataType) -> tuple[pa.Array, list[Any], dict[int, Any]]:
    """(array, values converted without loss, {row: value rejected}) for one column."""
    if kind == TIMESTAMP:
        return _timestamps(values)
    if isinstance(values, pa.Array):  # read by plain_columns: typed already
        return values, [], {}
    if kind not in _CHECKED_FIRST or set(map(type, values)) <= _PLAIN[kind]:
        try:
            return pa.array(values, type=kind), [], {}
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # a value of another type, or an integer beyond 64 bits
    convert, plain = _CONVERTERS[kind], _PLAIN[kind]
    out: list[Any] = []
    coerced: list[Any] = []
    rejects: dict[int, Any] = {}
    for row, value in enumerate(values):
        result = None if value is None else convert(value)
        if result is _REJECT:
            rejects[row] = value
            result = None
        elif value is not None and type(value) not in plain:
            coerced.append(value)
        out.append(result)
    return pa.array(out, type=kind), coerced, rejects


def _timestamps(values: Sequence[Any] | pa.Array) -> tuple[pa.Array, list[Any], dict[int, Any]]:
    """RFC 3339 text to UTC microseconds. Text Arrow cannot cast (nanoseconds, no offset) is parsed here."""
    try:
        text = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
        return text.cast(TIMESTAMP), [], {}
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    parsed: list[datetime | None] = []
    rejects: dict[int, Any] = {}
    for row, value in enumerate(values):
        try:
            parsed.append(None if value is None else parse_timestamp(value))  # no offset: UTC, as Arrow reads it
        except (TypeError, ValueError):
            rejects[row] = value
            parsed.append(None)
    return pa.array(parsed, type=TIMESTAMP), [], rejects


def _to_int(value: Any) -> Any:
    if type(value) is str and _INTEGER.fullmatch(value):
        value = int(value)
    if type(value) is float and value.is_integer():
        value = int(value)
    return value if type(value) is int and _INT64[0] <= value <= _INT64[1] else _REJECT


def _to_float(value: Any) -> Any:
    if type(value) is str and _NUMBER.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else _REJECT  # "1e999" is not Infinity
    if type(value) is float or type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return _REJECT
    return _REJECT


def _to_str(value: Any) -> Any:
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return str(value)
    return _REJECT


def _to_bool(value: Any) -> Any:
    if type(value) is bool:
        return value
    if type(value) is str and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return _REJECT


_CONVERTERS = {pa.int64(): _to_int, pa.float64(): _to_float, pa.string(): _to_str, pa.bool_(): _to_bool}
