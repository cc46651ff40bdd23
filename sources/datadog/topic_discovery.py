"""Topic-discovery ("patterns") runs: every completed run of each configured configuration.

The endpoint has no pagination and no time filter; one call per configuration id returns its
whole history, merged on run id. Each row carries the configuration snapshot the run used, one
column per field, so the history shows what changed between runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from sources.arrow_tables import TIMESTAMP, table, timestamps
from sources.datadog.client import SOURCE, list_patterns_runs
from sources.errors import ConfigError, NotFoundError
from sources.http_client import ApiClient

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
    ]
)
SNAPSHOT_FIELDS = SCHEMA.names[5:]


def read_runs(
    client: ApiClient, config_ids: Sequence[str], on_page: Callable[[str, int, int | None], None]
) -> Iterator[pa.Table]:
    """One table per configuration. An unknown configuration id is a configuration error."""
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
        runs: list[dict[str, Any]] = (data.get("attributes") or {}).get("runs") or []
        if runs:
            yield _table(config_id, runs)


def _table(config_id: str, runs: list[dict[str, Any]]) -> pa.Table:
    snapshots = [run.get("config_snapshot") or {} for run in runs]
    columns: dict[str, Any] = {
        "id": [run.get("id") for run in runs],
        "config_id": [config_id] * len(runs),
        "status": [run.get("status") for run in runs],
        "created_at": timestamps([run.get("created_at") for run in runs], source=SOURCE, field="created_at"),
        "completed_at": timestamps([run.get("completed_at") for run in runs], source=SOURCE, field="completed_at"),
    }
    for name in SNAPSHOT_FIELDS:
        columns[name] = [snapshot.get(name) for snapshot in snapshots]
    return table(SCHEMA, columns, source=SOURCE)
