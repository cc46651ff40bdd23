"""The Superset dashboard pack's definitions: one file per chart and one per dashboard in
``pipelines/superset/`` (see pipelines/dashboards.py for what becomes of them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACK = Path(__file__).resolve().parent / "superset"
_NAMESPACE = uuid.UUID("6f1c4a52-6b1e-4c83-9f7e-72756e796172")
TEMPORAL = ("DATE", "TIMESTAMP")  # the DuckDB types Superset treats as times


def is_temporal(columns: dict[str, str], column: str | None) -> bool:
    return column is not None and columns[column].startswith(TEMPORAL)


def object_uuid(kind: str, name: str) -> str:
    """Stable ids (uuid5 of the names): importing a newer bundle replaces the same objects."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{name}"))


@dataclass(frozen=True)
class Chart:
    """One chart definition (``pipelines/superset/charts/<name>.yaml``)."""

    name: str
    title: str
    view: str
    viz: str
    description: str = ""
    x: str | None = None
    group_by: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)  # label -> SQL aggregate
    columns: list[str] = field(default_factory=list)  # a table's columns
    where: str | None = None
    order_by: list[list[str]] = field(default_factory=list)  # [column, "asc" | "desc"]
    limit: int = 10_000

    @property
    def uuid(self) -> str:
        return object_uuid("chart", self.name)

    def query_columns(self) -> list[str]:
        return [*([self.x] if self.x else []), *self.group_by, *self.columns]


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: str
    rows: list[list[str]]
    filters: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""


def charts() -> dict[str, Chart]:
    return {p.stem: Chart(name=p.stem, **yaml.safe_load(p.read_text())) for p in sorted(PACK.glob("charts/*.yaml"))}


def dashboards() -> dict[str, Dashboard]:
    return {
        p.stem: Dashboard(name=p.stem, **yaml.safe_load(p.read_text())) for p in sorted(PACK.glob("dashboards/*.yaml"))
    }
