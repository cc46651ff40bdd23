"""Frozen sandboxes (``Sandbox(frozen=True)``, ``runyard sandbox --frozen``): pages built from cached
JSON bytes must read exactly like the pages of an ordinary sandbox with the same data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sandbox import Sandbox
from sandbox.langsmith import SELECTS
from sources.langsmith.run_table import normalize_selects
from sources.langsmith.settings import DEFAULT_SELECTS

ANCHOR = datetime(2026, 5, 1, 12, tzinfo=UTC)
SIZES: dict[str, Any] = {"seed": 11, "anchor": ANCHOR, "langsmith_runs": 2500, "model_lab_runs": 300}
QUERY = "/api/v2/runs/query"
RUNS = "/api/v2/model-lab-api/runs"


@pytest.fixture(scope="module")
def plain() -> Iterator[Sandbox]:
    with Sandbox(**SIZES) as box:
        yield box


@pytest.fixture(scope="module")
def frozen() -> Iterator[Sandbox]:
    with Sandbox(frozen=True, **SIZES) as box:
        yield box


def ls_post(box: Sandbox, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(box.url + QUERY, json=body, headers={"x-api-key": box.config.langsmith_api_key}, timeout=30)


def ml_get(box: Sandbox, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    headers = {"DD-API-KEY": box.config.datadog_api_key, "DD-APPLICATION-KEY": box.config.datadog_app_key}
    return httpx.get(box.url + path, params=params, headers=headers, timeout=30)


def ls_pages(box: Sandbox, body: dict[str, Any]) -> list[Any]:
    """Every page of a cursor walk, parsed."""
    pages, cursor = [], None
    while True:
        response = ls_post(box, {**body, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(orjson.loads(response.content))
        cursor = pages[-1].get("next_cursor")
        if not cursor:
            return pages


def test_warm_fills_the_caches(frozen: Sandbox) -> None:
    warmed = frozen.warm(normalize_selects(DEFAULT_SELECTS))
    assert (warmed["langsmith_runs"], warmed["model_lab_runs"]) == (2500, 300)
    assert frozen.warm(["ID"])["langsmith_runs"] == 2500  # any other selects, in process


@pytest.mark.parametrize(
    "selects",
    [
        ["ID"],
        list(normalize_selects(DEFAULT_SELECTS)),  # warmed above
        list(SELECTS),
        ["TRACE_ID", "ID", "TRACE_ID", "INPUTS", "FEEDBACK_STATS"],  # duplicates and any order
    ],
)
@pytest.mark.parametrize("sort_order", ["ASC", "DESC"])
def test_langsmith_pages_match(plain: Sandbox, frozen: Sandbox, selects: list[str], sort_order: str) -> None:
    body = {
        "project_ids": plain.langsmith.project_ids(),
        "min_start_time": "2000-01-01T00:00:00Z",
        "max_start_time": "2030-01-01T00:00:00Z",
        "selects": selects,
        "sort_order": sort_order,
        "page_size": 700,
    }
    pages = ls_pages(frozen, body)
    assert len(pages) == 4 and sum(len(p["items"]) for p in pages) == 2500
    assert pages == ls_pages(plain, body)


@pytest.mark.parametrize(
    "extra",
    [
        {"filter": 'eq(run_type, "LLM")', "page_size": 50},
        {"is_root": True, "has_error": False, "page_size": 100},
        {"min_start_time": "2026-04-20T00:00:00Z", "max_start_time": "2026-04-25T00:00:00Z", "page_size": 10},
    ],
)
def test_langsmith_filtered_pages_match(plain: Sandbox, frozen: Sandbox, extra: dict[str, Any]) -> None:
    body = {"project_ids": plain.langsmith.project_ids()[:1], "min_start_time": "2000-01-01T00:00:00Z",
            "max_start_time": "2030-01-01T00:00:00Z", "selects": ["ID", "NAME", "OUTPUTS"], **extra}  # fmt: skip
    pages = ls_pages(frozen, body)
    assert len(pages) > 1
    assert pages == ls_pages(plain, body)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "created_at", "page[size]": 100, "page[number]": 2},
        {"sort": "-duration", "page[size]": 7, "page[number]": 5},
        {"sort": "name", "page[size]": 100, "page[number]": 9},  # past the end
        {"filter[status]": "completed", "page[size]": 50},
        {"filter[tags]": "team:nlp", "filter": "qwen"},
    ],
)
def test_model_lab_list_matches(plain: Sandbox, frozen: Sandbox, params: dict[str, Any]) -> None:
    response = ml_get(frozen, RUNS, params)
    assert response.status_code == 200, response.text
    assert orjson.loads(response.content) == orjson.loads(ml_get(plain, RUNS, params).content)


def test_model_lab_get_matches(plain: Sandbox, frozen: Sandbox) -> None:
    ids = [run["id"] for run in orjson.loads(ml_get(plain, RUNS, {"page[size]": 5}).content)["data"]] + ["1"]
    for run_id in ids:
        a, b = ml_get(frozen, f"{RUNS}/{run_id}"), ml_get(plain, f"{RUNS}/{run_id}")
        assert a.status_code == b.status_code and orjson.loads(a.content) == orjson.loads(b.content)


def test_drift_and_faults_work_when_frozen() -> None:
    with Sandbox(frozen=True, **SIZES) as box:
        box.drift("langsmith.query_runs", lambda body: {**body, "surprise": 1})
        box.drift("model_lab.get_run", lambda body: orjson.dumps(body)[:-1] + b',"nan":NaN}')
        body = {"project_ids": box.langsmith.project_ids(), "page_size": 3, "min_start_time": "2000-01-01T00:00:00Z"}
        page = ls_post(box, body).json()
        assert page["surprise"] == 1 and len(page["items"]) == 3 and page["next_cursor"]
        assert ml_get(box, f"{RUNS}/70000").content.endswith(b',"nan":NaN}')
        box.faults.add(kind="invalid_json", endpoint="model_lab.list_runs", count=1)
        box.faults.add(kind="truncate", endpoint="langsmith.query_runs", count=1)
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(ml_get(box, RUNS).content)
        with pytest.raises(httpx.RemoteProtocolError):
            ls_post(box, body)


def test_frozen_data_cannot_change() -> None:
    with Sandbox(frozen=True, **SIZES) as box:
        with pytest.raises(RuntimeError, match="frozen"):
            box.advance(model_lab={"update": 1})
        with pytest.raises(RuntimeError, match="frozen"):
            box.after_requests("model_lab.list_runs", 1, model_lab={"new": 1})
        response = httpx.post(box.url + "/_sandbox/advance", json={"langsmith": {"new_traces": 1}})
        assert response.status_code == 409 and "frozen" in response.text
    with Sandbox(**SIZES) as box, pytest.raises(RuntimeError, match="frozen"):
        box.warm(["ID"])


def test_cli_frozen_warms_before_answering() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "pipelines.cli", "sandbox", "--frozen", "--port", str(port),
               "--langsmith-runs", "300", "--model-lab-runs", "40"]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE, text=True, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                config = httpx.get(f"http://127.0.0.1:{port}/_sandbox/config", timeout=1).json()
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.2)
        assert config["frozen"] is True
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "warmed 300 LangSmith runs" in stderr and "40 Model Lab runs" in stderr
