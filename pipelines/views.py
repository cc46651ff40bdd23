"""The analytics layer: SQL files in sql/, made views after every sync that changed what they read.

- ``sql/staging/<table>.sql`` becomes ``staging.<table>``: one view per raw table that does the
  shared cleaning once (UTC dates, lower-case enums, units in names, ``<entity>_id`` / ``is_`` /
  ``_at`` names).
- ``sql/marts/<name>.sql`` becomes ``analytics.<name>``: what dashboards read. Marts read staging
  views (and other marts), never a raw table; tests/test_views.py holds them to that.

Each file starts with ``-- Grain: one row per ...`` and ``-- Answers: ...``; the README's list of
views is generated from those lines (``python -m pipelines.views`` prints it). The files are DuckDB
SQL, transpiled with sqlglot for other destinations. The build order comes from the tables each
statement reads (sqlglot lists them), so a view is made after the views it reads.

A view that reads a table its source has not written yet (or a LangSmith column the configured
selects leave out) waits: it is dropped and ``runyard status`` lists it with the reason. Any other
error fails the sync (``ViewError``) after every other view is made; the failing view keeps its
previous definition, and the views built on it are left as they were.
"""

from __future__ import annotations

import functools
import graphlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.destinations import Session, meta_value, set_meta
from pipelines.warehouse import RUNYARD_SCHEMA
from sources.errors import SyncError

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = ROOT / "sql"
LAYERS = {"staging": "staging", "marts": "analytics"}  # folder of sql/ -> schema of its views
ANALYTICS_SCHEMA = LAYERS["marts"]
STATE_TABLE = f"{RUNYARD_SCHEMA}.view_state"  # each view's outcome at the last apply, for `runyard status`
WAITING, FAILED, CREATED = "waiting", "failed", "created"


@dataclass(frozen=True)
class ViewFile:
    schema: str
    name: str
    path: Path

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @functools.cached_property
    def sql(self) -> str:
        """The file's text, read once."""
        return self.path.read_text()

    @property
    def relative(self) -> str:
        return str(self.path.relative_to(ROOT)) if self.path.is_relative_to(ROOT) else str(self.path)

    def header(self, label: str) -> str:
        """The text of the ``-- Grain:`` or ``-- Answers:`` comment, continuation lines joined."""
        lines = self.sql.splitlines()
        found: list[str] = []
        for line in lines:
            if not line.startswith("--"):
                break
            text = line[2:].strip()
            if text.startswith(f"{label}:"):
                found.append(text.removeprefix(f"{label}:").strip())
            elif found and not re.match(r"^[A-Z][a-z]+:", text):
                found.append(text)
            elif found:
                break
        return " ".join(found)


def view_files() -> list[ViewFile]:
    """Every view file, staging first, each layer in name order."""
    return [
        ViewFile(schema, path.stem, path)
        for folder, schema in LAYERS.items()
        for path in sorted((SQL_DIR / folder).glob("*.sql"))
    ]


def view_names() -> list[str]:
    return [view.qualified for view in view_files()]


def transpile(sql: str, dialect: str) -> str:
    """DuckDB SQL in another destination's dialect (unchanged for DuckDB)."""
    if dialect == "duckdb":
        return sql
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


@dataclass(frozen=True)
class Reads:
    """What one view's statement reads: tables and views by qualified name, and the columns it names."""

    tables: frozenset[str]
    columns: frozenset[str]


def reads(sql: str) -> Reads:
    """The schema-qualified tables and views ``sql`` reads (its CTEs left out), and every column it names."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    unqualified = {t.name for t in tree.find_all(exp.Table) if not t.db} - ctes
    if unqualified:
        raise ValueError(f"reads {', '.join(sorted(unqualified))} without a schema: name it schema.table")
    tables = frozenset(f"{t.db}.{t.name}" for t in tree.find_all(exp.Table) if t.db)
    return Reads(tables, frozenset(c.name for c in tree.find_all(exp.Column)))


def build_order(files: list[ViewFile]) -> list[tuple[ViewFile, Reads | ValueError]]:
    """The views in an order where each comes after the views it reads; a file sqlglot cannot
    parse keeps its place, with the parser's error instead of its reads."""
    import sqlglot

    by_name = {view.qualified: view for view in files}
    parsed: dict[str, Reads | ValueError] = {}
    for view in files:
        try:
            parsed[view.qualified] = reads(view.sql)
        except (ValueError, sqlglot.errors.SqlglotError) as exc:
            parsed[view.qualified] = exc if isinstance(exc, ValueError) else ValueError(str(exc))
    graph = {
        name: ({t for t in got.tables if t in by_name} if isinstance(got, Reads) else set())
        for name, got in parsed.items()
    }
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        files_in_cycle = ", ".join(by_name[name].relative for name in dict.fromkeys(exc.args[1]))
        raise ViewError("views", f"the views read each other in a circle: {files_in_cycle}",
                        "Make one of them read the raw or staging tables instead.") from None  # fmt: skip
    return [(by_name[name], parsed[name]) for name in order]


@dataclass
class Applied:
    """What ``apply_views`` did with each view: made, waiting for data (why), refused by the database
    (its message), or kept as it was because a view it reads was refused."""

    created: list[str] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)


class ViewError(SyncError):
    """A view file the database refused: named with the database's message."""


def apply_views_if_changed(session: Session) -> Applied | None:
    """``apply_views`` unless nothing the views are built from changed since they were last made:
    their SQL, and every column of every table and view (a missing view or column counts)."""
    files = view_files()
    if meta_value(session, "views") == _fingerprint(session, files):
        return None
    try:
        applied = apply_views(session, files)
    except ViewError:
        set_meta(session, {"views": "refused"})  # the next sync tries again, even with nothing new
        raise
    set_meta(session, {"views": _fingerprint(session, files)})
    return applied


def _fingerprint(session: Session, files: list[ViewFile]) -> str:
    _, columns = session.query(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema not like '%\\_staging' escape '\\' and table_schema not in "
        "('information_schema', 'pg_catalog', '_runyard') order by 1, 2, 3"
    )
    sqls = [(view.relative, view.sql) for view in files]
    return hashlib.sha1(json.dumps([sqls, [list(map(str, c)) for c in columns]]).encode()).hexdigest()


def apply_views(session: Session, files: list[ViewFile] | None = None) -> Applied:
    """(Re)create every view, in build order; raises ViewError naming each file the database refused."""
    files = view_files() if files is None else files
    ours = {view.qualified for view in files}
    for schema in LAYERS.values():
        session.execute(f"create schema if not exists {schema}")
    columns = _columns(session)
    applied = Applied()
    for view, got in build_order(files):
        name = view.qualified
        if isinstance(got, ValueError):
            applied.failed[name] = f"{view.relative} could not be parsed: {got}"
            continue
        refused = next((t for t in sorted(got.tables) if t in applied.failed or t in applied.kept), None)
        if refused:
            applied.kept[name] = f"not rebuilt: it reads {refused}, which the database refused"
            continue
        reason = _waits_for(got, columns, applied.waiting, ours)
        if reason:
            applied.waiting[name] = reason
            if name in columns:  # made by an earlier sync
                session.execute(f"drop view if exists {name} cascade")
            continue
        try:
            _create(session, name, transpile(view.sql, session.dialect))
        except Exception as exc:  # whatever the database says is what the user needs to read
            applied.failed[name] = f"{view.relative}: {str(exc).strip()}"
            continue
        applied.created.append(name)
    _record(session, applied)
    if applied.failed:
        raise ViewError(
            "views",
            "the database refused " + "; ".join(f"{name} ({message})" for name, message in applied.failed.items()),
            "Correct the SQL file and sync again. The tables hold the new data; a refused view keeps its "
            "previous definition, and the views built on it were left as they were.",
        )
    return applied


def _columns(session: Session) -> dict[str, set[str]]:
    """Every table's and view's columns, by qualified name."""
    skipped = "'information_schema', 'pg_catalog'"
    _, rows = session.query(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema not in ({skipped})"
    )
    columns: dict[str, set[str]] = {}
    for schema, table, column in rows:
        columns.setdefault(f"{schema}.{table}", set()).add(column)
    return columns


# Raw tables whose columns a setting chooses: a view naming a column left out waits for it (and
# says which setting adds it) instead of failing.
SELECTABLE = {"langsmith.runs": "SOURCES__LANGSMITH__SELECTS"}


@functools.cache
def _selectable_columns(table: str) -> frozenset[str]:
    """Every column ``table`` can have; imported only when such a table is there (its package imports dlt)."""
    from sources.langsmith.settings import SELECT_TOKENS

    return frozenset(t.lower() for t in SELECT_TOKENS) if table == "langsmith.runs" else frozenset()


def _waits_for(got: Reads, columns: dict[str, set[str]], waiting: dict[str, str], ours: set[str]) -> str | None:
    """Why a view cannot be made yet: a table not written yet, a column the selects leave out, or
    a view that is waiting itself. None when it can be made."""
    for table in sorted(got.tables):
        if table in waiting:
            return f"waiting for {table}"
        if table in ours:
            continue
        if table not in columns:
            return f"waiting for {table}: its source has not been synced yet"
        if table in SELECTABLE:
            absent = sorted((got.columns & _selectable_columns(table)) - columns[table])
            if absent:
                return f"{table} has no {', '.join(absent)}: add {', '.join(absent).upper()} to {SELECTABLE[table]}"
    return None


def _create(session: Session, name: str, sql: str) -> None:
    statement = f"create or replace view {name} as\n{sql}"
    if session.dialect == "duckdb":
        session.execute(statement)
        return
    try:
        session.execute(statement)
    except Exception as exc:
        if "cannot" not in str(exc).lower():  # PostgreSQL refuses to replace a view whose columns changed
            raise
        # One string is one transaction: if the new definition fails, the old view and the views
        # built on it are back as they were.
        session.execute(f"drop view if exists {name} cascade;\n{statement}")


def _record(session: Session, applied: Applied) -> None:
    """Each view's outcome, for ``runyard status`` (which must not parse SQL to know it)."""
    session.execute(f"create schema if not exists {RUNYARD_SCHEMA}")
    columns = "view_name varchar(128), state varchar(16), detail text"
    session.execute(f"create table if not exists {STATE_TABLE} ({columns})")
    session.execute(f"delete from {STATE_TABLE}")
    outcomes = [(n, CREATED, "") for n in applied.created]
    outcomes += [(n, WAITING, r) for n, r in applied.waiting.items()]
    outcomes += [(n, FAILED, m) for n, m in (applied.failed | applied.kept).items()]
    values = ", ".join(f"({_literal(n)}, {_literal(s)}, {_literal(d)})" for n, s, d in outcomes)
    if values:
        session.execute(f"insert into {STATE_TABLE} (view_name, state, detail) values {values}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_states(session: Session) -> list[tuple[str, str, str]]:
    """(view, state, detail) of every view not made at the last apply; [] before the first."""
    schema, table = STATE_TABLE.split(".")
    exists = (
        f"select count(*) from information_schema.tables where table_schema = '{schema}' and table_name = '{table}'"
    )
    if not session.scalar(exists):
        return []
    _, rows = session.query(f"select view_name, state, detail from {STATE_TABLE} where state <> '{CREATED}' order by 1")
    return [(str(n), str(s), str(d)) for n, s, d in rows]


def readme_section() -> str:
    """The README's list of views: one line per file with its grain and the question it answers."""
    lines = ["| view | grain | answers |", "| --- | --- | --- |"]
    for view in view_files():
        grain = view.header("Grain").removeprefix("one row per ").rstrip(".")
        lines.append(f"| `{view.qualified}` | {grain} | {view.header('Answers')} |")
    return "\n".join(lines)


def _main(argv: Any = None) -> None:
    print(readme_section())


if __name__ == "__main__":
    _main()
