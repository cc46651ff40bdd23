"""The sandbox's LLM Observability experimentation search, over real HTTP and through the official client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.api.agent_observability_api import AgentObservabilityApi
from datadog_api_client.v2.model.llm_obs_dataset_data_response import LLMObsDatasetDataResponse
from datadog_api_client.v2.model.llm_obs_dataset_record_data_response import LLMObsDatasetRecordDataResponse
from datadog_api_client.v2.model.llm_obs_experiment_data_attributes_response import (
    LLMObsExperimentDataAttributesResponse,
)
from datadog_api_client.v2.model.llm_obs_experiment_run_data_response import LLMObsExperimentRunDataResponse
from datadog_api_client.v2.model.llm_obs_experiment_status import LLMObsExperimentStatus
from datadog_api_client.v2.model.llm_obs_experimentation_cursor_page import LLMObsExperimentationCursorPage
from datadog_api_client.v2.model.llm_obs_experimentation_filter import LLMObsExperimentationFilter
from datadog_api_client.v2.model.llm_obs_experimentation_include import LLMObsExperimentationInclude
from datadog_api_client.v2.model.llm_obs_experimentation_search_data_attributes_request import (
    LLMObsExperimentationSearchDataAttributesRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_search_data_request import (
    LLMObsExperimentationSearchDataRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_search_request import (
    LLMObsExperimentationSearchRequest,
)
from datadog_api_client.v2.model.llm_obs_experimentation_search_response import (
    LLMObsExperimentationSearchResponse,
)
from datadog_api_client.v2.model.llm_obs_experimentation_type import LLMObsExperimentationType
from datadog_api_client.v2.model.llm_obs_project_data_response import LLMObsProjectDataResponse

from sandbox import Sandbox
from sandbox.llm_obs import SCOPES

PATH = "/api/v2/llm-obs/v1/experimentation/search"
SMALL = {"model_lab_runs": 10, "langsmith_runs": 10, "llm_obs_projects": 2, "llm_obs_records_per_dataset": 30}
HTTP = httpx.Client(timeout=10)  # one keep-alive client: a new one per request costs ~10 ms
EVERYTHING = {"filter": {"scope": list(SCOPES), "include_deleted": True}, "include": {"user_data": True}}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A sandbox the read-only tests share; tests that change data start their own."""
    with Sandbox(**SMALL) as sandbox:
        yield sandbox


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture(scope="module")
def scratch() -> Iterator[Sandbox]:
    """A sandbox whose data tests change; each such test checks only what it changed."""
    with Sandbox(**SMALL) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def with_ids() -> Iterator[Sandbox]:
    with Sandbox(**SMALL, experiment_ids=True) as sandbox:
        yield sandbox


def post(sb: Sandbox, body: Any) -> httpx.Response:
    headers = {"DD-API-KEY": sb.config.datadog_api_key, "DD-APPLICATION-KEY": sb.config.datadog_app_key}
    if isinstance(body, bytes):
        return HTTP.post(sb.url + PATH, content=body, headers=headers)
    return HTTP.post(sb.url + PATH, json=body, headers=headers)


def request(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "experimentation", "attributes": attributes}}


def walk(
    sb: Sandbox, attributes: dict[str, Any], limit: int, cursor: str | None = None
) -> tuple[dict[str, list[dict]], list[httpx.Response]]:
    """Follow meta.after to the end; returns the items per scope and every response."""
    collected: dict[str, list[dict]] = {}
    responses = []
    while True:
        page = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = post(sb, request({**attributes, "page": page}))
        assert response.status_code in (200, 206), response.text
        responses.append(response)
        for scope, items in response.json()["data"]["attributes"].items():
            collected.setdefault(scope, []).extend(items)
        cursor = response.json()["meta"].get("after")
        if response.status_code == 200:
            assert cursor is None
            return collected, responses
        assert cursor


def ident(scope: str, item: dict[str, Any]) -> str:
    """Experiments carry no id by default: name them by their (unique) name."""
    return item["name"] if scope == "experiments" and "id" not in item else item["id"]


def sort_time(scope: str, item: dict[str, Any]) -> datetime:
    attributes = item.get("attributes", item)
    return datetime.fromisoformat(attributes["created_at" if scope == "experiment_runs" else "updated_at"])


def deleted_ids(sb: Sandbox, scope: str) -> set[str]:
    return {e.id for e in sb.llm_obs.entities[scope].values() if e.deleted_us is not None}


# -- paging -----------------------------------------------------------------------------------


def test_paging_all_scopes_with_a_small_limit_collects_exactly_the_truth(sb: Sandbox) -> None:
    collected, responses = walk(sb, EVERYTHING, limit=7)
    assert collected == sb.llm_obs.truth()
    assert len(responses) > 20
    assert [r.status_code for r in responses] == [206] * (len(responses) - 1) + [200]
    assert responses[-1].json()["meta"] == {}
    sizes = [sum(map(len, r.json()["data"]["attributes"].values())) for r in responses]
    assert set(sizes[:-1]) == {7} and 1 <= sizes[-1] <= 7
    for response in responses:  # every requested scope is present on every page, in the fixed order
        assert list(response.json()["data"]["attributes"]) == list(SCOPES)
        assert response.json()["data"]["type"] == "experimentation"


@pytest.mark.parametrize("scope", SCOPES)
def test_each_scope_pages_alone_newest_first(sb: Sandbox, scope: str) -> None:
    collected, responses = walk(sb, {**EVERYTHING, "filter": {"scope": [scope], "include_deleted": True}}, limit=4)
    assert list(collected) == [scope]
    assert collected[scope] == sb.llm_obs.truth()[scope]
    keys = [(sort_time(scope, item), item.get("id", "")) for item in collected[scope]]
    assert len(keys) == len(set(keys)) and len(responses) >= 1
    assert keys == sorted(keys, reverse=True) or scope == "experiments"  # experiments have no id to break ties
    assert [t for t, _ in keys] == sorted((t for t, _ in keys), reverse=True)


def test_one_page_when_everything_fits(sb: Sandbox) -> None:
    response = post(sb, request({"filter": {"scope": ["projects", "datasets"]}, "page": {"limit": 1000}}))
    assert response.status_code == 200
    assert "after" not in response.json()["meta"]
    assert set(response.json()["data"]["attributes"]) == {"projects", "datasets"}


def test_default_page_limit_is_100(sb: Sandbox) -> None:
    response = post(sb, request({"filter": {"scope": ["dataset_records"]}}))
    assert response.status_code == 206
    assert len(response.json()["data"]["attributes"]["dataset_records"]) == 100


def test_a_cursor_survives_inserts_and_updates_between_pages(scratch: Sandbox) -> None:
    sb = scratch
    attributes = {"filter": {"scope": ["dataset_records"], "include_deleted": True}}
    before = sb.llm_obs.truth()["dataset_records"]
    first = post(sb, request({**attributes, "page": {"limit": 10}}))
    assert first.json()["data"]["attributes"]["dataset_records"] == before[:10]
    changed = sb.advance(llm_obs={"new_records": 5, "update": 30, "hard_delete": 3})["llm_obs"]
    gone = set(changed["update"]) | set(changed["hard_delete"])
    rest, _ = walk(sb, attributes, limit=10, cursor=first.json()["meta"]["after"])
    expected = [item["id"] for item in before[10:] if item["id"] not in gone]
    assert [item["id"] for item in rest["dataset_records"]] == expected


# -- filters and options ----------------------------------------------------------------------


def test_deleted_entities_by_filter(scratch: Sandbox) -> None:
    sb = scratch
    sb.advance(llm_obs={"soft_delete": 40})
    truth = sb.llm_obs.truth()
    live, _ = walk(sb, {"filter": {"scope": list(SCOPES)}}, limit=50)
    only, _ = walk(sb, {"filter": {"scope": list(SCOPES), "is_deleted": True, "include_deleted": True}}, 50)
    both, _ = walk(sb, {"filter": {"scope": list(SCOPES), "include_deleted": True}}, limit=50)
    assert sum(len(deleted_ids(sb, scope)) for scope in SCOPES) >= 40
    for scope in SCOPES:
        deleted = deleted_ids(sb, scope)
        all_ids = {item["id"] for item in truth[scope] if "id" in item}
        if scope != "experiments":
            assert {item["id"] for item in live[scope]} == all_ids - deleted
            assert {item["id"] for item in only[scope]} == deleted
        assert len(both[scope]) == len(truth[scope])
        assert len(live[scope]) + len(only[scope]) == len(truth[scope])
    assert all("deleted_at" in item for item in only["experiments"])
    assert not any("deleted_at" in item for item in live["experiments"])
    for scope in ("projects", "datasets", "dataset_records", "experiment_runs"):
        assert not any("deleted_at" in item.get("attributes", item) for item in both[scope])


def test_user_data_toggles_author(sb: Sandbox) -> None:
    without = post(sb, request({"filter": {"scope": ["experiments"]}, "page": {"limit": 1000}})).json()
    assert without["data"]["attributes"]["experiments"]
    assert not any("author" in e for e in without["data"]["attributes"]["experiments"])
    body = request({"filter": {"scope": ["experiments"]}, "include": {"user_data": True}, "page": {"limit": 1000}})
    authors = [e["author"] for e in post(sb, body).json()["data"]["attributes"]["experiments"]]
    assert authors and all(set(a) == {"email", "handle", "icon", "id", "name"} for a in authors)


def test_experiments_have_no_id_unless_configured(with_ids: Sandbox, sb: Sandbox) -> None:
    experiments = sb.llm_obs.truth()["experiments"]
    assert experiments and not any("id" in e for e in experiments)
    truth = with_ids.llm_obs.truth()
    ids = {e["id"] for e in truth["experiments"]}
    assert len(ids) == len(truth["experiments"])
    assert {run["experiment_id"] for run in truth["experiment_runs"]} <= ids
    parents = {e["parent_experiment_id"] for e in truth["experiments"] if "parent_experiment_id" in e}
    assert parents and parents <= ids


def test_experiment_fields_follow_the_reference(sb: Sandbox) -> None:
    experiments = sb.llm_obs.truth()["experiments"]
    required = {
        "config",
        "created_at",
        "dataset_id",
        "description",
        "metadata",
        "name",
        "project_id",
        "updated_at",
    }
    datasets = {d["id"]: d for d in sb.llm_obs.truth()["datasets"]}
    projects = {p["id"] for p in sb.llm_obs.truth()["projects"]}
    for e in experiments:
        assert required <= set(e)
        assert e["status"] in ("running", "completed", "failed", "interrupted")
        assert ("error" in e) == (e["status"] == "failed")
        assert e["dataset_id"] in datasets and e["project_id"] in projects
        assert 1 <= e["dataset_version"] <= datasets[e["dataset_id"]]["attributes"]["current_version"]
        assert e["run_count"] >= 1 and isinstance(e["experiment"], str)
    assert any(e["aggregate_data"] is None for e in experiments) or any(e["config"] is None for e in experiments)
    runs = sb.llm_obs.truth()["experiment_runs"]
    assert all(set(run) == {"aggregate_data", "created_at", "experiment_id", "id", "run_number"} for run in runs)


def test_content_preview_truncates_every_string(sb: Sandbox) -> None:
    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)

    truth = sb.llm_obs.truth()["dataset_records"]
    assert max(len(r["input"]) for r in truth if isinstance(r["input"], str)) > 2000
    scope = {"scope": ["dataset_records"], "include_deleted": True}
    body = request({"filter": scope, "content_preview": {"limit": 12}, "page": {"limit": 1000}})
    records = post(sb, body).json()["data"]["attributes"]["dataset_records"]
    assert len(records) == len(truth)
    for full, cut in zip(truth, records, strict=True):
        for field in ("input", "expected_output"):
            assert list(strings(cut[field])) == [s[:12] for s in strings(full[field])]
        assert cut["metadata"] == full["metadata"]


def test_every_json_shape_appears_in_input_and_expected_output(sb: Sandbox) -> None:
    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, (dict, list)):
            return f"{type(value).__name__}{'' if value else ' (empty)'}"
        return "null" if value is None else type(value).__name__

    records = sb.llm_obs.truth()["dataset_records"]
    everything = {"str", "int", "float", "dict", "dict (empty)", "list", "list (empty)", "bool"}
    assert {kind(r["input"]) for r in records} >= everything
    assert {kind(r["expected_output"]) for r in records} >= everything | {"null"}
    assert any(isinstance(r["input"], dict) and "🚀" in str(r["input"]) for r in records)
    assert {kind(r["metadata"]) for r in records} >= {"dict", "dict (empty)", "null"}


def test_query_filters_names_and_record_input(sb: Sandbox) -> None:
    body = request({"filter": {"scope": list(SCOPES), "query": "SUPPORT-bot"}, "page": {"limit": 1000}})
    found = post(sb, body).json()["data"]["attributes"]
    assert [p["attributes"]["name"] for p in found["projects"]] == ["support-bot"]
    assert found["experiment_runs"]  # not filtered by the query
    body = request({"filter": {"scope": ["dataset_records"], "query": "REFUND"}, "page": {"limit": 1000}})
    records = post(sb, body).json()["data"]["attributes"]["dataset_records"]
    assert records and all("refund" in str(r["input"]).lower() for r in records)


def test_version_filters_records_only(sb: Sandbox) -> None:
    def count(version: int | None) -> dict[str, int]:
        flt = {"scope": ["datasets", "dataset_records"], "version": version}
        found = post(sb, request({"filter": flt, "page": {"limit": 1000}})).json()["data"]["attributes"]
        return {scope: len(items) for scope, items in found.items()}

    everything, first, none = count(None), count(1), count(0)
    assert everything["datasets"] == first["datasets"] == none["datasets"]
    assert everything["dataset_records"] > first["dataset_records"] > none["dataset_records"] == 0


# -- validation -------------------------------------------------------------------------------

FILTER = "/data/attributes/filter"
PROJECTS = {"filter": {"scope": ["projects"]}}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b"{not json", None),
        ([1, 2], None),
        ({}, "/data"),
        ({"data": {"type": "experiments", "attributes": {"filter": {"scope": ["projects"]}}}}, "/data/type"),
        ({"data": {"type": "experimentation"}}, "/data/attributes"),
        (request({}), FILTER),
        (request({"filter": {}}), f"{FILTER}/scope"),
        (request({"filter": {"scope": []}}), f"{FILTER}/scope"),
        (request({"filter": {"scope": "projects"}}), f"{FILTER}/scope"),
        (request({"filter": {"scope": ["projects", "spans"]}}), f"{FILTER}/scope"),
        (request({**PROJECTS, "page": {"limit": 0}}), "/data/attributes/page/limit"),
        (request({**PROJECTS, "page": {"limit": 1001}}), "/data/attributes/page/limit"),
        (request({**PROJECTS, "page": {"limit": "10"}}), "/data/attributes/page/limit"),
        (request({**PROJECTS, "content_preview": {"limit": 0}}), "/data/attributes/content_preview/limit"),
        (request({**PROJECTS, "content_preview": {"limit": 2.5}}), "/data/attributes/content_preview/limit"),
        (request({**PROJECTS, "page": {"cursor": "%%%"}}), "/data/attributes/page/cursor"),
        (request({**PROJECTS, "page": {"cursor": "WzEsMl0"}}), "/data/attributes/page/cursor"),
        (request({"filter": {"scope": ["projects"], "version": "2"}}), f"{FILTER}/version"),
        (request({"filter": {"scope": ["projects"], "version": True}}), f"{FILTER}/version"),
    ],
)  # fmt: skip
def test_invalid_requests_get_a_json_api_400(sb: Sandbox, body: Any, pointer: str | None) -> None:
    response = post(sb, body)
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["status"] == "400" and error["title"] == "Bad Request" and error["detail"]
    assert error.get("source", {}).get("pointer") == pointer


def test_a_cursor_from_another_search_is_rejected(sb: Sandbox) -> None:
    first = post(sb, request({"filter": {"scope": ["dataset_records"]}, "page": {"limit": 5}}))
    other = request(
        {
            "filter": {"scope": ["dataset_records"], "query": "x"},
            "page": {"cursor": first.json()["meta"]["after"]},
        }
    )
    response = post(sb, other)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": "/data/attributes/page/cursor"}


# -- change over time -------------------------------------------------------------------------


def test_advance_shows_up_in_search(scratch: Sandbox) -> None:
    sb = scratch
    before = sb.llm_obs.truth()
    changes = {"new_records": 4, "update": 12, "soft_delete": 3, "hard_delete": 3, "new_experiments": 2,
               "bump_dataset_version": 1}  # fmt: skip
    changed = sb.advance(llm_obs=changes)["llm_obs"]
    after, _ = walk(sb, EVERYTHING, limit=25)
    assert after == sb.llm_obs.truth()
    assert len(changed["update"]) == 12 and len(changed["hard_delete"]) == 3
    assert len(changed["new_experiments"]) == 2 and changed["new_experiment_runs"]
    assert 5 <= len(changed["new_records"]) <= 9
    records = {r["id"]: r for r in after["dataset_records"]}
    newest = [r["id"] for r in after["dataset_records"][: len(changed["new_records"])]]
    assert sorted(newest) == sorted(changed["new_records"])
    assert all(records[i]["created_at"] == records[i]["updated_at"] for i in newest)
    runs = {r["id"] for r in after["experiment_runs"]}
    assert set(changed["new_experiment_runs"]) <= runs
    all_after = {item.get("id") for items in after.values() for item in items}
    assert not set(changed["hard_delete"]) & all_after
    (bumped,) = changed["bump_dataset_version"]
    version = {d["id"]: d["attributes"]["current_version"] for d in before["datasets"]}[bumped]
    dataset = next(d for d in after["datasets"] if d["id"] == bumped)
    assert dataset["attributes"]["current_version"] == version + 1
    assert after["datasets"][0]["id"] == bumped
    newest_experiments = after["experiments"][:2]
    assert {e["status"] for e in newest_experiments} == {"running"}
    live_updated = set(changed["update"]) - set(changed["hard_delete"]) - set(changed["soft_delete"])
    now = max(sort_time(s, item) for s, items in before.items() for item in items)
    for scope, items in after.items():
        for item in items:
            if item.get("id") in live_updated:
                assert sort_time(scope, item) > now


# -- the official client ----------------------------------------------------------------------


@contextmanager
def official_client(sb: Sandbox, *, with_status: bool = False) -> Iterator[AgentObservabilityApi]:
    """The official client pointed at the sandbox; ``with_status`` returns (model, status, headers)."""
    cfg = Configuration(host=sb.url)
    cfg.api_key["apiKeyAuth"] = sb.config.datadog_api_key
    cfg.api_key["appKeyAuth"] = sb.config.datadog_app_key
    # 2.62.0 raises KeyError for "v2.search_llm_obs_experimentation": its setter wants the bare name.
    cfg.unstable_operations["search_llm_obs_experimentation"] = True
    cfg.return_http_data_only = not with_status
    with ApiClient(cfg) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Using unstable operation"
        yield AgentObservabilityApi(client)


@pytest.fixture
def api(sb: Sandbox) -> Iterator[AgentObservabilityApi]:
    with official_client(sb, with_status=True) as client:
        yield client


def client_request(scopes: list[str], *, limit: int, cursor: str | None = None) -> LLMObsExperimentationSearchRequest:
    page = LLMObsExperimentationCursorPage(limit=limit, **({"cursor": cursor} if cursor else {}))
    attributes = LLMObsExperimentationSearchDataAttributesRequest(
        filter=LLMObsExperimentationFilter(scope=scopes, include_deleted=True),
        include=LLMObsExperimentationInclude(user_data=True),
        page=page,
    )
    return LLMObsExperimentationSearchRequest(
        data=LLMObsExperimentationSearchDataRequest(
            type=LLMObsExperimentationType.EXPERIMENTATION, attributes=attributes
        )
    )


def test_official_client_pages_all_five_scopes_into_typed_models(sb: Sandbox, api: AgentObservabilityApi) -> None:
    truth = sb.llm_obs.truth()
    collected: dict[str, list[Any]] = {scope: [] for scope in SCOPES}
    statuses, cursor = [], None
    while True:
        response, status, _ = api.search_llm_obs_experimentation(client_request(list(SCOPES), limit=60, cursor=cursor))
        assert isinstance(response, LLMObsExperimentationSearchResponse)
        statuses.append(status)
        for scope in SCOPES:
            collected[scope].extend(getattr(response.data.attributes, scope))
        cursor = response.meta.get("after")
        if cursor is None:
            break
    assert statuses[0] == 206 and statuses[-1] == 200 and set(statuses[:-1]) == {206}

    models = {"projects": LLMObsProjectDataResponse, "datasets": LLMObsDatasetDataResponse,
              "dataset_records": LLMObsDatasetRecordDataResponse,
              "experiments": LLMObsExperimentDataAttributesResponse,
              "experiment_runs": LLMObsExperimentRunDataResponse}  # fmt: skip
    for scope in SCOPES:
        assert len(collected[scope]) == len(truth[scope])
        assert all(isinstance(item, models[scope]) for item in collected[scope])
    for model, raw in zip(collected["projects"], truth["projects"], strict=True):
        assert (model.id, model.type.value, model.attributes.name) == (
            raw["id"],
            "projects",
            raw["attributes"]["name"],
        )
        assert isinstance(model.attributes.created_at, datetime)
    for model, raw in zip(collected["datasets"], truth["datasets"], strict=True):
        assert model.attributes.current_version == raw["attributes"]["current_version"]
        assert model.attributes.metadata == raw["attributes"]["metadata"]
    for model, raw in zip(collected["experiments"], truth["experiments"], strict=True):
        assert not model._unparsed
        assert isinstance(model.status, LLMObsExperimentStatus) and model.status.value == raw["status"]
        assert (model.name, model.dataset_id, model.author.email) == (
            raw["name"],
            raw["dataset_id"],
            raw["author"]["email"],
        )
        assert model.get("deleted_at") == (datetime.fromisoformat(raw["deleted_at"]) if "deleted_at" in raw else None)
    for model, raw in zip(collected["experiment_runs"], truth["experiment_runs"], strict=True):
        assert (model.id, model.experiment_id, model.run_number) == (
            raw["id"],
            raw["experiment_id"],
            raw["run_number"],
        )
        assert model.aggregate_data == raw["aggregate_data"]
    for model, raw in zip(collected["dataset_records"], truth["dataset_records"], strict=True):
        assert (model.id, model.dataset_id) == (raw["id"], raw["dataset_id"])
        # Client 2.62.0 cannot type a top-level {} (it matches both AnyValueObject and the array
        # branch of AnyValue's oneOf), so it marks such records unparsed; all others parse.
        assert model._unparsed == ({} in (raw["input"], raw["expected_output"]))
        if not model._unparsed and isinstance(raw["input"], (str, bool)):
            assert model.input == raw["input"]
        if not model._unparsed and type(raw["input"]) in (int, float):
            assert model.input == pytest.approx(float(raw["input"]))


def test_official_client_accepts_experiment_ids_when_sent(with_ids: Sandbox) -> None:
    with official_client(with_ids) as client:
        response = client.search_llm_obs_experimentation(client_request(["experiments"], limit=1000))
    truth = with_ids.llm_obs.truth()["experiments"]
    assert [e.id for e in response.data.attributes.experiments] == [e["id"] for e in truth]


def test_official_client_raises_on_400(api: AgentObservabilityApi) -> None:
    with pytest.raises(ApiException) as raised:
        api.search_llm_obs_experimentation(client_request(["projects", "prompts"], limit=10))
    assert raised.value.status == 400
    assert raised.value.body["errors"][0]["source"] == {"pointer": "/data/attributes/filter/scope"}
