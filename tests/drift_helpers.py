"""Upstream drift for the tests: record edits applied to sandbox answers, edge values, DuckDB reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.conftest import rows

Edit = Callable[[dict[str, Any]], None]

# Edge values. LONG is a megabyte of text; TEXT mixes scripts, emoji, invisible and control
# characters (kept verbatim) with NUL (stripped: PostgreSQL cannot store it).
LONG = "ab✓" * 350_000
TEXT = "Überprüfung ✓ 中文 😀 \u200b\u202e ctl\x01\x1f\x7f tab\t nl\n NUL\x00end"
TEXT_STORED = TEXT.replace("\x00", "")
INT64_PAST = 2**63  # one past int64: still an exact integer for orjson
HUGE = 10**30  # beyond 64 bits: exact only on the standard-library path (bodies with NaN tokens)
NAN, INF = float("nan"), float("inf")


def deep(levels: int) -> Any:
    """A value nested ``levels`` deep, alternating objects and arrays."""
    value: Any = "bottom"
    for level in range(levels - 1):
        value = {"level": value} if level % 2 else [value]
    return value


DEEP = deep(300)  # beyond orjson's 254-level limit for writing


def records(body: Any) -> list[dict[str, Any]]:
    """The records of any sandbox answer: Model Lab runs (list or one), search results, topic runs, LangSmith runs."""
    if "items" in body:
        return body["items"]
    data = body["data"]
    if isinstance(data, list):
        return data
    if data.get("type") == "runs":
        return [data]
    attributes = data["attributes"]
    return attributes["runs"] if "runs" in attributes else [r for scope in attributes.values() for r in scope]


def rewrite(edits: Mapping[str, Edit], *, strict: bool = True) -> Callable[[Any], Any]:
    """A sandbox transform applying ``edits`` to records by id (by name for records without one).

    ``strict=False`` sends the body as the standard library writes it, with ``NaN``/``Infinity``
    tokens and integers of any size: not valid strict JSON, as some services emit.
    """

    def transform(body: Any) -> Any:
        for record in records(body):
            edit = edits.get(str(record.get("id") or record.get("name")))
            if edit is not None:
                edit(record)
        return body if strict else json.dumps(body).encode()

    return transform


def setting(**changes: Any) -> Edit:
    """An edit setting fields by path, ``__`` between steps (``attributes__params__0__value``); DELETE removes one."""

    def edit(record: dict[str, Any]) -> None:
        for path, value in changes.items():
            *steps, name = path.split("__")
            target: Any = record
            for step in steps:
                target = target[int(step)] if isinstance(target, list) else target[step]
            if value is DELETE:
                target.pop(name, None)
            else:
                target[name] = value

    return edit


DELETE = object()


def rows_by_first_column(cursor: Any) -> dict[Any, dict[str, Any]]:
    """``{first column: {column: value}}`` of a DB-API cursor's result."""
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def by_id(db: Path, table: str, columns: str, key: str = "id") -> dict[Any, tuple]:
    """``{key: (columns...)}`` of a table, JSON columns parsed."""
    return {row[0]: tuple(_parsed(v) for v in row[1:]) for row in rows(db, f"select {key}, {columns} from {table}")}


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        return json.loads(value)
    return value


def extras(db: Path, table: str, key: str = "id") -> dict[Any, Any]:
    """``{key: parsed extra_fields}`` of the rows that have any."""
    got = rows(db, f"select {key}, extra_fields from {table} where extra_fields is not null")
    return {k: json.loads(v) for k, v in got}


def column_types(db: Path, schema: str) -> dict[tuple[str, str], str]:
    return {
        (table, column): kind
        for table, column, kind in rows(
            db,
            "select table_name, column_name, data_type from information_schema.columns "
            f"where table_schema = '{schema}' and table_name not like '_dlt%'",
        )
    }
