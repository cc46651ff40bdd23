"""Model Lab runs end to end: real HTTP against the sandbox, the real pipeline, the real DuckDB file."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pipelines.sync import sync
from sandbox import Sandbox
from tests.conftest import rows, settings_for
from tests.model_lab_truth import assert_matches


def test_full_sync_equals_sandbox_truth(sandbox: Sandbox, settings, db_path: Path) -> None:
    [result] = sync(db_path, ["model_lab"], settings=settings)

    assert result.status == "ok"
    assert_matches(db_path, sandbox.model_lab.truth())
    # 450 runs at 100 per page: 5 pages, plus one request for the high-water mark.
    assert sandbox.requests()["model_lab.list_runs"] == 6
    assert result.rows_loaded["datadog.model_lab_runs"] == 450
    types = dict(
        rows(
            db_path,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'datadog' and table_name = 'model_lab_runs'",
        )
    )
    assert types["created_at"] == types["completed_at"] == types["deleted_at"] == "TIMESTAMP WITH TIME ZONE"
    assert (types["id"], types["project_id"], types["duration"]) == ("BIGINT", "BIGINT", "DOUBLE")


UNFINISHED = ("pending", "running", "paused", "unresponsive")


def followed(box: Sandbox, days: int = 14) -> list[int]:
    """The unfinished runs a sync follows: those whose updated_at is less than ``days`` old."""
    since = box.clock.now_us() - days * 86400 * 1_000_000
    return sorted(r.id for r in box.model_lab.runs.values() if r.status in UNFINISHED and r.updated_us >= since)


def test_a_sync_with_nothing_new_reads_followed_runs_a_hundred_per_request(db_path: Path) -> None:
    with Sandbox(model_lab_runs=3000, strict=True) as box:  # about one run in five unfinished, as recorded live
        settings = settings_for(box)
        [first] = sync(db_path, ["model_lab"], settings=settings)
        unfinished = [r for r in box.model_lab.runs.values() if r.status in UNFINISHED]
        assert 0.15 < len(unfinished) / 3000 < 0.25
        tracked = followed(box)
        assert first.cursors["model_lab_runs"]["unfinished runs followed"] == len(tracked)
        assert 100 < len(tracked) < len(unfinished)  # crashed jobs older than two weeks are not followed
        box.reset_requests()

        [second] = sync(db_path, ["model_lab"], settings=settings)

        requests = box.requests()
        assert requests["model_lab.get_run"] == 0
        assert requests["model_lab.list_runs"] <= 2 + math.ceil(len(tracked) / 100)
        assert_matches(db_path, box.model_lab.truth())
        assert second.cursors["model_lab_runs"]["updated_at"] == first.cursors["model_lab_runs"]["updated_at"]


def test_unfinished_runs_are_reread_by_id(sandbox: Sandbox, settings, db_path: Path) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    # Followed runs far from the top of the updated_at order: the list walk will not reach them.
    by_recency = sorted(sandbox.model_lab.runs.values(), key=lambda r: r.updated_us, reverse=True)
    tracked = set(followed(sandbox))
    deep = [r.id for r in by_recency[110:] if r.id in tracked]
    assert len(deep) >= 3, "the seeded data should hold followed runs outside the first page"
    changed, gone = deep[:2], deep[2]
    sandbox.advance(model_lab={"log_metrics": changed, "hard_delete": [gone]})
    sandbox.reset_requests()

    [result] = sync(db_path, ["model_lab"], settings=settings)

    # The followed runs in one filter[id] list request; the one missing from it confirmed with one GET.
    assert sandbox.requests()["model_lab.list_runs"] <= 2 + math.ceil(len(tracked) / 100)
    assert sandbox.requests()["model_lab.get_run"] == 1
    truth = {int(r["id"]): r for r in sandbox.model_lab.truth()}
    for run_id in changed:
        want = {m["key"] for m in truth[run_id]["attributes"]["metric_summaries"]}
        got = {k for (k,) in rows(db_path, f"select key from datadog.model_lab_run_metrics where run_id = {run_id}")}
        assert got == want
    # The run that is gone is kept and marked deleted instead of failing the sync, and no longer followed.
    [(deleted_at,)] = rows(db_path, f"select deleted_at from datadog.model_lab_runs where id = {gone}")
    assert deleted_at is not None
    assert result.cursors["model_lab_runs"]["unfinished runs followed"] == len(tracked) - 1
    assert not result.warnings


def test_many_runs_missing_from_the_id_list_are_marked_deleted_without_a_get_each(
    sandbox: Sandbox, settings, db_path: Path
) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    gone = followed(sandbox)[:8]
    sandbox.advance(model_lab={"hard_delete": gone})
    sandbox.reset_requests()

    sync(db_path, ["model_lab"], settings=settings)

    assert sandbox.requests()["model_lab.get_run"] == 0
    marked = rows(
        db_path, f"select count(*) from datadog.model_lab_runs where deleted_at is not null and id in {tuple(gone)}"
    )
    assert marked == [(8,)]


def test_a_server_that_refuses_lists_of_ids_gets_a_get_per_run(db_path: Path) -> None:
    with Sandbox(model_lab_runs=450, model_lab_id_lists=False) as box:
        settings = settings_for(box)
        sync(db_path, ["model_lab"], settings=settings)
        tracked = followed(box)
        box.advance(model_lab={"log_metrics": tracked[:3]})
        box.reset_requests()

        [result] = sync(db_path, ["model_lab"], settings=settings)

        assert box.requests()["model_lab.get_run"] >= len(tracked) - 100  # the first page held some of them
        assert [w for w in result.warnings if "filter[id]" in w and "its own GET" in w]
        assert_matches(db_path, box.model_lab.truth())


def test_runs_unfinished_for_weeks_are_left_to_the_full_refresh(sandbox: Sandbox, settings, db_path: Path) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    since = sandbox.clock.now_us() - 14 * 86400 * 1_000_000
    zombies = [r.id for r in sandbox.model_lab.runs.values() if r.status == "running" and r.updated_us < since][:3]
    assert len(zombies) == 3, "the seeded data should hold runs running for weeks"
    sandbox.advance(model_lab={"log_metrics": zombies})
    sandbox.reset_requests()

    sync(db_path, ["model_lab"], settings=settings)  # not followed: their metrics stay as they were

    truth = {int(r["id"]): r for r in sandbox.model_lab.truth()}

    def metrics_match(run_id: int) -> bool:
        want = {m["key"] for m in truth[run_id]["attributes"]["metric_summaries"]}
        return want == {
            k for (k,) in rows(db_path, f"select key from datadog.model_lab_run_metrics where run_id = {run_id}")
        }

    assert not any(metrics_match(run_id) for run_id in zombies)
    sync(db_path, ["model_lab"], settings=settings, full_refresh=True)
    assert all(metrics_match(run_id) for run_id in zombies)


def test_updates_replace_child_rows(sandbox: Sandbox, settings, db_path: Path) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    before = {r["id"]: r for r in sandbox.model_lab.truth()}
    changed = sandbox.advance(model_lab={"update": 40, "new": 5, "soft_delete": 3})["model_lab"]

    sync(db_path, ["model_lab"], settings=settings)

    truth = sandbox.model_lab.truth()
    assert_matches(db_path, truth)
    after = {r["id"]: r for r in truth}
    # An update removes one metric and adds one: the removed key must be gone from the table.
    removed = {
        (int(i), m["key"])
        for i in map(str, changed["update"])
        for m in before[i]["attributes"]["metric_summaries"]
        if m["key"] not in {n["key"] for n in after[i]["attributes"]["metric_summaries"]}
    }
    assert removed, "the sandbox update should have removed metrics"
    present = set(rows(db_path, "select run_id, key from datadog.model_lab_run_metrics"))
    assert not removed & present
    deleted = {r[0] for r in rows(db_path, "select id from datadog.model_lab_runs where deleted_at is not null")}
    assert set(changed["soft_delete"]) <= deleted


def test_children_go_when_a_run_loses_all_of_them(sandbox: Sandbox, settings, db_path: Path) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    target = next(
        int(r["id"])
        for r in sandbox.model_lab.truth()
        if r["attributes"]["metric_summaries"] and r["attributes"]["params"]
    )
    sandbox.advance(model_lab={"strip": [target]})

    sync(db_path, ["model_lab"], settings=settings)

    for table in ("model_lab_run_metrics", "model_lab_run_params", "model_lab_run_tags"):
        assert rows(db_path, f"select count(*) from datadog.{table} where run_id = {target}") == [(0,)]
        assert rows(db_path, f"select count(*) from datadog.{table} where _tombstone") == [(0,)]
    assert_matches(db_path, sandbox.model_lab.truth())


def test_update_during_full_load_loses_nothing(sandbox: Sandbox, db_path: Path) -> None:
    # No lag: the next sync must find the updates through the high-water mark alone.
    settings = settings_for(sandbox, lag_seconds=0)
    # Between the 2nd and 3rd page, runs on pages already read and not read yet are updated.
    oldest_first = sorted(sandbox.model_lab.runs.values(), key=lambda r: (r.created_us, r.id))
    targets = [oldest_first[i].id for i in (10, 120, 320, 440)]
    sandbox.after_requests("model_lab.list_runs", 3, model_lab={"update": targets, "new": 2})

    sync(db_path, ["model_lab"], settings=settings)
    first = {r[0] for r in rows(db_path, "select id from datadog.model_lab_runs")}
    assert {r.id for r in oldest_first} <= first  # nothing that existed before the sync was skipped

    sync(db_path, ["model_lab"], settings=settings)
    assert_matches(db_path, sandbox.model_lab.truth())


def test_hard_delete_during_full_load_is_detected_and_reread(sandbox: Sandbox, settings, db_path: Path) -> None:
    oldest_first = sorted(sandbox.model_lab.runs.values(), key=lambda r: (r.created_us, r.id))
    # Deleting an already-read run shifts every later row one slot up: one would be skipped.
    sandbox.after_requests("model_lab.list_runs", 3, model_lab={"hard_delete": [oldest_first[5].id]})

    [result] = sync(db_path, ["model_lab"], settings=settings)

    survivors = {int(r["id"]) for r in sandbox.model_lab.truth()}
    assert survivors <= {r[0] for r in rows(db_path, "select id from datadog.model_lab_runs")}
    assert not result.warnings


def test_full_refresh_removes_runs_deleted_upstream(sandbox: Sandbox, settings, db_path: Path) -> None:
    sync(db_path, ["model_lab"], settings=settings)
    gone = sandbox.advance(model_lab={"hard_delete": 7})["model_lab"]["hard_delete"]
    sync(db_path, ["model_lab"], settings=settings)
    assert len(rows(db_path, f"select id from datadog.model_lab_runs where id in ({','.join(map(str, gone))})")) == 7

    sync(db_path, ["model_lab"], settings=settings, full_refresh=True)

    assert_matches(db_path, sandbox.model_lab.truth())
    sandbox.reset_requests()
    sync(db_path, ["model_lab"], settings=settings)  # the state survived the refresh: incremental again
    assert sandbox.requests()["model_lab.list_runs"] <= 2


def test_run_ids_backfill_reads_only_those_runs(sandbox: Sandbox, settings, db_path: Path) -> None:
    ids = sorted(sandbox.model_lab.runs)[:3]

    [result] = sync(db_path, ["model_lab"], settings=settings, model_lab_run_ids=ids)

    assert sandbox.requests() == {"model_lab.get_run": 3}
    assert {r[0] for r in rows(db_path, "select id from datadog.model_lab_runs")} == set(ids)
    assert result.rows_loaded["datadog.model_lab_runs"] == 3


def test_filters_fan_out_per_project(sandbox: Sandbox, db_path: Path) -> None:
    [result] = sync(db_path, ["model_lab"], settings=settings_for(sandbox, project_ids=(482, 2438)))

    expected = [r for r in sandbox.model_lab.truth() if r["attributes"]["project_id"] in (482, 2438)]
    assert_matches(db_path, expected)
    assert set(result.cursors["model_lab_runs"]) == {
        "updated_at (filter[project_id]=2438)",
        "updated_at (filter[project_id]=482)",
        "unfinished runs followed",
    }


def test_recorded_live_responses_load(db_path: Path) -> None:
    with Sandbox(model_lab_recorded=True, langsmith_runs=10) as box:
        sync(db_path, ["model_lab"], settings=settings_for(box))
        assert_matches(db_path, box.model_lab.truth())
    counts = rows(
        db_path,
        """select (select count(*) from datadog.model_lab_runs),
        (select count(*) from datadog.model_lab_run_metrics), (select count(*) from datadog.model_lab_run_params),
        (select count(*) from datadog.model_lab_run_tags)""",
    )
    # The recordings (sandbox/recorded/): 25 + 1 runs, 174 + 22 metric summaries, 134 + 113 params, 133 + 5 tags.
    assert counts == [(26, 196, 247, 138)]
    # params: null on ten runs of project 482 means no params; completed runs without completed_at load.
    assert rows(
        db_path,
        "select count(*) from datadog.model_lab_runs r where project_id = 482 and not exists "
        "(select 1 from datadog.model_lab_run_params p where p.run_id = r.id)",
    ) == [(10,)]
    assert rows(
        db_path,
        "select count(*) from datadog.model_lab_runs where status = 'completed' and completed_at is null",
    ) == [(5,)]
    assert rows(db_path, "select count(*) from datadog.model_lab_run_metrics where stddev is not null") == [(0,)]
    assert rows(
        db_path,
        "select min, max, latest from datadog.model_lab_run_metrics "
        "where run_id = 71353 and key = 'system/completion_rate'",
    ) == [(1.0, 1.0, 0.0)]
    assert rows(db_path, "select epoch_us(created_at) % 1000000 from datadog.model_lab_runs where id = 71355") == [
        (387050,)
    ]


@pytest.mark.parametrize("status", [429, 503])
def test_transient_errors_are_retried(sandbox: Sandbox, settings, db_path: Path, status: int) -> None:
    sandbox.faults.add(kind="status", status=status, endpoint="model_lab.list_runs", count=2, after=1, retry_after=1)

    [result] = sync(db_path, ["model_lab"], settings=settings)

    assert result.retries == 2
    assert sandbox.requests()["model_lab.list_runs"] == 6 + 2
    assert_matches(db_path, sandbox.model_lab.truth())


def test_ids_stay_unique_over_many_syncs(sandbox: Sandbox, settings, db_path: Path) -> None:
    for step in range(6):
        sync(db_path, ["model_lab"], settings=settings, full_refresh=step == 4)
        sandbox.advance(
            model_lab={
                "update": 15,
                "new": 4,
                "finish": 3,
                "log_metrics": 2,
                "soft_delete": 1,
                "hard_delete": 1 if step % 2 else 0,
            }
        )
    sync(db_path, ["model_lab"], settings=settings, full_refresh=True)
    assert_matches(db_path, sandbox.model_lab.truth())
