"""LangSmith over weeks, against servers that hold to the published reference rather than the newest SDK.

A strict sandbox validates ``selects`` against the 44 documented tokens; one with unknown fields
refuses ``min_feedback_modified_at`` as an older release would. Real HTTP, the real pipeline,
the real DuckDB file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.sync import sync
from sandbox import Sandbox
from sources.arrow_tables import parse_timestamp
from sources.errors import UpstreamError
from sources.langsmith.refusals import refused_selects
from sources.langsmith.settings import DEFAULT_SELECTS, DOCUMENTED_SELECTS, SDK_ONLY_SELECTS
from tests.conftest import rows, run_cli
from tests.test_langsmith_sync import assert_matches, langsmith_settings, truth_since

FEEDBACK_FIELDS = ("min_feedback_modified_at", "max_feedback_modified_at")
WITH_SDK_ONLY = (*DEFAULT_SELECTS, *SDK_ONLY_SELECTS)


@pytest.fixture
def strict() -> Iterator[Sandbox]:
    with Sandbox(model_lab_runs=10, langsmith_runs=3000, strict=True) as box:
        yield box


def feedback_of(db: Path, run_ids: list[str]) -> dict[str, dict]:
    found = rows(db, f"select id, feedback_stats from langsmith.runs where id in {tuple(run_ids)}")
    return {run_id: json.loads(stats) if stats else None for run_id, stats in found}


def test_the_default_selects_are_the_documented_ones(strict: Sandbox, db_path: Path) -> None:
    assert set(DEFAULT_SELECTS) <= set(DOCUMENTED_SELECTS)
    assert not set(DEFAULT_SELECTS) & set(SDK_ONLY_SELECTS)

    [result] = sync(db_path, ["langsmith"], settings=langsmith_settings(strict))

    assert not result.warnings
    assert_matches(db_path, truth_since(strict, strict.langsmith.earliest_start()))


def test_select_tokens_the_server_refuses_are_dropped_once_and_their_columns_stay(
    strict: Sandbox, db_path: Path
) -> None:
    settings = langsmith_settings(strict, selects=WITH_SDK_ONLY)
    [first] = sync(db_path, ["langsmith"], settings=settings)

    [warning] = first.warnings
    assert "LAST_QUEUED_AT, LS_USER_ID" in warning and "goes on without them" in warning
    assert_matches(db_path, truth_since(strict, strict.langsmith.earliest_start()))
    assert rows(db_path, "select count(last_queued_at), count(ls_user_id), count(*) > 0 from langsmith.runs") == [
        (0, 0, True)
    ]
    assert first.cursors["runs"]["selects the server refused"] == "LAST_QUEUED_AT, LS_USER_ID"
    strict.reset_requests()

    [second] = sync(db_path, ["langsmith"], settings=settings)  # remembered: not sent, not said again

    assert not second.warnings
    assert strict.requests()["langsmith.query_runs"] == 1 + 1 + math.ceil(second.cursors["runs"]["pending runs"] / 1000)
    status = run_cli("status", "--db", str(db_path))
    assert status.code == 0 and "selects the server refused: LAST_QUEUED_AT, LS_USER_ID" in status.stdout


def test_rows_loaded_before_the_server_refused_a_token_keep_their_values(db_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=3000) as box:  # the SaaS: every SDK token
        settings = langsmith_settings(box, selects=WITH_SDK_ONLY)
        [first] = sync(db_path, ["langsmith"], settings=settings)
        # Runs the next sync will not read again: finished a day before, no feedback to follow.
        settled = "start_time < ?::timestamptz - interval 1 day and end_time is not null and feedback_stats is null"
        kept = rows(db_path, f"select id, ls_user_id from langsmith.runs where ls_user_id is not null and {settled}",
                    [first.cursors["runs"]["start_time"]])  # fmt: skip
        assert len(kept) > 1000
        box.langsmith.strict = True  # now a server a release behind (a move to self-hosted)

        [second] = sync(db_path, ["langsmith"], settings=settings)

        assert "LAST_QUEUED_AT, LS_USER_ID" in second.warnings[0]
        after = dict(
            rows(db_path, f"select id, ls_user_id from langsmith.runs where id in {tuple(i for i, _ in kept)}")
        )
        assert after == dict(kept)
        assert_matches(db_path, truth_since(box, box.langsmith.earliest_start()))


def test_late_feedback_on_runs_days_old_arrives_in_the_next_sync_with_a_few_queries(
    strict: Sandbox, db_path: Path
) -> None:
    settings = langsmith_settings(strict)
    sync(db_path, ["langsmith"], settings=settings)
    changed = strict.advance(langsmith={"late_feedback": 40})["langsmith"]["late_feedback"]
    assert len(changed) == 40
    truth = {r["id"]: r for r in strict.langsmith.truth()}
    starts = [parse_timestamp(truth[i]["start_time"]) for i in changed]
    now = datetime.now(UTC)
    assert all(now - timedelta(days=20) <= s <= now - timedelta(days=2) for s in starts)
    assert feedback_of(db_path, changed) != {i: truth[i].get("feedback_stats") for i in changed}
    strict.reset_requests()

    [result] = sync(db_path, ["langsmith"], settings=settings)

    assert feedback_of(db_path, changed) == {i: truth[i].get("feedback_stats") for i in changed}
    assert_matches(db_path, truth_since(strict, strict.langsmith.earliest_start()))
    pending = math.ceil(result.cursors["runs"]["pending runs"] / 1000)
    assert strict.requests()["langsmith.query_runs"] <= 1 + 1 + pending + 1
    assert result.cursors["runs"]["late feedback"] == "followed (min_feedback_modified_at)"


def test_a_server_that_refuses_the_feedback_query_says_so_once_and_the_sync_goes_on(db_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=3000, strict=True, langsmith_unknown_fields=FEEDBACK_FIELDS) as box:
        settings = langsmith_settings(box)
        sync(db_path, ["langsmith"], settings=settings)
        box.advance(langsmith={"late_feedback": 10})

        [second] = sync(db_path, ["langsmith"], settings=settings)

        [warning] = second.warnings
        assert "refused the query for runs whose feedback changed" in warning
        assert "SOURCES__LANGSMITH__FEEDBACK_LOOKBACK_HOURS" in warning
        assert second.cursors["runs"]["late feedback"].startswith("not followed")
        box.reset_requests()
        [third] = sync(db_path, ["langsmith"], settings=settings)
        assert not third.warnings
        assert box.requests()["langsmith.query_runs"] == 1 + math.ceil(third.cursors["runs"]["pending runs"] / 1000)
        status = run_cli("status", "--db", str(db_path))
        assert "late feedback: not followed (the server refused min_feedback_modified_at)" in status.stdout


def test_the_look_back_fallback_rereads_recent_runs_for_their_feedback(db_path: Path) -> None:
    with Sandbox(model_lab_runs=10, langsmith_runs=3000, strict=True, langsmith_unknown_fields=FEEDBACK_FIELDS) as box:
        settings = langsmith_settings(box, feedback_lookback_hours=72)
        sync(db_path, ["langsmith"], settings=settings)
        recent = box.advance(langsmith={"late_feedback": 10, "late_feedback_days": (0.5, 2.5)})["langsmith"]
        old = box.advance(langsmith={"late_feedback": 10, "late_feedback_days": (5, 20)})["langsmith"]

        [result] = sync(db_path, ["langsmith"], settings=settings)

        truth = {r["id"]: r for r in box.langsmith.truth()}
        assert "re-reads the runs that started in the last 72 hours" in result.warnings[0]
        assert result.cursors["runs"]["late feedback"].startswith("the last 72 h re-read on every sync")
        ids = recent["late_feedback"]
        assert feedback_of(db_path, ids) == {i: truth[i]["feedback_stats"] for i in ids}
        ids = old["late_feedback"]  # beyond the look-back: not followed, as the warning said
        assert feedback_of(db_path, ids) != {i: truth[i]["feedback_stats"] for i in ids}
        box.advance(langsmith={"late_feedback": 10, "late_feedback_days": (0.5, 2.5)})
        [again] = sync(db_path, ["langsmith"], settings=settings)  # later syncs re-read the span, quietly
        assert not again.warnings
        assert_matches(db_path, truth_since(box, box.langsmith.earliest_start()))


def _refusal(detail: str, status: int = 400) -> UpstreamError:
    return UpstreamError("langsmith", f"POST /api/v2/runs/query returned {status}", status=status, detail=detail)


SENT = ("ID", "NAME", "STATUS", "START_TIME", "END_TIME", "THREAD_EVALUATION_TIME", "LAST_QUEUED_AT", "LS_USER_ID")


@pytest.mark.parametrize(
    ("detail", "status", "dropped"),
    [
        # lists the accepted values: everything sent outside them goes (an even older server here)
        ("invalid selects ['LAST_QUEUED_AT']; valid values: ID, NAME, STATUS, START_TIME, END_TIME, LS_USER_ID",
         400, ("THREAD_EVALUATION_TIME", "LAST_QUEUED_AT")),
        # names the bad ones only
        ('selects[6]: unknown value "LAST_QUEUED_AT"', 400, ("LAST_QUEUED_AT",)),
        # FastAPI/pydantic's 422: the accepted values, then the input (which is not one of them)
        ("[{'type': 'enum', 'loc': ('body', 'selects', 7), 'msg': \"Input should be 'ID', 'NAME', 'STATUS', "
         "'START_TIME', 'END_TIME', 'THREAD_EVALUATION_TIME' or 'LAST_QUEUED_AT'\", 'input': 'LS_USER_ID'}]",
         422, ("LS_USER_ID",)),
        # says nothing usable: the tokens the published reference does not document go
        ("invalid selects", 400, ("LAST_QUEUED_AT", "LS_USER_ID")),
        # not about selects at all
        ("page_size must be between 1 and 1000", 400, ()),
        ("invalid selects", 500, ()),
    ],
    ids=["accepted-list", "named", "pydantic-422", "no-detail", "other-400", "not-a-refusal"],
)  # fmt: skip
def test_a_refusal_names_the_tokens_to_drop(detail: str, status: int, dropped: tuple[str, ...]) -> None:
    assert refused_selects(_refusal(detail, status), SENT) == dropped
