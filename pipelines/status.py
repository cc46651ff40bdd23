"""What ``runyard status`` reports: per source table, the last successful sync, rows and cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines import warehouse
from pipelines.catalog import CATALOG
from pipelines.destinations import (
    DuckDBSession,
    DuckDBWarehouse,
    Session,
    Warehouse,
    meta_value,
    pipeline_state,
    table_counts,
)


@dataclass(frozen=True)
class ResourceStatus:
    source: str
    table: str
    last_sync: str | None
    rows: int
    cursor: str


def describe(target: Warehouse, session: Session) -> str:
    """Where the data lives; for a DuckDB file also its size and storage version (who can open it)."""
    if not isinstance(target, DuckDBWarehouse) or not isinstance(session, DuckDBSession):
        return target.describe()
    version = warehouse.storage_version(session.con)
    readers = f" (readable by DuckDB {version.rstrip('+').lstrip('v')} and newer)" if version != "unknown" else ""
    return f"{target.path}: {target.path.stat().st_size / 1e6:.1f} MB, storage version {version}{readers}"


def resource_status(session: Session) -> list[ResourceStatus]:
    """One entry per table of every source that has synced into this warehouse at least once."""
    counts = table_counts(session)
    states = {upstream: pipeline_state(session, upstream) for upstream in {s.upstream for s in CATALOG.values()}}
    statuses: list[ResourceStatus] = []
    for spec in CATALOG.values():
        found = states[spec.upstream]
        if not found:
            continue
        state, loaded_at = found
        resources: dict[str, Any] = state.get("sources", {}).get(spec.upstream, {}).get("resources", {})
        cursors = spec.cursors(resources)
        last = meta_value(session, f"synced:{spec.name}") or loaded_at  # runyard's record: loaded or not
        for table in spec.tables:
            qualified = f"{spec.upstream}.{table}"
            if qualified not in counts:
                continue
            cursor = "\n".join(_cursor(k, v) for k, v in cursors.get(table, {}).items() if v not in (None, ""))
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
