"""Where the warehouse lives: a DuckDB file (the default) or any SQL destination dlt supports.

Everything outside this module talks to a ``Warehouse`` (what dlt loads into, the guard that keeps
one writer at a time, sessions for SQL) and never to a driver directly:

- ``DuckDBWarehouse``: one file; an OS lock plus a connection held for the whole sync
  (``pipelines.warehouse``); created in a storage version BI tools read.
- ``SqlWarehouse``: a server destination dlt supports, credentials the dlt way
  (``DESTINATION__POSTGRES__CREDENTIALS=postgresql://...`` or ``[destination.postgres.credentials]``
  in ``.dlt/secrets.toml``); SQL through dlt's own sql client; loads in bulk (PostgreSQL: parquet
  through ADBC's COPY). On PostgreSQL one writer at a time is kept by an advisory lock. PostgreSQL is
  tested; other dlt SQL destinations are expected to work by the same mechanism.

dlt is imported where a destination needs it, never at module import: ``runyard status`` and
``runyard sql`` on a DuckDB file read it with DuckDB alone, and importing dlt takes most of a
second (a read-only command should answer in well under that).
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines import warehouse
from sources.errors import ConfigError, SyncError, causes, redact, secrets

DUCKDB = "duckdb"
# Server destinations whose load paths take Arrow data in bulk: the file format dlt should write.
BULK_FORMATS = {"postgres": "parquet"}
# dlt 1.31 runs a table's merge (DELETE of the old rows, INSERT of the new) without a transaction
# on DuckDB and PostgreSQL (their capabilities leave supports_transactions unset), so a crash or a
# full disk between the two statements lost the table's rows until the next sync. Both databases
# are transactional: ask dlt to wrap each merge job in one. Other destinations keep dlt's choice.
ATOMIC_MERGE: dict[str, Any] = {"supports_transactions": True}
TRANSACTIONAL = {"postgres"}  # of the SQL destinations; DuckDB always gets it
_ADVISORY_LOCK_KEY = 0x72756E79  # "runy": one runyard writer per PostgreSQL database


class Session(ABC):
    """SQL against the warehouse, in the destination's own dialect."""

    dialect: str

    @abstractmethod
    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    @abstractmethod
    def execute(self, sql: str) -> None: ...

    @abstractmethod
    def is_missing_object(self, exc: Exception) -> bool:
        """Whether ``exc`` says a table, column or function a statement needs does not exist."""

    def scalar(self, sql: str) -> Any:
        _, rows = self.query(sql)
        return rows[0][0] if rows else None


class DuckDBSession(Session):
    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return warehouse.query(self.con, sql)

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def is_missing_object(self, exc: Exception) -> bool:
        return isinstance(exc, duckdb.CatalogException | duckdb.BinderException)


class SqlClientSession(Session):
    """A session on dlt's sql client for the destination (autocommit)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.dialect = client.capabilities.sqlglot_dialect or "postgres"

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.client.execute_query(sql) as cursor:
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def execute(self, sql: str) -> None:
        self.client.execute_sql(sql)

    def is_missing_object(self, exc: Exception) -> bool:
        from dlt.destinations.exceptions import DatabaseUndefinedRelation

        if isinstance(exc, DatabaseUndefinedRelation):
            return True
        text = str(exc).lower()
        return "does not exist" in text or "not found" in text or "unknown" in text


class Warehouse(ABC):
    kind: str
    run_kwargs: dict[str, Any] = {}  # noqa: RUF012 - read-only defaults for pipeline.run

    @abstractmethod
    def describe(self) -> str:
        """One line naming where the data lives (never a password)."""

    @abstractmethod
    def dlt_destination(self, session: Session | None = None) -> Any:
        """What dlt loads into; with the writer's ``session``, through its connection where one can be shared."""

    def prepare(self, storage_version: str) -> bool:
        """Create what a first sync needs; True when this call created something."""
        return False

    def discard_if_empty(self) -> None:  # noqa: B027 - only a file-based warehouse has something to undo
        """Undo ``prepare`` after a first sync that failed before writing anything."""

    @abstractmethod
    @contextmanager
    def writing(self, wait_s: float) -> Iterator[Session]:
        """Exclusive writer access for a whole sync; waits up to ``wait_s`` for another writer."""

    @abstractmethod
    @contextmanager
    def reading(self) -> Iterator[Session]: ...

    def error(self, exc: BaseException) -> SyncError | None:
        """The paragraph for ``exc`` if it is an error of this destination (callers walk the causes)."""
        return None


class DuckDBWarehouse(Warehouse):
    kind = DUCKDB

    def __init__(self, path: Path, memory_limit: str = warehouse.DEFAULT_MEMORY_LIMIT) -> None:
        self.path = path
        self.memory_limit = memory_limit

    def describe(self) -> str:
        return str(self.path)

    def dlt_destination(self, session: Session | None = None) -> Any:
        import dlt

        # The sync's own connection, which dlt borrows and leaves open: it shares the instance
        # settings (memory limit), and a path string would be parsed as a connection string
        # first, which imports SQLAlchemy (0.2 s of every sync's start).
        con = session.con if isinstance(session, DuckDBSession) else str(self.path)
        return dlt.destinations.duckdb(con, **ATOMIC_MERGE)

    def prepare(self, storage_version: str) -> bool:
        created = not self.path.exists()
        warehouse.ensure_database(self.path, storage_version)
        return created

    def discard_if_empty(self) -> None:
        try:
            with warehouse.connect(self.path, read_only=True, wait_s=0) as con:
                empty = not warehouse.has_any_table(con)
        except SyncError:
            return
        if empty:
            self.path.unlink(missing_ok=True)

    @contextmanager
    def writing(self, wait_s: float) -> Iterator[Session]:
        # The OS lock queues runyard writers; the connection held for the whole sync keeps other
        # programs (a BI tool, a SQL client) from taking the file between dlt's steps.
        with (
            warehouse.writer_lock(self.path, timeout_s=wait_s),
            warehouse.connect(self.path, read_only=False, wait_s=wait_s) as con,
        ):
            # A setting of the database instance, which dlt's connections in this process share:
            # big merges spill to <db>.tmp instead of growing the process.
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield DuckDBSession(con)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with warehouse.connect(self.path, read_only=True) as con:
            yield DuckDBSession(con)

    def error(self, exc: BaseException) -> SyncError | None:
        # A full or read-only disk surfaces from dlt's load jobs as text, not as an IOException.
        disk_trouble = warehouse.DISK_TROUBLE.search(str(exc))
        return warehouse.database_error(self.path, exc) if isinstance(exc, duckdb.IOException) or disk_trouble else None


class SqlWarehouse(Warehouse):
    """A dlt SQL destination configured the dlt way; PostgreSQL is the one tested here."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.run_kwargs = {"loader_file_format": BULK_FORMATS[kind]} if kind in BULK_FORMATS else {}
        self._location = self._resolve_location()

    def _resolve_location(self) -> str:
        import dlt

        raw: Any = dlt.secrets.get(f"destination.{self.kind}.credentials")
        if raw in (None, "", {}):
            raise ConfigError(
                self.kind,
                f"no credentials for the {self.kind} destination",
                f"Set DESTINATION__{self.kind.upper()}__CREDENTIALS (for PostgreSQL: "
                "postgresql://user:password@host:5432/dbname) or [destination."
                f"{self.kind}.credentials] in .dlt/secrets.toml.",
            )
        if self.kind != "postgres":
            return self.kind
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials()
        try:
            credentials.parse_native_representation(raw) if isinstance(raw, str) else credentials.update(raw)
        except Exception:
            raise ConfigError(
                "postgres",
                "DESTINATION__POSTGRES__CREDENTIALS is not a PostgreSQL connection string",
                "Use postgresql://user:password@host:5432/dbname.",
            ) from None
        secrets.add(credentials.password if isinstance(credentials.password, str) else None)
        return f"postgres database {credentials.database!r} on {credentials.host}:{credentials.port or 5432}"

    def describe(self) -> str:
        return self._location

    def dlt_destination(self, session: Session | None = None) -> Any:
        from dlt.common.destination import Destination

        return Destination.from_reference(self.kind, **(ATOMIC_MERGE if self.kind in TRANSACTIONAL else {}))

    @contextmanager
    def _session(self) -> Iterator[SqlClientSession]:
        import dlt

        with tempfile.TemporaryDirectory(prefix="runyard-dlt-") as workdir:
            pipeline = dlt.pipeline(
                pipeline_name="runyard_sql",
                destination=self.dlt_destination(),
                dataset_name="analytics",
                pipelines_dir=workdir,
            )
            try:
                with pipeline.sql_client() as client:
                    yield SqlClientSession(client)
            except SyncError:
                raise
            except Exception as exc:
                mapped = next(filter(None, map(self.error, causes(exc))), None)
                if mapped is None:
                    raise
                raise mapped from None

    @contextmanager
    def writing(self, wait_s: float) -> Iterator[Session]:
        with self._session() as session:
            if self.kind == "postgres":
                deadline = time.monotonic() + wait_s
                key = _ADVISORY_LOCK_KEY
                while not session.scalar(f"select pg_try_advisory_lock({key})"):
                    if time.monotonic() >= deadline:
                        raise warehouse.DatabaseError(
                            "runyard",
                            f"another runyard sync has been writing to the {self.describe()} for over {wait_s:.0f}s",
                            "Wait for it to finish, or stop it, then run this sync again.",
                        )
                    time.sleep(0.5)
            try:
                yield session
            finally:
                if self.kind == "postgres":
                    session.execute(f"select pg_advisory_unlock({_ADVISORY_LOCK_KEY})")

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._session() as session:
            if self.kind == "postgres":  # readers never write: `runyard sql "delete ..."` is refused
                session.execute("start transaction read only")
            try:
                yield session
            finally:
                if self.kind == "postgres":
                    session.execute("rollback")

    def error(self, exc: BaseException) -> SyncError | None:
        # Connection-level trouble only (refused, authentication, unknown database, server gone);
        # a SQL error is not a reason to check the server.
        if type(exc).__name__ in ("OperationalError", "InterfaceError") and (
            type(exc).__module__.startswith(("psycopg2", "adbc_driver"))
        ):
            first = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            return warehouse.DatabaseError(
                self.kind,
                f"the {self.describe()} cannot be used: {first}",
                "Check that the server is running and reachable, the database exists, and the user name and "
                "password in DESTINATION__POSTGRES__CREDENTIALS are right; the tables keep their previous "
                "contents and the next sync picks up where the last completed one left off.",
            )
        return None


def open_warehouse(kind: str, db_path: Path, memory_limit: str = warehouse.DEFAULT_MEMORY_LIMIT) -> Warehouse:
    """The warehouse for a destination name: ``duckdb`` (the file at ``db_path``) or a dlt SQL destination."""
    if kind == DUCKDB:
        return DuckDBWarehouse(db_path, memory_limit)
    from dlt.common.destination import Destination

    try:
        reference = Destination.from_reference(kind)
        is_sql = reference is not None and reference.capabilities().sqlglot_dialect is not None
    except Exception:
        is_sql = False
    if not is_sql:
        raise ConfigError(
            "runyard",
            f"{kind!r} is not a SQL destination dlt knows",
            "Use duckdb (the default), postgres (tested), or another dlt SQL destination such as motherduck, "
            "snowflake, bigquery or clickhouse.",
        )
    return SqlWarehouse(kind)


# -- queries every destination answers --------------------------------------------------------

HIDDEN_SCHEMAS = ("information_schema", "pg_catalog", "main", "public", warehouse.RUNYARD_SCHEMA)


def user_tables(session: Session) -> list[tuple[str, str]]:
    """(schema, table) of every data table, without dlt's bookkeeping and staging schemas."""
    _, rows = session.query(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "order by table_schema, table_name"
    )
    return [
        (s, t)
        for s, t in rows
        if s not in HIDDEN_SCHEMAS
        and not s.endswith("_staging")
        and not s.startswith("pg_")
        and not t.startswith("_dlt_")
    ]


def foreign_tables(session: Session, wanted: dict[str, set[str]]) -> list[str]:
    """Of the tables runyard would write (dataset -> tables), those that exist in a dataset dlt never wrote.

    dlt records each schema it creates tables for in ``<dataset>._dlt_version`` before the first
    rows land, so a table without that record belongs to another application.
    """
    existing = user_tables(session)
    foreign = []
    for dataset, tables in wanted.items():
        clash = sorted({t for s, t in existing if s == dataset} & tables)
        if clash and not _rows_unless_missing(
            session, f"select 1 from {dataset}._dlt_version where schema_name = '{dataset}' limit 1"
        ):
            foreign += [f"{dataset}.{table}" for table in clash]
    return foreign


def table_counts(session: Session) -> dict[str, int]:
    return {f"{s}.{t}": session.scalar(f'select count(*) from "{s}"."{t}"') for s, t in user_tables(session)}


def _rows_unless_missing(session: Session, sql: str) -> list[tuple[Any, ...]] | None:
    """The rows of ``sql``, or None when a table it reads does not exist (yet)."""
    try:
        return session.query(sql)[1]
    except Exception as exc:
        if session.is_missing_object(exc):
            return None
        raise


def pipeline_state(session: Session, dataset: str) -> tuple[dict[str, Any], Any] | None:
    """(state, time of the load that committed it) of ``runyard_<dataset>``, or None if never synced."""
    rows = _rows_unless_missing(
        session,
        f"select s.state, l.inserted_at from {dataset}._dlt_pipeline_state s "
        f"join {dataset}._dlt_loads l on l.load_id = s._dlt_load_id "
        f"where s.pipeline_name = 'runyard_{dataset}' and l.status = 0 order by l.load_id desc limit 1",
    )
    return (_decompress_state(rows[0][0]), rows[0][1]) if rows else None


def _decompress_state(stored: str) -> dict[str, Any]:
    """dlt's stored pipeline state: base64 of zlib-compressed JSON (``dlt.common.versioned_state``;
    plain JSON from older versions). Decoded here so that ``runyard status`` need not import dlt.
    runyard's own resource states hold only JSON scalars, so dlt's typed-JSON markers do not occur."""
    try:
        return json.loads(zlib.decompress(base64.b64decode(stored, validate=True)))
    except (binascii.Error, zlib.error):
        return json.loads(stored)


def holds_rows(session: Session, table: str) -> bool:
    """Whether ``table`` (schema-qualified) exists and has at least one row."""
    return bool(_rows_unless_missing(session, f"select 1 from {table} limit 1"))


def last_load_ids(session: Session, datasets: list[str]) -> dict[str, str | None]:
    """The newest load of each dataset that exists (dlt's ``_dlt_loads``)."""
    found: dict[str, str | None] = {}
    for dataset in datasets:
        rows = _rows_unless_missing(session, f"select max(load_id) from {dataset}._dlt_loads")
        if rows is not None:
            found[dataset] = rows[0][0]
    return found


def meta_value(session: Session, key: str) -> str | None:
    """One of runyard's own bookkeeping values (``_runyard.meta``), or None."""
    rows = _rows_unless_missing(session, f"select value from {warehouse.RUNYARD_SCHEMA}.meta where key = '{key}'")
    return rows[0][0] if rows else None


def set_meta(session: Session, values: dict[str, str]) -> None:
    """Record bookkeeping values (keys and values are runyard's own: no user text reaches this SQL)."""
    schema = warehouse.RUNYARD_SCHEMA
    session.execute(f"create schema if not exists {schema}")
    session.execute(f"create table if not exists {schema}.meta (key varchar(64) primary key, value varchar(256))")
    keys = ", ".join(f"'{key}'" for key in values)
    session.execute(f"delete from {schema}.meta where key in ({keys})")
    rows = ", ".join(f"('{key}', '{value}')" for key, value in values.items())
    session.execute(f"insert into {schema}.meta (key, value) values {rows}")


def is_demo(session: Session) -> bool:
    return meta_value(session, "demo") == "true"


def mark_demo(session: Session) -> None:
    set_meta(session, {"demo": "true"})
