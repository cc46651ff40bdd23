"""What ``runyard status`` reports: per source table, the last successful sync, rows and cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines import warehouse
from pipelines.registry import SOURCES


@dataclass(frozen=True)
class ResourceStatus:
    source: str
    table: str
    last_sync: str | None
    rows: int
    cursor: str


def describe_file(db_path: Path) -> str:
    """The file, its size and its storage version (which DuckDB releases can open it)."""
    with warehouse.connect(db_path, read_only=True) as con:
        version = warehouse.storage_version(con)
    readers = f"readable by DuckDB {version.rstrip('+').lstrip('v')} and newer" if version != "unknown" else ""
    return f"{db_path}: {db_path.stat().st_size / 1e6:.1f} MB, storage version {version}" + (
        f" ({readers})" if readers else ""
    )


def resource_status(db_path: Path) -> list[ResourceStatus]:
    """One entry per table of every source that has synced into this file at least once."""
    with warehouse.connect(db_path, read_only=True) as con:
        counts = warehouse.table_counts(con)
        upstreams = {spec.upstream for spec in SOURCES.values()}
        states = {upstream: warehouse.pipeline_state(con, upstream) for upstream in upstreams}
    statuses: list[ResourceStatus] = []
    for spec in SOURCES.values():
        found = states[spec.upstream]
        if not found:
            continue
        state, loaded_at = found
        resources: dict[str, Any] = state.get("sources", {}).get(spec.upstream, {}).get("resources", {})
        cursors = spec.cursors(resources)
        for table in spec.tables:
            qualified = f"{spec.upstream}.{table}"
            if qualified not in counts:
                continue
            last = resources.get(table, {}).get("last_sync_at") or loaded_at
            cursor = "; ".join(_cursor(k, v) for k, v in cursors.get(table, {}).items() if v not in (None, ""))
            statuses.append(ResourceStatus(spec.name, qualified, _when(last), counts[qualified], cursor))
    return statuses


def _cursor(name: str, value: Any) -> str:
    """``updated_at >= 2026-11-23 06:46:50`` for timestamps, ``unfinished runs: 68`` otherwise."""
    if isinstance(value, str):
        try:
            return f"{name} >= {datetime.fromisoformat(value.replace('Z', '+00:00')).astimezone(UTC):%Y-%m-%d %H:%M:%S}"
        except ValueError:
            pass
    return f"{name}: {value}"


def _when(value: str | datetime | None) -> str | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
