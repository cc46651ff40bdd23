"""Turning parsed JSON pages into typed Arrow tables.

Every table is built against an explicit schema: inferring one per page gives a different
type whenever a page happens to hold only nulls or only integers (PITFALLS.md §c).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from sources.errors import UpstreamError

TIMESTAMP = pa.timestamp("us", tz="UTC")

# RFC 3339 with more than microsecond precision (Go's RFC3339Nano): keep 6 digits.
_EXCESS_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: str) -> datetime:
    """One RFC 3339 string (any number of fractional digits, Z or offset) to an aware datetime."""
    return datetime.fromisoformat(_EXCESS_FRACTION.sub(r"\1", value))


def timestamps(values: Sequence[str | None], *, source: str, field: str) -> pa.Array:
    """RFC 3339 strings to a UTC microsecond timestamp array; None stays null."""
    try:
        return pa.array(values, type=pa.string()).cast(TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    parsed: list[datetime | None] = []
    for value in values:
        try:
            parsed.append(parse_timestamp(value) if value is not None else None)
        except (TypeError, ValueError):
            raise UpstreamError(
                source,
                f"field {field!r} holds {value!r}, which is not an RFC 3339 timestamp",
                "The API may have changed; run with --debug and report the response.",
            ) from None
    return pa.array(parsed, type=TIMESTAMP)


def table(schema: pa.Schema, columns: Mapping[str, Sequence[Any] | pa.Array], *, source: str) -> pa.Table:
    """Build a table column by column against ``schema``; a value of the wrong type is an error."""
    arrays = []
    for f in schema:
        values = columns[f.name]
        if isinstance(values, pa.Array):
            arrays.append(values)
            continue
        try:
            arrays.append(pa.array(values, type=f.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise UpstreamError(
                source,
                f"field {f.name!r} holds a value that is not {f.type} ({exc})",
                "The API may have changed; run with --debug and report the response.",
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema)
