"""The sandbox's LLM Observability patterns runs endpoint, over real HTTP and through the official client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from typing import Any

import httpx
import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi
from datadog_api_client.v2.model.llm_obs_patterns_config_snapshot import LLMObsPatternsConfigSnapshot
from datadog_api_client.v2.model.llm_obs_patterns_run_summary import LLMObsPatternsRunSummary
from datadog_api_client.v2.model.llm_obs_patterns_runs_response import LLMObsPatternsRunsResponse

from sandbox import Sandbox

PATH = "/api/v2/llm-obs/v1/topic-discovery-runs"
SNAPSHOT_FIELDS = {"account_id", "evp_query", "hierarchy_depth", "integration_provider", "model_name",
                   "num_records", "sampling_ratio"}  # fmt: skip
SMALL = {"model_lab_runs": 10, "langsmith_runs": 10, "llm_obs_projects": 2, "llm_obs_records_per_dataset": 30}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # Enough configurations that the rarer cases (a field left out of one snapshot) occur.
    with Sandbox(**SMALL, topic_configs=12) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def get(sb: Sandbox, http: httpx.Client, **params: str) -> httpx.Response:
    headers = {"DD-API-KEY": sb.config.datadog_api_key, "DD-APPLICATION-KEY": sb.config.datadog_app_key}
    return http.get(sb.url + PATH, params=params, headers=headers)


def test_each_configuration_lists_its_runs_newest_first(sb: Sandbox, http: httpx.Client) -> None:
    truth = sb.patterns.truth()
    assert list(truth) == sb.patterns.config_ids() and len(truth) == 12
    for config_id, runs in truth.items():
        response = get(sb, http, config_id=config_id)
        assert response.status_code == 200
        body = response.json()
        assert body == {"data": {"id": config_id, "type": "list_topic_discovery_runs_response",
                                 "attributes": {"runs": runs}}}  # fmt: skip
        assert 3 <= len(runs) <= 8
        created = [datetime.fromisoformat(run["created_at"]) for run in runs]
        assert created == sorted(created, reverse=True)
        for run in runs:
            assert set(run) == {"completed_at", "config_snapshot", "created_at", "id", "status"}
            assert run["status"] == "completed"
            assert datetime.fromisoformat(run["completed_at"]) > datetime.fromisoformat(run["created_at"])
            assert set(run["config_snapshot"]) <= SNAPSHOT_FIELDS
            assert all(v is not None for v in run["config_snapshot"].values())


def test_snapshots_change_between_runs(sb: Sandbox) -> None:
    changed_fields: set[str] = set()
    for runs in sb.patterns.truth().values():
        snapshots = [run["config_snapshot"] for run in reversed(runs)]
        diffs = [_diff(a, b) for a, b in pairwise(snapshots)]
        assert any(diffs), "every configuration changes at least once"
        changed_fields.update(*diffs)
    assert {"model_name", "sampling_ratio", "num_records", "evp_query"} <= changed_fields
    all_snapshots = [run["config_snapshot"] for runs in sb.patterns.truth().values() for run in runs]
    managed = [s for s in all_snapshots if "integration_provider" not in s]
    assert managed and len(managed) < len(all_snapshots)  # bring-your-own-model fields come and go
    core = {"evp_query", "hierarchy_depth", "num_records", "sampling_ratio"}
    assert any(not core <= set(s) for s in all_snapshots)  # now and then a field is left out


def _diff(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


@pytest.mark.parametrize("params", [{}, {"config_id": ""}])
def test_missing_config_id_is_a_400(sb: Sandbox, http: httpx.Client, params: dict[str, str]) -> None:
    response = get(sb, http, **params)
    assert response.status_code == 400
    assert response.json() == {"errors": [{"status": "400", "title": "Bad Request",
                                           "detail": "missing required query parameter: config_id",
                                           "source": {"parameter": "config_id"}}]}  # fmt: skip


def test_unknown_config_id_is_a_404(sb: Sandbox, http: httpx.Client) -> None:
    response = get(sb, http, config_id="00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    (error,) = response.json()["errors"]
    assert error["status"] == "404" and error["source"] == {"parameter": "config_id"}
    assert "00000000-0000-0000-0000-000000000000" in error["detail"]


def test_keys_are_required(sb: Sandbox, http: httpx.Client) -> None:
    response = http.get(sb.url + PATH, params={"config_id": sb.patterns.config_ids()[0]})
    assert response.status_code == 403


def test_advance_adds_runs_on_top(http: httpx.Client) -> None:
    with Sandbox(**SMALL, topic_configs=3) as sb:
        before = sb.patterns.truth()
        changed = sb.advance(patterns={"new_runs": 7})["patterns"]
        assert len(changed["new_runs"]) == 7 and set(changed["snapshot_changed"]) <= set(changed["new_runs"])
        after = {config_id: get(sb, http, config_id=config_id).json()["data"]["attributes"]["runs"]
                 for config_id in sb.patterns.config_ids()}  # fmt: skip
        assert after == sb.patterns.truth()
        added = {run["id"] for runs in after.values() for run in runs} - {
            run["id"] for runs in before.values() for run in runs
        }
        assert added == set(changed["new_runs"])
        for config_id, runs in after.items():
            new = len(runs) - len(before[config_id])
            assert new in (2, 3)  # spread round-robin over the three configurations
            assert runs[new:] == before[config_id] and {r["id"] for r in runs[:new]} <= added
            for older, newer in zip(runs[1 : new + 1], runs[:new], strict=True):
                changed_here = newer["id"] in changed["snapshot_changed"]
                full = sb.patterns.configs[config_id]
                snapshot = {run.id: run.snapshot for run in full}
                assert (snapshot[older["id"]] != snapshot[newer["id"]]) == changed_here


# -- the official client ----------------------------------------------------------------------


@pytest.fixture
def api(sb: Sandbox) -> Iterator[AgentObservabilityApi]:
    cfg = Configuration(host=sb.url)
    cfg.api_key["apiKeyAuth"] = sb.config.datadog_api_key
    cfg.api_key["appKeyAuth"] = sb.config.datadog_app_key
    # 2.62.0 raises KeyError for "v2.list_llm_obs_patterns_runs": its setter wants the bare name.
    cfg.unstable_operations["list_llm_obs_patterns_runs"] = True
    with ApiClient(cfg) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Using unstable operation"
        yield AgentObservabilityApi(client)


def test_official_client_reads_typed_runs(sb: Sandbox, api: AgentObservabilityApi) -> None:
    for config_id, runs in sb.patterns.truth().items():
        response = api.list_llm_obs_patterns_runs(config_id=config_id)
        assert isinstance(response, LLMObsPatternsRunsResponse) and not response._unparsed
        assert response.data.id == config_id
        assert response.data.type.value == "list_topic_discovery_runs_response"
        assert len(response.data.attributes.runs) == len(runs)
        for model, raw in zip(response.data.attributes.runs, runs, strict=True):
            assert isinstance(model, LLMObsPatternsRunSummary)
            assert (model.id, model.status) == (raw["id"], "completed")
            assert model.created_at == datetime.fromisoformat(raw["created_at"])
            assert model.completed_at == datetime.fromisoformat(raw["completed_at"])
            assert isinstance(model.config_snapshot, LLMObsPatternsConfigSnapshot)
            assert model.config_snapshot.to_dict() == raw["config_snapshot"]


def test_official_client_raises_for_unknown_and_missing_config(api: AgentObservabilityApi) -> None:
    with pytest.raises(NotFoundException) as raised:
        api.list_llm_obs_patterns_runs(config_id="00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404
    with pytest.raises(ApiException) as raised:
        api.list_llm_obs_patterns_runs(config_id="")
    assert raised.value.status == 400
    assert raised.value.body["errors"][0]["source"] == {"parameter": "config_id"}
