"""The LangSmith sandbox over real HTTP: window defaults, paging, selects, filters, errors, and
what the official SDK (langsmith 0.15.0, the generated client) makes of the responses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from langsmith import Langsmith
from langsmith.types.run import (
    CompletionCostDetails,
    CompletionTokenDetails,
    FeedbackStats,
    PromptCostDetails,
    PromptTokenDetails,
    Run,
)

from sandbox import Sandbox
from sandbox.common import US, Clock, Request, parse_rfc3339, rfc3339
from sandbox.langsmith import SELECTS, LangSmithStore

PATH = "/api/v2/runs/query"
DAY = 86400 * US
EPOCH = "2000-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """Shared and never advanced: tests that change data make their own."""
    with Sandbox(model_lab_runs=10, langsmith_runs=3000) as box:
        yield box


@pytest.fixture(scope="module")
def truth(sb: Sandbox) -> list[dict[str, Any]]:
    return sb.langsmith.truth()


def post(box: Sandbox, body: dict[str, Any], *, key: str | None = "default") -> httpx.Response:
    headers = {} if key is None else {"x-api-key": box.config.langsmith_api_key if key == "default" else key}
    return httpx.post(box.url + PATH, json=body, headers=headers, timeout=30)


def walk(box: Sandbox, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item over every page, checking that only the last page lacks next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = post(box, {**body, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if "next_cursor" not in page:
            return items
        cursor = page["next_cursor"]
        assert cursor and len(page["items"]) == body.get("page_size", 100)


def started(row: dict[str, Any]) -> int:
    return parse_rfc3339(row["start_time"])


def everything(box: Sandbox, **extra: Any) -> dict[str, Any]:
    """A body covering all the generated data, ascending, every field selected."""
    return {
        "project_ids": box.langsmith.project_ids(),
        "min_start_time": EPOCH,
        "sort_order": "ASC",
        "selects": list(SELECTS),
        "page_size": 1000,
        **extra,
    }


# -- window, paging, selects -------------------------------------------------------------------


def test_default_window_is_the_last_day_only(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    before = sb.clock.now_us()
    items = walk(sb, {"project_ids": sb.langsmith.project_ids(), "selects": ["ID", "START_TIME"], "page_size": 1000})
    after = sb.clock.now_us()

    ids = {i["id"] for i in items}
    assert {r["id"] for r in truth if started(r) >= after - DAY} <= ids
    assert ids <= {r["id"] for r in truth if started(r) >= before - DAY}
    assert len(ids) < len(truth) / 10  # 30 days of data, one day served
    older = walk(sb, {"project_ids": sb.langsmith.project_ids(), "min_start_time": EPOCH, "page_size": 1000})
    assert len(older) == len(truth)
    # Newest first by default.
    starts = [started(i) for i in items]
    assert starts == sorted(starts, reverse=True)


def test_full_walk_equals_truth_in_both_directions(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    low, high = started(truth[100]), started(truth[2500])
    window = [r for r in truth if low <= started(r) < high]  # min inclusive, max exclusive
    body = everything(sb, min_start_time=rfc3339(low), max_start_time=rfc3339(high), page_size=97)

    assert walk(sb, body) == window
    assert walk(sb, {**body, "sort_order": "DESC", "page_size": 1000}) == window[::-1]
    assert [(started(r), r["id"]) for r in window] == sorted((started(r), r["id"]) for r in window)


def test_page_size_may_change_but_other_fields_may_not(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    body = everything(sb, selects=["ID"], page_size=10)
    first = post(sb, body).json()
    second = post(sb, {**body, "page_size": 20, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in first["items"] + second["items"]] == [r["id"] for r in truth[:30]]

    changed = post(sb, {**body, "selects": ["ID", "NAME"], "cursor": first["next_cursor"]})
    assert changed.status_code == 400
    assert "cursor" in changed.json()["detail"]


def test_next_cursor_is_omitted_on_the_last_page(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    high = rfc3339(started(truth[50]))
    exact = post(sb, everything(sb, max_start_time=high, page_size=50)).json()
    assert len(exact["items"]) == 50 and "next_cursor" not in exact
    one_more = post(sb, everything(sb, max_start_time=high, page_size=49)).json()
    assert one_more["next_cursor"]
    last = post(sb, everything(sb, max_start_time=high, page_size=49, cursor=one_more["next_cursor"])).json()
    assert len(last["items"]) == 1 and "next_cursor" not in last
    nothing = post(sb, {"project_ids": ["00000000-0000-4000-8000-000000000000"], "min_start_time": EPOCH}).json()
    assert nothing == {"items": []}


def test_selects_return_exactly_the_selected_fields(sb: Sandbox) -> None:
    bare = post(sb, everything(sb, selects=None, page_size=5)).json()["items"]
    assert all(set(i) == {"id", "query_metadata"} for i in bare)
    some = post(sb, everything(sb, selects=["NAME", "STATUS", "TOTAL_TOKENS"], page_size=200)).json()["items"]
    assert all(
        {"name", "status", "query_metadata"} <= set(i) <= {"name", "status", "total_tokens", "query_metadata"}
        for i in some
    )
    assert any("total_tokens" in i for i in some) and any("total_tokens" not in i for i in some)
    # Every token names its field, and every field is produced by some run.
    every = walk(sb, everything(sb))
    produced = set().union(*every)
    assert produced == {s.lower() for s in SELECTS} | {"query_metadata"}


def test_pending_runs_have_a_null_end_time(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    pending = [r for r in truth if r["status"] == "PENDING"]
    assert pending
    assert all(r["end_time"] is None and "latency_seconds" not in r and "outputs" not in r for r in pending)
    assert any(started(r) < sb.clock.now_us() - 2 * DAY for r in pending)  # stuck for days
    assert any(started(r) > sb.clock.now_us() - DAY for r in pending)
    items = post(sb, everything(sb, ids=[r["id"] for r in pending], selects=["ID", "END_TIME"])).json()["items"]
    assert {i["id"] for i in items} == {r["id"] for r in pending}
    assert all("end_time" in i and i["end_time"] is None for i in items)


def test_traces_hang_together(truth: list[dict[str, Any]]) -> None:
    by_id = {r["id"]: r for r in truth}
    for run in truth:
        root = by_id[run["trace_id"]]
        assert root["is_root"] and root["run_type"] == "CHAIN" and root["parent_run_ids"] == []
        assert run["project_id"] == root["project_id"]
        assert run["is_root"] == (run["id"] == run["trace_id"])
        assert run["dotted_order"].endswith(run["id"])
        if run["parent_run_ids"]:
            parent = by_id[run["parent_run_ids"][-1]]
            assert run["parent_run_ids"][0] == run["trace_id"]
            assert run["dotted_order"].startswith(parent["dotted_order"] + ".")
            assert started(run) >= started(parent)
    children: dict[str, list[dict[str, Any]]] = {}
    for run in truth:
        if not run["is_root"]:
            children.setdefault(run["trace_id"], []).append(run)
    for trace_id, runs in children.items():
        root = by_id[trace_id]
        assert 1 <= len(runs) <= 6
        assert root.get("total_tokens") == (sum(r.get("total_tokens", 0) for r in runs) or None)


# -- filters -----------------------------------------------------------------------------------


def _fb(row: dict[str, Any]) -> float:
    stats = row.get("feedback_stats", {}).get("correctness")
    return stats["avg"] if stats else -1.0


FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ('eq(run_type, "llm")', lambda r: r["run_type"] == "LLM"),
    ('and(eq(run_type, "llm"), gt(latency, 5))', lambda r: r["run_type"] == "LLM" and r.get("latency_seconds", 0) > 5),
    ('gt(latency, "1500ms")', lambda r: r.get("latency_seconds", 0) > 1.5),
    ('eq(status, "error")', lambda r: r["status"] == "ERROR"),
    ('neq(status, "SUCCESS")', lambda r: r["status"] != "SUCCESS"),
    ("eq(error, true)", lambda r: "error" in r),
    ('or(eq(name, "ChatOpenAI"), eq(name, "chatanthropic"))', lambda r: r["name"] in ("ChatOpenAI", "ChatAnthropic")),
    ("not(eq(is_root, true))", lambda r: not r["is_root"]),
    ("gte(total_tokens, 2000)", lambda r: r.get("total_tokens", -1) >= 2000),
    (
        "and(lt(total_cost, 0.001), gt(prompt_tokens, 100))",
        lambda r: r.get("total_cost", 1) < 0.001 and r.get("prompt_tokens", 0) > 100,
    ),
    ('has(tags, "production")', lambda r: "production" in r["tags"]),
    ('has(metadata, \'{"ls_provider": "openai"}\')', lambda r: r["metadata"].get("ls_provider") == "openai"),
    (
        'and(eq(metadata_key, "ls_model_name"), eq(metadata_value, "gpt-4o"))',
        lambda r: r["metadata"].get("ls_model_name") == "gpt-4o",
    ),
    (
        'search("PARIS")',
        lambda r: (
            "paris" in (r["name"] + r["inputs_preview"] + r.get("outputs_preview", "") + r.get("error", "")).lower()
        ),
    ),
    ('and(eq(feedback_key, "correctness"), gte(feedback_score, 0.5))', lambda r: _fb(r) >= 0.5),
    ('gt(start_time, "2026-01-01T00:00:00Z")', lambda r: started(r) > parse_rfc3339("2026-01-01T00:00:00Z")),
]


@pytest.mark.parametrize(("expression", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_language(sb: Sandbox, truth: list[dict[str, Any]], expression: str, expected: Callable) -> None:
    got = [i["id"] for i in walk(sb, everything(sb, filter=expression, selects=["ID"]))]
    want = [r["id"] for r in truth if expected(r)]
    assert want, "the case should match something"
    assert got == want


def test_trace_and_tree_filters(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for run in truth:
        by_trace.setdefault(run["trace_id"], []).append(run)
    failed_roots = {r["id"] for r in truth if r["is_root"] and r["status"] == "ERROR"}
    got = walk(sb, everything(sb, trace_filter='eq(status, "error")', selects=["ID"]))
    assert [i["id"] for i in got] == [r["id"] for r in truth if r["trace_id"] in failed_roots]

    with_retriever = {t for t, runs in by_trace.items() if any(r["run_type"] == "RETRIEVER" for r in runs)}
    got = walk(sb, everything(sb, tree_filter='eq(run_type, "retriever")', filter='eq(run_type, "llm")'))
    assert [i["id"] for i in got] == [
        r["id"] for r in truth if r["trace_id"] in with_retriever and r["run_type"] == "LLM"
    ]


def test_body_filters(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    def ids(**extra: Any) -> list[str]:
        return [i["id"] for i in walk(sb, everything(sb, selects=["ID"], **extra))]

    assert ids(is_root=True) == [r["id"] for r in truth if r["is_root"]]
    assert ids(run_type="TOOL") == [r["id"] for r in truth if r["run_type"] == "TOOL"]
    assert ids(has_error=True) == [r["id"] for r in truth if r["status"] == "ERROR"]
    assert ids(has_error=False) == [r["id"] for r in truth if r["status"] != "ERROR"]
    trace = truth[1234]["trace_id"]
    assert ids(trace_id=trace) == [r["id"] for r in truth if r["trace_id"] == trace]
    picked = [truth[7]["id"], truth[2999]["id"], truth[1500]["id"]]
    assert ids(ids=picked) == [r["id"] for r in truth if r["id"] in picked]
    assert ids(ids=picked, is_root=True) == [r["id"] for r in truth if r["id"] in picked and r["is_root"]]
    example = next(r["reference_example_id"] for r in truth if "reference_example_id" in r)
    assert ids(reference_examples=[example]) == [r["id"] for r in truth if r.get("reference_example_id") == example]
    project = sb.langsmith.project_ids()[1]
    assert ids(project_ids=[project]) == [r["id"] for r in truth if r["project_id"] == project]
    # Unknown body fields are ignored.
    assert post(sb, everything(sb, page_size=1, bogus_field=1)).status_code == 200


def test_reference_dataset_defaults_the_window_to_its_earliest_run(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    dataset = next(r["reference_dataset_id"] for r in truth if "reference_dataset_id" in r)
    expected = [r["id"] for r in truth if r.get("reference_dataset_id") == dataset]
    assert started(next(r for r in truth if r["id"] == expected[0])) < sb.clock.now_us() - 2 * DAY
    got = walk(sb, {"reference_dataset_id": dataset, "sort_order": "ASC", "page_size": 7})
    assert [i["id"] for i in got] == expected


# -- errors ------------------------------------------------------------------------------------


PROJECT = "0190a1b2-c3d4-7ef0-a5b6-6ea3a82e9328"
BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({}, "exactly one"),
    ({"project_ids": [PROJECT], "reference_dataset_id": PROJECT}, "exactly one"),
    ({"project_ids": ["not-a-uuid"]}, "UUID"),
    ({"project_ids": [PROJECT], "page_size": 0}, "page_size"),
    ({"project_ids": [PROJECT], "page_size": 1001}, "page_size"),
    ({"project_ids": [PROJECT], "page_size": "10"}, "page_size"),
    ({"project_ids": [PROJECT], "selects": ["ID", "COST"]}, "selects"),
    ({"project_ids": [PROJECT], "sort_order": "asc"}, "sort_order"),
    ({"project_ids": [PROJECT], "run_type": "llm"}, "run_type"),
    ({"project_ids": [PROJECT], "min_start_time": "yesterday"}, "min_start_time"),
    ({"project_ids": [PROJECT], "max_start_time": "2026-13-01T00:00:00Z"}, "max_start_time"),
    ({"project_ids": [PROJECT], "is_root": "yes"}, "is_root"),
    ({"project_ids": [PROJECT], "filter": 'eq(run_type, "llm"'}, "filter"),
    ({"project_ids": [PROJECT], "filter": 'like(name, "Chat%")'}, "unsupported function"),
    ({"project_ids": [PROJECT], "filter": "eq(colour, 1)"}, "unsupported filter field"),
    ({"project_ids": [PROJECT], "filter": 'gt(name, "a")'}, "not supported on"),
    ({"project_ids": [PROJECT], "filter": 'gt(latency, "soon")'}, "latency"),
    ({"project_ids": [PROJECT], "trace_filter": "and()"}, "trace_filter"),
    ({"project_ids": [PROJECT], "tree_filter": "eq(status, 'x') junk"}, "tree_filter"),
    ({"project_ids": [PROJECT], "ai_search": "runs that used tools"}, "ai_search"),
    ({"project_ids": [PROJECT], "sem_filter": "angry users"}, "sem_filter"),
    ({"project_ids": [PROJECT], "cursor": "not a cursor!"}, "cursor"),
    ({"project_ids": [PROJECT], "cursor": base64.urlsafe_b64encode(b'{"t": 1}').decode()}, "cursor"),
    ({"project_ids": [PROJECT], "min_feedback_modified_at": EPOCH, "filter": 'eq(status, "success")'}, "feedback"),
]


@pytest.mark.parametrize(("body", "mentions"), BAD_BODIES, ids=[json.dumps(b[0])[:60] for b in BAD_BODIES])
def test_invalid_requests_get_a_400_detail(sb: Sandbox, body: dict[str, Any], mentions: str) -> None:
    response = post(sb, body)
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert mentions in response.json()["detail"]


def test_missing_or_wrong_key_gets_a_401(sb: Sandbox) -> None:
    body = {"project_ids": sb.langsmith.project_ids()}
    assert post(sb, body, key=None).status_code == 401
    assert post(sb, body, key="lsv2_wrong").status_code == 401
    assert post(sb, body, key=None).json() == {"detail": "Unauthorized"}


# -- change over time --------------------------------------------------------------------------


def test_advance_finishes_pending_runs_adds_traces_and_feedback() -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=400) as box:
        pending = [r["id"] for r in box.langsmith.truth() if r["status"] == "PENDING"]
        since = rfc3339(box.clock.now_us())  # later than any generated feedback
        changed = box.advance(langsmith={"finish_pending": pending[:2], "new_traces": 2, "update_feedback": 3})
        changed = changed["langsmith"]
        assert set(pending[:2]) <= set(changed["finish_pending"])
        body = everything(box, ids=changed["finish_pending"], selects=["ID", "STATUS", "END_TIME", "LATENCY_SECONDS"])
        for item in post(box, body).json()["items"]:
            assert item["status"] in ("SUCCESS", "ERROR") and item["end_time"] and item["latency_seconds"] > 0

        newest = post(
            box,
            {
                "project_ids": box.langsmith.project_ids(),
                "selects": ["ID", "STATUS"],
                "page_size": len(changed["new_traces"]),
            },
        ).json()["items"]
        assert {i["id"] for i in newest} == set(changed["new_traces"])
        assert all(i["status"] == "PENDING" for i in newest)

        fresh_feedback = walk(
            box,
            everything(box, filter='eq(feedback_key, "correctness")', selects=["ID"], min_feedback_modified_at=since),
        )
        assert {i["id"] for i in fresh_feedback} == set(changed["update_feedback"])

        still = {r["id"] for r in box.langsmith.truth() if r["status"] == "PENDING"}
        assert set(changed["new_traces"]) <= still and not still & set(changed["finish_pending"])
        counted = box.advance(langsmith={"finish_pending": 1000})["langsmith"]["finish_pending"]
        assert set(counted) == still
        assert not [r for r in box.langsmith.truth() if r["status"] == "PENDING"]


def test_generation_is_deterministic_and_scales() -> None:
    clock = Clock(datetime.fromisoformat("2026-05-18T16:45:00+00:00"))
    one = LangSmithStore.generated(3, clock, runs=500, projects=3, days=10).truth()
    two = LangSmithStore.generated(3, clock, runs=500, projects=3, days=10).truth()
    assert one == two and len(one) == 500 and len({r["project_id"] for r in one}) == 3
    big = LangSmithStore.generated(3, clock, runs=1_000_000, projects=2, days=30)
    assert parse_rfc3339(big.earliest_start()) < clock.anchor_us - 30 * DAY
    body = {"project_ids": big.project_ids(), "min_start_time": rfc3339(clock.anchor_us - 9 * DAY),
            "sort_order": "ASC", "selects": list(SELECTS), "page_size": 1000}  # fmt: skip
    began = time.perf_counter()
    page = big.query_runs(Request("POST", PATH, {}, {}, json.dumps(body).encode())).body
    assert len(page["items"]) == 1000 and page["next_cursor"]
    assert time.perf_counter() - began < 0.5  # a window maps to an index range: no scan from the start


# -- the official SDK --------------------------------------------------------------------------


def test_official_sdk_walks_every_page_and_parses_every_field(sb: Sandbox, truth: list[dict[str, Any]]) -> None:
    client = Langsmith(
        api_key=sb.config.langsmith_api_key, base_url=sb.url, max_retries=0, _strict_response_validation=True
    )
    low = started(truth[500])
    pages = client.runs.query_v2(
        project_ids=sb.langsmith.project_ids(),
        min_start_time=datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=low),
        selects=list(SELECTS),
        page_size=300,
    )
    runs = list(pages)  # auto-pagination through next_cursor
    expected = [r for r in truth if started(r) >= low][::-1]  # DESC by default
    assert [r.id for r in runs] == [r["id"] for r in expected]
    assert all(isinstance(r, Run) for r in runs)
    for run, row in zip(runs, expected, strict=True):
        assert run.model_fields_set == set(row)  # the SDK keeps every field the sandbox sent
        assert isinstance(run.start_time, datetime) and run.start_time.tzinfo is not None
        assert run.end_time is None if row["status"] == "PENDING" else isinstance(run.end_time, datetime)
        assert isinstance(run.parent_run_ids, list) and isinstance(run.is_root, bool)
        for name in ("total_tokens", "prompt_tokens", "completion_tokens"):
            assert getattr(run, name) is None or type(getattr(run, name)) is int
        for name in ("total_cost", "prompt_cost", "completion_cost", "latency_seconds"):
            assert getattr(run, name) is None or type(getattr(run, name)) is float
        for name, model in (
            ("prompt_token_details", PromptTokenDetails),
            ("prompt_cost_details", PromptCostDetails),
            ("completion_token_details", CompletionTokenDetails),
            ("completion_cost_details", CompletionCostDetails),
        ):
            assert getattr(run, name) is None or isinstance(getattr(run, name), model)
        assert all(isinstance(s, FeedbackStats) for s in (run.feedback_stats or {}).values())
        assert all(isinstance(e.time, datetime) for e in run.events or [])
    for name in ("first_token_time", "thread_evaluation_time", "last_queued_at"):
        assert any(isinstance(getattr(r, name), datetime) for r in runs), name
    # Every Run field but query_metadata (null here) has a value on some run.
    valued = {name for r in runs for name in r.model_fields_set if getattr(r, name) is not None}
    assert valued == set(Run.model_fields) - {"query_metadata"}
