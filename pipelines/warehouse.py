"""The DuckDB file: creating it readable by BI tools, one writer at a time, reading it, views.

- A new file is created with ``storage_compatibility_version = 'v1.4.0'`` so the DuckDB 1.x
  inside Superset, Evidence and Metabase can open it (docs/decisions.md#storage-version). An existing file keeps
  the version it has.
- Writers take an OS lock on ``<db>.lock`` for the whole sync, so two runyard processes queue
  instead of failing on DuckDB's own lock.
- Readers (``status``, ``sql``) open the file read-only.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sources.errors import ConfigError, SyncError

# The storage format of files runyard creates: DuckDB 1.4.0 and newer read it (the 1.x inside BI tools).
DEFAULT_STORAGE_VERSION = "v1.4.0"
RUNYARD_SCHEMA = "_runyard"  # runyard's own bookkeeping (the demo marker)

# Opening a file that is not DuckDB's (a SQLite database, say) must not make DuckDB fetch an extension.
NO_EXTENSIONS: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_LOCKED = re.compile(r"Conflicting lock is held in (?P<holder>.+?) \(PID (?P<pid>\d+)\)")


class DatabaseError(SyncError):
    """The DuckDB file cannot be used (locked, read-only, not a database, disk full)."""

    exit_code = 6


def ensure_database(path: Path, storage_version: str = DEFAULT_STORAGE_VERSION) -> None:
    """Create the DuckDB file in ``storage_version`` if it does not exist yet; an existing file keeps its own."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with translate_errors(path):
        duckdb.connect(str(path), config={"storage_compatibility_version": storage_version}).close()


@contextmanager
def writer_lock(path: Path, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold ``<db>.lock`` exclusively: one runyard writer per database file, others wait.

    The holder removes the file when it is done. A waiter that then gets the lock holds it on a
    file no longer at that path, sees so (the inode differs) and takes the new one instead; a
    lock file left by a process that was killed is taken over and removed by the next sync.
    """
    lock_path = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock_path, "a+")  # noqa: SIM115 - closed below
        except OSError as exc:  # a read-only or full disk, a directory we may not write
            raise database_error(path, exc) from None
        try:
            _wait_for_lock(handle, path, deadline, timeout_s)
            if _same_file(handle, lock_path):
                break
        except BaseException:
            handle.close()
            raise
        handle.close()  # the holder before us removed it: lock the file now at that path
    with handle:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_for_lock(handle: Any, path: Path, deadline: float, timeout_s: float) -> None:
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise DatabaseError(
                    "runyard",
                    f"another runyard sync (PID {holder}) has been writing {path} for over {timeout_s:.0f}s",
                    "Wait for it to finish, or stop it, then run this sync again.",
                ) from None
            time.sleep(0.2)


def _same_file(handle: Any, path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn DuckDB's file errors into one actionable paragraph."""
    try:
        yield
    except duckdb.IOException as exc:
        raise database_error(path, exc) from None


# How much memory DuckDB may use while a sync writes (it spills to disk beyond): keeps a sync of
# a million runs in a few hundred MB. RUNYARD_DUCKDB_MEMORY_LIMIT raises it.
DEFAULT_MEMORY_LIMIT = "128MB"
MEMORY_LIMIT_FORMAT = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)

DISK_TROUBLE = re.compile(r"No space left on device|Read-only file system")


def database_error(path: Path, exc: BaseException) -> DatabaseError:
    text = str(exc)
    locked = _LOCKED.search(text)
    if locked:
        return DatabaseError(
            "runyard",
            f"{path} is open in another process ({locked['holder'].strip()}, PID {locked['pid']})",
            "DuckDB allows one writer per file, and a BI tool or SQL client keeps the file locked while it is "
            "connected. Close that connection and run again; to read while syncs run, point readers at a "
            "published copy instead (`runyard sync --publish runyard-bi.duckdb`, or RUNYARD_PUBLISH).",
        )
    if "Read-only file system" in text or "Permission denied" in text:
        return DatabaseError(
            "runyard",
            f"{path} cannot be written ({text.splitlines()[0]})",
            "Choose a writable location with --db.",
        )
    if "No space left" in text:
        return DatabaseError(
            "runyard",
            f"the disk holding {path} is full",
            "Free space and run again: the next sync finishes the interrupted load. Tables it had not reached "
            "keep their previous rows, and published copies are untouched.",
        )
    return DatabaseError(
        "runyard",
        f"cannot open {path}: {text.splitlines()[0]}",
        "Check that the path points at a DuckDB file runyard created.",
    )


@contextmanager
def connect(path: Path, *, read_only: bool, wait_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection; a reader retries briefly while a sync holds the file."""
    if read_only and not path.exists():
        raise DatabaseError("runyard", f"{path} does not exist", "Run `runyard sync` (or `runyard demo`) first.")
    _refuse_other_formats(path)
    # Readers can reach nothing outside the file: no COPY ... TO, EXPORT, ATTACH, INSTALL or file reads.
    config: dict[str, Any] = {**NO_EXTENSIONS, "enable_external_access": False} if read_only else {}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.IOException as exc:
            if not (_LOCKED.search(str(exc)) and time.monotonic() < deadline):
                raise database_error(path, exc) from None
            time.sleep(0.2)
    try:
        yield con
    finally:
        con.close()


def _refuse_other_formats(path: Path) -> None:
    """A file that is not DuckDB's is refused by its header, before DuckDB tries an extension to read it."""
    if kind := _other_format(path):
        raise DatabaseError(
            "runyard",
            f"{path} is {kind}",
            "runyard reads and writes DuckDB files: pass --db with a new path or a file runyard created.",
        )


def _other_format(path: Path) -> str | None:
    """What a non-empty file that is not a DuckDB database is, from its header; None for DuckDB's (or unreadable)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError:
        return None  # missing or unreadable: DuckDB's own error says which
    if not header or header[8:12] == b"DUCK":  # an empty file becomes a new database
        return None
    return "a SQLite database" if header.startswith(b"SQLite format 3") else "not a DuckDB database file"


@dataclass(frozen=True)
class Published:
    path: Path
    seconds: float
    size_bytes: int


def publish(con: duckdb.DuckDBPyConnection, target: Path, storage_version: str = DEFAULT_STORAGE_VERSION) -> Published:
    """Copy the database (without dlt's staging schemas) to ``target`` for readers.

    The copy is built under a temporary name next to ``target`` with the BI-readable storage
    version, then renamed over it: a reader never sees a half-written file, one holding the old
    copy open keeps reading it (Linux keeps the old inode), and the next connection sees the new.
    """
    started = time.monotonic()
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    [(source,)] = con.execute("select current_database()").fetchall()
    quoted = str(temporary).replace("'", "''")
    try:
        con.execute(f"attach '{quoted}' as runyard_publish (storage_version '{storage_version}')")
        try:
            con.execute(f'copy from database "{source}" to runyard_publish')
            staging = con.execute(
                "select schema_name from duckdb_schemas() where database_name = 'runyard_publish' "
                "and ends_with(schema_name, '_staging')"
            ).fetchall()
            for (schema,) in staging:
                con.execute(f'drop schema runyard_publish."{schema}" cascade')
        finally:
            con.execute("detach runyard_publish")
        os.replace(temporary, target)
    except (duckdb.Error, OSError) as exc:
        temporary.unlink(missing_ok=True)
        raise DatabaseError(
            "runyard",
            f"publishing to {target} failed ({str(exc).splitlines()[0]}); the previous copy is untouched",
            "Check that the directory is writable and has space, then run the sync again.",
        ) from None
    return Published(target, time.monotonic() - started, target.stat().st_size)


def check_publish_target(target: Path, *, ours: bool) -> None:
    """Publishing replaces ``target``: allowed for a new path, an empty file and a copy runyard published.

    ``ours``: the warehouse recorded publishing to this path. Anything else (another application's
    DuckDB file, a text file) is a ConfigError naming the file; ``--force`` skips this check.
    """
    if ours or not target.exists():
        return
    if target.is_dir():
        reason = "it is a directory"
    elif target.stat().st_size == 0:
        return
    elif kind := _other_format(target):
        reason = f"it is {kind}"
    else:
        try:
            with duckdb.connect(str(target), read_only=True, config=NO_EXTENSIONS) as con:
                if (
                    not has_any_table(con)
                    or con.execute(
                        "select 1 from information_schema.tables where table_schema = ? and table_name = 'meta'",
                        [RUNYARD_SCHEMA],
                    ).fetchall()
                ):
                    return
            reason = "it is a DuckDB database runyard did not write"
        except duckdb.Error as exc:
            reason = f"it cannot be checked ({str(exc).splitlines()[0]})"
    raise ConfigError(
        "runyard",
        f"--publish would replace {target}, and {reason}",
        "Publish to a new path or to a copy runyard published before; pass --force to replace this file anyway.",
    )


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage version of the connected file, e.g. ``v1.4.0+`` (readable by DuckDB 1.4.0 and newer)."""
    row = con.execute(
        "select tags['storage_version'] from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return (row[0] if row else None) or "unknown"


def has_any_table(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file holds any table at all, in any schema (not just runyard's)."""
    return bool(con.execute("select 1 from information_schema.tables limit 1").fetchall())


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one query on a DuckDB connection."""
    result = con.execute(sql, params or [])
    columns = [d[0] for d in result.description] if result.description else []
    return columns, result.fetchall()
