"""A real, throw-away PostgreSQL server for the tests: initdb into a temporary directory, pg_ctl on a
free loopback port, stopped at the end. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` user (Debian's package creates it)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "pg-test-secret-5f1c2a"  # recognisable, so tests can check it never leaks


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path
    bin_dir: Path
    run_as: list[str]

    def dsn(self, database: str, *, password: str | None = None) -> str:
        return f"postgresql://{self.user}:{password or self.password}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.password}
        out = subprocess.run(
            [str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        return out.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'create database "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"],
                       capture_output=True, check=False)  # fmt: skip

    def start(self) -> None:
        log = self.data_dir.parent / "server.log"
        subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log), "-w", "-t", "60",
             "-o", f"-p {self.port} -k {self.data_dir.parent} -c listen_addresses={self.host}", "start"],
            capture_output=True, check=True,
        )  # fmt: skip


def find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: install Debian's postgresql package (.ci/run does)")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    user = "postgres" if run_as else os.environ.get("USER", "postgres")
    root = Path(tempfile.mkdtemp(prefix="runyard-pg-"))
    data_dir = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD)
    if run_as:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", user, "--pwfile", str(pwfile),
         "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"],
        capture_output=True, check=True,
    )  # fmt: skip
    server = PostgresServer("127.0.0.1", port, user, PASSWORD, data_dir, bin_dir, run_as)
    (data_dir / "postgresql.auto.conf").open("a").write("fsync = off\nsynchronous_commit = off\n")
    server.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            server.psql("select 1")
            break
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
