"""What the four Model Lab tables must hold for a given set of API run objects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import rows

RUN_COLUMNS = (
    "id, name, description, status, project_id, owner_id, created_at, updated_at, started_at, completed_at, "
    "duration, deleted_at, has_children, is_pinned, external_url, mlflow_artifact_location"
)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def expected(api_runs: list[dict[str, Any]]) -> dict[str, set[tuple]]:
    runs, metrics, params, tags = set(), set(), set(), set()
    for run in api_runs:
        a, run_id = run["attributes"], int(run["id"])
        runs.add(
            (
                run_id,
                a["name"],
                a["description"],
                a["status"],
                a["project_id"],
                a.get("owner_id"),
                _ts(a["created_at"]),
                _ts(a["updated_at"]),
                _ts(a["started_at"]),
                _ts(a.get("completed_at")),
                _num(a.get("duration")),
                _ts(a.get("deleted_at")),
                a["has_children"],
                a["is_pinned"],
                a.get("external_url"),
                a["mlflow_artifact_location"],
            )
        )
        for m in a["metric_summaries"]:
            metrics.add(
                (
                    run_id,
                    m["key"],
                    m["count"],
                    _num(m.get("min")),
                    _num(m.get("max")),
                    _num(m.get("mean")),
                    _num(m.get("latest")),
                    _num(m.get("stddev")),
                    m.get("first_step"),
                    m.get("last_step"),
                )
            )
        params.update((run_id, p["key"], p["value"]) for p in a["params"] or [])
        tags.update((run_id, t["key"], t["value"]) for t in a["tags"])
    return {"runs": runs, "metrics": metrics, "params": params, "tags": tags}


def actual(db: Path) -> dict[str, set[tuple]]:
    def norm(row: tuple) -> tuple:
        return tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)

    return {
        "runs": {norm(r) for r in rows(db, f"select {RUN_COLUMNS} from datadog.model_lab_runs")},
        "metrics": set(
            rows(
                db,
                "select run_id, key, count, min, max, mean, latest, stddev, first_step, last_step "
                "from datadog.model_lab_run_metrics",
            )
        ),
        "params": set(rows(db, "select run_id, key, value from datadog.model_lab_run_params")),
        "tags": set(rows(db, "select run_id, key, value from datadog.model_lab_run_tags")),
    }


def assert_matches(db: Path, api_runs: list[dict[str, Any]]) -> None:
    """The tables hold exactly these runs and their children, with no duplicates."""
    want, got = expected(api_runs), actual(db)
    for table in want:
        missing, extra = want[table] - got[table], got[table] - want[table]
        assert not missing and not extra, (
            f"{table}: {len(missing)} missing {sorted(missing)[:3]}, {len(extra)} unexpected {sorted(extra)[:3]}"
        )
    for table, key in (
        ("model_lab_runs", "id"),
        ("model_lab_run_metrics", "run_id, key"),
        ("model_lab_run_params", "run_id, key"),
        ("model_lab_run_tags", "run_id, key"),
    ):
        dupes = rows(db, f"select {key}, count(*) from datadog.{table} group by all having count(*) > 1")
        assert not dupes, f"duplicate keys in {table}: {dupes[:3]}"
