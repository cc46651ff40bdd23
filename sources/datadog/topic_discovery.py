"""Topic-discovery ("patterns") runs: every completed run of each configured configuration.

The endpoint has no pagination and no time filter; one call per configuration id returns its
whole history, merged on run id. Each row carries the configuration snapshot the run used, one
column per field, so the history shows what changed between runs. Fields of the run or of its
snapshot without a column go to ``extra_fields`` (the snapshot's under ``config_snapshot``).
Every sync reads every run again, so only runs that are new or changed are loaded (digests in
the resource state, sources/rereads.py); a full refresh loads them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from sources.arrow_tables import EXTRA_FIELD, EXTRA_FIELDS, TIMESTAMP, DataIssues, table, unknown_fields
from sources.datadog.client import SOURCE, list_patterns_runs
from sources.errors import ConfigError, NotFoundError
from sources.http_client import ApiClient
from sources.rereads import Rereads

TABLE = "topic_discovery_runs"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("config_id", pa.string(), nullable=False),
        pa.field("status", pa.string()),
        pa.field("created_at", TIMESTAMP),
        pa.field("completed_at", TIMESTAMP),
        pa.field("evp_query", pa.string()),
        pa.field("hierarchy_depth", pa.int64()),
        pa.field("num_records", pa.int64()),
        pa.field("sampling_ratio", pa.float64()),
        pa.field("model_name", pa.string()),
        pa.field("integration_provider", pa.string()),
        pa.field("account_id", pa.string()),
        EXTRA_FIELD,
    ]
)
SNAPSHOT_FIELDS = SCHEMA.names[5:-1]
_RUN_FIELDS = frozenset(("id", "status", "created_at", "completed_at", "config_snapshot"))
_SNAPSHOT_FIELDS = frozenset(SNAPSHOT_FIELDS)


def read_runs(
    client: ApiClient,
    config_ids: Sequence[str],
    on_page: Callable[[str, int, int | None], None],
    issues: DataIssues,
    state: dict[str, Any],
    *,
    full: bool,
) -> Iterator[pa.Table]:
    """One table per configuration, of its runs new or changed since the last sync (all of them
    when ``full``). An unknown configuration id is a configuration error."""
    rereads = Rereads(None if full else state.get("digests"))
    for done, config_id in enumerate(config_ids, 1):
        try:
            data = list_patterns_runs(client, config_id)
        except NotFoundError:
            raise ConfigError(
                SOURCE,
                f"topic-discovery configuration {config_id!r} does not exist (404)",
                "Check SOURCES__DATADOG__TOPIC_DISCOVERY_CONFIG_IDS; the ids are on the configuration's page "
                "in LLM Observability.",
            ) from None
        on_page("topic-discovery configurations", done, len(config_ids))
        runs: list[Any] = (data.get("attributes") or {}).get("runs") or []
        changed = [
            run
            for run in runs
            if not (isinstance(run, dict) and isinstance(key := run.get("id"), str))
            or not rereads.unchanged(f"{config_id}/{key}", run, keep=True)
        ]
        if changed:
            yield _table(config_id, changed, issues)
    state["digests"] = rereads.current


def _table(config_id: str, runs: list[Any], issues: DataIssues) -> pa.Table:
    runs = [run if isinstance(run, dict) else {"id": None} for run in runs]  # not an object: reported as keyless
    snapshots = [run.get("config_snapshot") for run in runs]
    columns: dict[str, Any] = {
        "id": [run.get("id") for run in runs],
        "config_id": [config_id] * len(runs),
        **{name: [run.get(name) for run in runs] for name in ("status", "created_at", "completed_at")},
        **{name: [s.get(name) if isinstance(s, dict) else None for s in snapshots] for name in SNAPSHOT_FIELDS},
        EXTRA_FIELDS: [_extra(run, snapshot) for run, snapshot in zip(runs, snapshots, strict=True)],
    }
    return table(SCHEMA, columns, name=TABLE, issues=issues, required=("status", "created_at"))


def _extra(run: dict[str, Any], snapshot: Any) -> dict[str, Any] | None:
    """Fields of the run without a column; the snapshot's own under ``config_snapshot`` (whole if not an object)."""
    extra = unknown_fields(run, _RUN_FIELDS) or {}
    inner = unknown_fields(snapshot, _SNAPSHOT_FIELDS) if isinstance(snapshot, dict) else snapshot
    if inner is not None:
        extra["config_snapshot"] = inner
    return extra or None
