"""The LangSmith views: each view's grain, flat column types, PostgreSQL transpilation, and numbers
recomputed in Python from the sandbox's truth."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from pipelines.sync import sync
from pipelines.views import SQL_DIR
from sandbox import Sandbox
from sources.arrow_tables import parse_timestamp
from tests.conftest import rows
from tests.test_langsmith_sync import langsmith_settings

MARTS = SQL_DIR / "marts"

GRAINS = {
    "langsmith_daily_usage": "day, project_id, model_name",
    "langsmith_traces": "trace_id",
    "langsmith_error_breakdown": "day, project_id, run_type, run_name",
}
FLAT_TYPES = {"VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP WITH TIME ZONE"}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    db = tmp_path_factory.mktemp("langsmith-views") / "runyard.duckdb"
    with Sandbox(model_lab_runs=10, langsmith_runs=3000) as box:
        sync(db, ["langsmith"], settings=langsmith_settings(box))
        yield db, box.langsmith.truth()


def utc_date(value: str) -> date:
    return parse_timestamp(value).date()


def test_every_langsmith_view_has_a_grain_test() -> None:
    assert {p.stem for p in MARTS.glob("langsmith_*.sql")} == set(GRAINS)
    for view in GRAINS:
        assert (MARTS / f"{view}.sql").read_text().startswith("-- Grain: one row per"), view


@pytest.mark.parametrize(("view", "key"), GRAINS.items())
def test_grain(synced: tuple[Path, list[dict[str, Any]]], view: str, key: str) -> None:
    db, _ = synced
    assert rows(db, f"select count(*) from analytics.{view}")[0][0] > 0
    assert rows(db, f"select {key}, count(*) from analytics.{view} group by all having count(*) > 1") == []


def test_views_have_flat_columns_and_transpile_to_postgres(synced: tuple[Path, list[dict[str, Any]]]) -> None:
    db, _ = synced
    types = rows(
        db,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'analytics' and table_name like 'langsmith\\_%' escape '\\'",
    )
    assert {t[0] for t in types} == set(GRAINS)
    assert [t for t in types if t[2] not in FLAT_TYPES] == []
    for view in GRAINS:
        sql = (MARTS / f"{view}.sql").read_text()
        sqlglot.transpile(sql, read="duckdb", write="postgres", unsupported_level=ErrorLevel.RAISE)


def test_daily_usage_matches_truth(synced: tuple[Path, list[dict[str, Any]]]) -> None:
    db, truth = synced
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in truth:
        model = run["metadata"].get("ls_model_name") or (run["name"] if run["run_type"] == "LLM" else None)
        groups[(utc_date(run["start_time"]), run["project_id"], model)].append(run)
    got = {
        r[:3]: r[3:]
        for r in rows(
            db,
            "select day, project_id, model_name, run_count, llm_call_count, prompt_tokens, completion_tokens, "
            "total_tokens, cost_usd, error_count, p50_latency_s, p95_latency_s from analytics.langsmith_daily_usage",
        )
    }
    assert got.keys() == groups.keys()
    for key, runs in groups.items():
        llm = [r for r in runs if r["run_type"] == "LLM"]
        latencies = [r["latency_seconds"] for r in runs if r.get("latency_seconds") is not None]
        want = (
            len(runs),
            len(llm),
            sum(r.get("prompt_tokens") or 0 for r in llm),
            sum(r.get("completion_tokens") or 0 for r in llm),
            sum(r.get("total_tokens") or 0 for r in llm),
            pytest.approx(sum(r.get("total_cost") or 0.0 for r in llm)),
            sum(r["status"] == "ERROR" for r in runs),
            pytest.approx(statistics.median(latencies)) if latencies else None,
        )
        assert got[key][:-1] == want, key
    # Root runs carry their trace's sums: counting them too would double the tokens.
    assert sum(g[4] for g in got.values()) == sum(r.get("total_tokens") or 0 for r in truth if r["run_type"] == "LLM")


def test_traces_rank_the_slowest_and_the_most_expensive(synced: tuple[Path, list[dict[str, Any]]]) -> None:
    db, truth = synced
    roots = {r["id"]: r for r in truth if r["is_root"]}
    sizes: dict[str, int] = defaultdict(int)
    for run in truth:
        sizes[run["trace_id"]] += 1
    got = {
        r[0]: r[1:]
        for r in rows(
            db,
            "select trace_id, root_run_name, run_count, total_tokens, cost_usd, duration_s, latency_rank, cost_rank "
            "from analytics.langsmith_traces",
        )
    }
    assert got.keys() == roots.keys()
    for trace_id, root in roots.items():
        assert got[trace_id][:5] == (
            root["name"],
            sizes[trace_id],
            root.get("total_tokens"),
            root.get("total_cost"),
            root.get("latency_seconds"),
        )
    slowest = max(roots.values(), key=lambda r: r.get("latency_seconds") or -1)
    priciest = max(roots.values(), key=lambda r: r.get("total_cost") or -1)
    assert got[slowest["id"]][5] == 1 and got[priciest["id"]][6] == 1
    pending = [i for i, r in roots.items() if r["status"] == "PENDING"]
    assert pending and all(got[i][5] > len(roots) - len(pending) for i in pending)  # unfinished rank last


def test_error_breakdown_matches_truth(synced: tuple[Path, list[dict[str, Any]]]) -> None:
    db, truth = synced
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in truth:
        groups[(utc_date(run["start_time"]), run["project_id"], run["run_type"].lower(), run["name"])].append(run)
    got = {
        r[:4]: r[4:]
        for r in rows(
            db,
            "select day, project_id, run_type, run_name, run_count, error_count, latest_error_message "
            "from analytics.langsmith_error_breakdown",
        )
    }
    assert got.keys() == groups.keys()
    for key, runs in groups.items():
        errors = [r for r in runs if r["status"] == "ERROR"]
        latest = max((parse_timestamp(r["start_time"]) for r in errors), default=None)
        messages = {r["error"].split("\n")[0] for r in errors if parse_timestamp(r["start_time"]) == latest}
        count, error_count, message = got[key]
        assert (count, error_count) == (len(runs), len(errors)), key
        assert message in messages if errors else message is None
    assert sum(g[1] for g in got.values()) > 20


# LangChain's ls_provider -> OpenTelemetry's well-known gen_ai.provider.name (written out here, apart from the view)
OTEL_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "google_genai": "gcp.gemini", "ollama": "ollama"}


def test_llm_calls_follow_the_opentelemetry_genai_conventions(synced: tuple[Path, list[dict[str, Any]]]) -> None:
    db, truth = synced
    calls = {r["id"]: r for r in truth if r["run_type"] == "LLM"}
    got = {
        r[0]: r[1:]
        for r in rows(
            db,
            "select span_id, trace_id, parent_span_id, gen_ai_operation_name, gen_ai_provider_name, "
            "gen_ai_request_model, gen_ai_usage_input_tokens, gen_ai_usage_output_tokens, "
            "gen_ai_usage_cache_read_input_tokens, cost_usd, duration_s, error_type, gen_ai_conversation_id "
            "from analytics.llm_calls",
        )
    }
    assert got.keys() == calls.keys()
    for span_id, run in calls.items():
        metadata = run["metadata"]
        cached = ((run.get("prompt_token_details") or {}).get("raw") or {}).get("cache_read")
        error_type = run["error"].split("\n")[0].split("(")[0] if run["status"] == "ERROR" else None
        assert got[span_id] == (
            run["trace_id"],
            run["parent_run_ids"][-1],  # the run it was called from: the last of its ancestors
            "chat" if metadata.get("ls_model_type") == "chat" else None,
            OTEL_PROVIDERS[metadata["ls_provider"]],
            metadata.get("ls_model_name") or run["name"],
            run.get("prompt_tokens"),  # cached tokens included, as LangChain and the conventions count them
            run.get("completion_tokens"),
            cached,
            run.get("total_cost"),
            run.get("latency_seconds"),
            error_type,
            run.get("thread_id"),
        ), span_id
    assert sum(1 for g in got.values() if g[7]) > 50 and all(g[5] >= (g[7] or 0) for g in got.values() if g[5])
    assert {g[3] for g in got.values()} == set(OTEL_PROVIDERS.values())
    assert any(g[11] for g in got.values())
