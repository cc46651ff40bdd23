"""The analytics views: written once in DuckDB SQL (one file per view in sql/), transpiled with
sqlglot for other destinations, and (re)created after every sync."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipelines.destinations import Session, meta_value, set_meta

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
ANALYTICS_SCHEMA = "analytics"


def view_names() -> list[str]:
    return sorted(p.stem for p in SQL_DIR.glob("*.sql"))


def view_sql(name: str, dialect: str) -> str:
    """A view's SELECT in ``dialect``; the files are DuckDB SQL."""
    return transpile((SQL_DIR / f"{name}.sql").read_text(), dialect)


def transpile(sql: str, dialect: str) -> str:
    """DuckDB SQL in another destination's dialect (unchanged for DuckDB)."""
    if dialect == "duckdb":
        return sql
    import sqlglot  # only for other destinations: its import alone takes ~0.3 s

    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


def apply_views_if_changed(session: Session) -> bool:
    """``apply_views`` unless nothing the views are built from changed since they were last made:
    their SQL, and every column of every table and view (a missing view or column counts)."""
    if meta_value(session, "views") == _fingerprint(session):
        return False
    apply_views(session)
    set_meta(session, {"views": _fingerprint(session)})
    return True


def _fingerprint(session: Session) -> str:
    _, columns = session.query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema not like '%\\_staging' escape '\\' and table_schema not in "
        "('information_schema', 'pg_catalog', '_runyard') order by 1, 2, 3"
    )
    sqls = [(path.name, path.read_text()) for path in sorted(SQL_DIR.glob("*.sql"))]
    return hashlib.sha1(json.dumps([sqls, [list(map(str, c)) for c in columns]]).encode()).hexdigest()


def apply_views(session: Session) -> list[str]:
    """(Re)create every view whose tables and columns exist; returns the names created.

    Views may build on each other, so failures are retried until a round makes no progress.
    A view whose tables or columns are not there (a source never synced, narrower LangSmith
    selects) is dropped until they are.
    """
    session.execute(f"create schema if not exists {ANALYTICS_SCHEMA}")
    sqls = {name: view_sql(name, session.dialect) for name in view_names()}
    pending = dict(sqls)
    created: list[str] = []
    while pending:
        progress = False
        for name, sql in list(pending.items()):
            outcome = _create(session, name, sql)
            if outcome is None:
                continue
            if outcome == CASCADED:  # the drop took views built on this one with it: make them again
                pending.update({done: sqls[done] for done in created})
                created.clear()
            created.append(name)
            del pending[name]
            progress = True
        if not progress:
            break
    for name in pending:
        session.execute(f"drop view if exists {ANALYTICS_SCHEMA}.{name}")
    return created


CREATED, CASCADED = "created", "created after dropping it and the views built on it"


def _create(session: Session, name: str, sql: str) -> str | None:
    """CREATED, CASCADED, or None when its tables or columns are not there (yet)."""
    statement = f"create or replace view {ANALYTICS_SCHEMA}.{name} as\n{sql}"
    try:
        session.execute(statement)
        return CREATED
    except Exception as exc:
        if session.is_missing_object(exc):
            return None
        if "cannot" not in str(exc).lower():  # PostgreSQL refuses to replace a view whose columns changed
            raise
    session.execute(f"drop view if exists {ANALYTICS_SCHEMA}.{name} cascade")
    session.execute(statement)
    return CASCADED
