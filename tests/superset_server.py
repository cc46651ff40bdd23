"""A real Apache Superset 6.1 for the tests, in its own environment (its pins conflict with ours:
SQLAlchemy 1.4, duckdb<2): installed once into a cache folder, initialised with a SQLite metadata
database in a temporary folder (``db upgrade``, ``fab create-admin``, ``init``), served on a free
loopback port and stopped at the end.

A plain ``pip install apache-superset[duckdb]==6.1.0`` does not start: it also needs
``flask-caching<2.4`` (2.5 passes an argument Superset's cache class refuses), ``rich`` and
``cachetools``. Playwright drives the system Chromium for the rendering check, from the same
environment.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# Playwright's pin is declared once, in pyproject.toml's superset-probe group.
_PROBE = tuple(tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
               ["dependency-groups"]["superset-probe"])  # fmt: skip
REQUIREMENTS = ("apache-superset[duckdb]==6.1.0", "flask-caching<2.4", "rich", "cachetools", *_PROBE)
ENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "runyard-tests" / "superset-6.1.0"
HERE = Path(__file__).resolve().parent / "superset"
ADMIN = ("admin", "runyard-test-admin")


def installed_env() -> Path:
    """The Superset environment, installed on first use (about a minute from the registry)."""
    stamp = ENV / "runyard-requirements.txt"
    if stamp.exists() and stamp.read_text() == "\n".join(REQUIREMENTS):
        return ENV
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH (the README installs it with pip install uv)"
    shutil.rmtree(ENV, ignore_errors=True)
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(ENV)], check=True, timeout=300)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(ENV / "bin" / "python"), *REQUIREMENTS],
        check=True,
        timeout=900,
    )
    stamp.write_text("\n".join(REQUIREMENTS))
    return ENV


@dataclass
class Superset:
    url: str
    env: dict[str, str]
    python: Path
    token: str = ""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=120, **kwargs
        )
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response.json()

    def login(self) -> None:
        body = {"username": ADMIN[0], "password": ADMIN[1], "provider": "db", "refresh": False}
        self.token = httpx.post(f"{self.url}/api/v1/security/login", json=body, timeout=60).json()["access_token"]

    def run(self, script: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A script in Superset's environment (the rendering probe)."""
        return subprocess.run(
            [str(self.python), str(script), *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def superset_server() -> Iterator[Superset]:
    env_dir = installed_env()
    superset = str(env_dir / "bin" / "superset")
    with tempfile.TemporaryDirectory(prefix="runyard-superset-") as home:
        env = {
            **os.environ,
            "SUPERSET_HOME": home,
            "SUPERSET_CONFIG_PATH": str(HERE / "superset_config.py"),
            "RUNYARD_TEST_SUPERSET_SECRET": secrets.token_hex(32),
            "FLASK_APP": "superset",
            "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        for step in (
            ["db", "upgrade"],
            [
                "fab",
                "create-admin",
                "--username",
                ADMIN[0],
                "--password",
                ADMIN[1],
                "--firstname",
                "run",
                "--lastname",
                "yard",
                "--email",
                "admin@runyard.invalid",
            ],
            ["init"],
        ):
            done = subprocess.run([superset, *step], capture_output=True, text=True, env=env, timeout=600)
            assert done.returncode == 0, f"superset {' '.join(step)}: {done.stderr[-3000:]}"
        port = _free_port()
        log = Path(home) / "server.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [superset, "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
            server = Superset(url, env, env_dir / "bin" / "python")
            server.login()
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
