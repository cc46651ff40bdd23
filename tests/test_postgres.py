"""The same warehouse in a real PostgreSQL server: tables, behaviour and views equal to DuckDB's."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from pipelines.demo import sandbox_settings
from pipelines.sync import sync
from pipelines.views import view_names
from sandbox import Sandbox
from tests.conftest import TABLES, run_cli
from tests.postgres_server import PostgresServer, postgres_server
from tests.test_cli import sandbox_env


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with postgres_server() as pg:
        yield pg


@pytest.fixture
def database(server: PostgresServer, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    name = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    dsn = server.create_database(name)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
    return dsn


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=250, langsmith_runs=800, llm_obs_projects=1, llm_obs_records_per_dataset=20) as sb:
        yield sb


def _norm(value: Any, json_text: bool | None) -> Any:
    """One comparable form for what DuckDB and psycopg2 each return.

    ``json_text`` is None for a non-JSON column, True where the driver hands JSON back as text
    (DuckDB), False where it hands back parsed values (psycopg2).
    """
    if json_text is not None and value is not None:
        return json.dumps(json.loads(value) if json_text else value, sort_keys=True)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value  # NaN != NaN, yet both sides holding one agree
    return value


def _fetch(cursor: Any, json_columns: set[str], json_text: bool) -> tuple[list[str], set[tuple]]:
    names = [d[0] for d in cursor.description]
    keep = [i for i, n in enumerate(names) if not n.startswith("_dlt")]
    modes = [json_text if names[i] in json_columns else None for i in keep]
    rows = {tuple(_norm(row[i], mode) for i, mode in zip(keep, modes, strict=True)) for row in cursor.fetchall()}
    return [names[i] for i in keep], rows


def duckdb_rows(
    db: Path, sql: str, json_columns: set[str] = frozenset(), time_zone: str = "UTC"
) -> tuple[list[str], set[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"set TimeZone = '{time_zone}'")
        return _fetch(con.execute(sql), json_columns, json_text=True)
    finally:
        con.close()


def postgres_rows(
    dsn: str, sql: str, json_columns: set[str] = frozenset(), time_zone: str = "UTC"
) -> tuple[list[str], set[tuple]]:
    con = psycopg2.connect(dsn, options=f"-c TimeZone={time_zone}")
    try:
        cur = con.cursor()
        cur.execute(sql)
        return _fetch(cur, json_columns, json_text=False)
    finally:
        con.close()


def json_columns_of(dsn: str, table: str) -> set[str]:
    schema, name = table.split(".")
    _, rows = postgres_rows(
        dsn,
        "select column_name from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{name}' and data_type in ('json', 'jsonb')",
    )
    return {r[0] for r in rows}


def _ordered(rows: set[tuple]) -> list[tuple]:
    """Rows in an order both engines' results share: by their exact values, floats coarsened."""

    def key(row: tuple) -> tuple:
        return tuple(
            (0, round(v, 3)) if isinstance(v, float) else (1, v.isoformat() if isinstance(v, date) else str(v))
            for v in row
        )

    return sorted(rows, key=key)


def assert_same_tables(duck: Path, dsn: str) -> None:
    for table in TABLES:
        json_columns = json_columns_of(dsn, table)
        d_cols, d_rows = duckdb_rows(duck, f"select * from {table}", json_columns)
        p_cols, p_rows = postgres_rows(dsn, f"select * from {table}", json_columns)
        assert d_cols == p_cols, table
        assert d_rows == p_rows, (
            f"{table}: {len(d_rows ^ p_rows)} rows differ, e.g. {sorted(d_rows ^ p_rows, key=str)[:2]}"
        )


def test_full_and_incremental_syncs_equal_duckdb(box: Sandbox, database: str, tmp_path: Path) -> None:
    duck = tmp_path / "reference.duckdb"
    settings = sandbox_settings(box)
    sync(duck, settings=settings)
    results = sync(tmp_path / "unused.duckdb", settings=settings, destination="postgres")

    assert {r.source for r in results if r.status == "ok"} == {"model_lab", "llm_obs", "langsmith"}
    assert not (tmp_path / "unused.duckdb").exists()
    assert_same_tables(duck, database)

    box.advance(
        model_lab={"update": 20, "strip": 2, "hard_delete": 3, "new": 4},
        llm_obs={"update": 5, "soft_delete": 3, "new_records": 10},
        langsmith={"finish_pending": 5, "new_traces": 3},
    )
    for destination in ("duckdb", "postgres"):
        sync(duck, settings=settings, destination=destination)
    assert_same_tables(duck, database)

    for destination in ("duckdb", "postgres"):  # hard deletes reconciled the same way
        sync(duck, settings=settings, destination=destination, full_refresh=True)
    assert_same_tables(duck, database)


def test_every_view_returns_the_same_rows_in_every_time_zone(box: Sandbox, database: str, tmp_path: Path) -> None:
    """Every view, staging and marts, on both destinations, read with the session's time zone set to
    UTC, Los Angeles and Tokyo: the same rows as DuckDB in UTC (UTC days, the same instants)."""
    duck = tmp_path / "reference.duckdb"
    settings = sandbox_settings(box)
    sync(duck, settings=settings)
    sync(duck, settings=settings, destination="postgres")

    for view in view_names():
        d_cols, d_rows = duckdb_rows(duck, f"select * from {view}")
        assert d_rows, view
        for zone in ("UTC", "America/Los_Angeles", "Asia/Tokyo"):
            for cols, got in (duckdb_rows(duck, f"select * from {view}", time_zone=zone),
                              postgres_rows(database, f"select * from {view}", time_zone=zone)):  # fmt: skip
                assert cols == d_cols, (view, zone)
                _assert_same_rows(view, d_cols, d_rows, got)


def _assert_same_rows(view: str, columns: list[str], want: set[tuple], got: set[tuple]) -> None:
    assert len(want) == len(got), view
    # Aggregates over doubles (percentiles, sums) may differ in the last bits between engines.
    for w_row, g_row in zip(_ordered(want), _ordered(got), strict=True):
        assert len(w_row) == len(g_row)
        for column, w_value, g_value in zip(columns, w_row, g_row, strict=True):
            if isinstance(w_value, float) and isinstance(g_value, float):
                assert math.isclose(w_value, g_value, rel_tol=1e-9, abs_tol=1e-6), (view, column, w_row, g_row)
            else:
                assert w_value == g_value, (view, column, w_row, g_row)


def test_status_and_sql_work_against_postgres(box: Sandbox, database: str, server: PostgresServer) -> None:
    env = {**sandbox_env(box), "DESTINATION__POSTGRES__CREDENTIALS": database, "RUNYARD_DESTINATION": "postgres"}
    synced = run_cli("sync", "model_lab", env=env)
    assert synced.code == 0, synced.stderr
    assert not Path("runyard.duckdb").exists()

    status = run_cli("status", env=env)
    assert status.code == 0, status.stderr
    assert "datadog.model_lab_runs" in status.stdout and "on 127.0.0.1" in status.stdout
    query = run_cli("sql", "select count(*) as n from analytics.model_lab_run_summary", "--csv", env=env)
    assert query.code == 0 and query.stdout.splitlines() == ["n", "250"]
    write = run_cli("sql", "delete from datadog.model_lab_runs", env=env)
    assert write.code != 0 and "read" in write.stderr
    assert server.password not in status.stdout + status.stderr + query.stdout + write.stderr
    assert server.psql("select count(*) from datadog.model_lab_runs", database.rsplit("/", 1)[1]).strip() == "250"


@pytest.mark.parametrize(
    "problem",
    ["wrong password", "unknown database", "unreachable host"],
)
def test_bad_credentials_name_host_and_database_never_the_password(
    box: Sandbox, server: PostgresServer, problem: str
) -> None:
    secret = "wrong-pw-DO-NOT-PRINT"
    dsn = {
        "wrong password": server.dsn("postgres", password=secret),
        "unknown database": server.dsn("no_such_db"),
        "unreachable host": f"postgresql://postgres:{secret}@127.0.0.1:1/warehouse",
    }[problem]
    env = {**sandbox_env(box), "DESTINATION__POSTGRES__CREDENTIALS": dsn}
    result = run_cli("sync", "model_lab", "--destination", "postgres", env=env)
    assert result.code == 6, result.stderr
    assert "Traceback" not in result.stderr
    database_name = dsn.rsplit("/", 1)[1]
    assert f"postgres database '{database_name}' on 127.0.0.1" in result.stderr
    for password in (secret, server.password):
        assert password not in result.stdout + result.stderr


def test_a_server_that_goes_away_mid_load_loses_nothing(
    box: Sandbox, server: PostgresServer, database: str, tmp_path: Path
) -> None:
    duck = tmp_path / "reference.duckdb"
    settings = sandbox_settings(box)
    sync(duck, settings=settings)
    sync(duck, settings=settings, destination="postgres")
    box.advance(model_lab={"update": 60, "new": 20}, langsmith={"new_traces": 20, "finish_pending": 5})
    sync(duck, settings=settings)  # the reference: the same changes, loaded without interruption

    # Slow the load down on the server side so there is a "during", then stop the server in it.
    dbname = database.rsplit("/", 1)[1]
    server.psql(
        "create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return new; "
        "end $$; create trigger slow before insert on datadog.model_lab_run_metrics for each row execute "
        "function slow()",
        dbname,
    )
    stopped = threading.Event()

    def stop_when_loading() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = server.psql(
                "select count(*) from pg_stat_activity where query ilike '%model_lab_run_metrics%' "
                "and state = 'active' and pid <> pg_backend_pid()"
            ).strip()
            if busy != "0":
                server.stop()
                stopped.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=stop_when_loading)
    watcher.start()
    with pytest.raises(Exception) as failure:
        sync(duck.with_name("unused.duckdb"), ["model_lab"], settings=settings, destination="postgres")
    watcher.join()
    assert stopped.is_set()
    assert "postgres database" in str(failure.value)

    server.start()
    server.psql("drop trigger slow on datadog.model_lab_run_metrics", dbname)
    sync(duck.with_name("unused.duckdb"), settings=settings, destination="postgres")
    assert_same_tables(duck, database)


def test_demo_into_postgres_and_its_protection(server: PostgresServer, database: str) -> None:
    env = {"DESTINATION__POSTGRES__CREDENTIALS": database}
    first = run_cli("demo", "--destination", "postgres", env=env)
    assert first.code == 0, first.stderr
    assert "Sample analysis" in first.stdout and "Published" not in first.stdout
    again = run_cli("demo", "--destination", "postgres", env=env)  # a previous demo is replaced
    assert again.code == 0, again.stderr
    dbname = database.rsplit("/", 1)[1]
    assert server.psql("select count(*) from datadog.model_lab_runs", dbname).strip() == "2000"

    server.psql("delete from _runyard.meta", dbname)  # now it looks like a real warehouse
    refused = run_cli("demo", "--destination", "postgres", env=env)
    assert refused.code != 0 and "never overwrites a real warehouse" in refused.stderr
    assert server.psql("select count(*) from datadog.model_lab_runs", dbname).strip() == "2000"
