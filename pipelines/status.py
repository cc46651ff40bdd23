"""What ``runyard status`` reports: per resource, the last successful sync, rows and cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines import warehouse
from sources.datadog.model_lab import CHILD_SCHEMAS, RUNS_TABLE


@dataclass(frozen=True)
class ResourceStatus:
    resource: str
    last_sync: str | None
    rows: int
    cursor: str


def resource_status(db_path: Path) -> list[ResourceStatus]:
    with warehouse.connect(db_path, read_only=True) as con:
        counts = warehouse.table_counts(con)
        found = warehouse.pipeline_state(con, "datadog")
    statuses: list[ResourceStatus] = []
    if found:
        state, _loaded_at = found
        model_lab = state.get("sources", {}).get("datadog", {}).get("resources", {}).get(RUNS_TABLE)
        if model_lab:
            last = _when(model_lab.get("last_sync_at"))
            cursors = "; ".join(
                f"updated_at >= {part.get('cursor')}" + ("" if key == "all" else f" ({key})")
                for key, part in model_lab.get("partitions", {}).items()
            )
            unfinished = len(model_lab.get("unfinished", []))
            statuses.append(
                ResourceStatus(
                    f"datadog.{RUNS_TABLE}",
                    last,
                    counts.get(f"datadog.{RUNS_TABLE}", 0),
                    f"{cursors or 'none'}; {unfinished} unfinished runs followed",
                )
            )
            for child in CHILD_SCHEMAS:
                statuses.append(
                    ResourceStatus(f"datadog.{child}", last, counts.get(f"datadog.{child}", 0), f"follows {RUNS_TABLE}")
                )
    return statuses


def _when(iso: str | None) -> str | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
