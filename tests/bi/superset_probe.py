"""Open a runyard DuckDB file the way Superset does; print what it saw as JSON.

Runs in its own environment with the versions apache-superset pins for its duckdb extra
(duckdb 1.4.x, duckdb-engine 0.17.x, SQLAlchemy 1.4.x), never with runyard's own duckdb:
the point is to prove that the DuckDB inside a BI tool can read the file. Usage:
``superset_probe.py DB_PATH``.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

from sqlalchemy import create_engine, inspect, text

SCHEMA = "analytics"


def probe(db_path: str) -> dict[str, object]:
    """Schemas, analytics views, each view's reflected columns and a five-row sample."""
    engine = create_engine(f"duckdb:///{db_path}", connect_args={"read_only": True})
    try:
        inspector = inspect(engine)
        views: dict[str, object] = {}
        for view in inspector.get_view_names(schema=SCHEMA):
            columns = inspector.get_columns(view, schema=SCHEMA)
            # what Superset's get_table_metadata asks for besides the columns
            inspector.get_pk_constraint(view, schema=SCHEMA)
            inspector.get_foreign_keys(view, schema=SCHEMA)
            inspector.get_indexes(view, schema=SCHEMA)
            with engine.connect() as con:
                sample = con.execute(text(f'select * from {SCHEMA}."{view}" limit 5')).fetchall()
            views[view] = {
                "columns": {c["name"]: type(c["type"]).__name__ for c in columns},
                "sample_rows": len(sample),
            }
        return {
            "versions": {name: version(name) for name in ("duckdb", "duckdb-engine", "sqlalchemy")},
            "schemas": inspector.get_schema_names(),
            "views": views,
        }
    finally:
        engine.dispose()


if __name__ == "__main__":
    json.dump(probe(sys.argv[1]), sys.stdout)
