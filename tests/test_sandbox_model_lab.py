"""The sandbox's Model Lab endpoints, checked against the official client and the live recordings."""

from __future__ import annotations

import json

import httpx
import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, NotFoundException
from datadog_api_client.v2.api.model_lab_api_api import ModelLabAPIApi

from sandbox import RECORDED_DIR, Sandbox


def official_client(box: Sandbox) -> ModelLabAPIApi:
    config = Configuration(host=box.url)
    config.api_key["apiKeyAuth"] = box.config.datadog_api_key
    config.api_key["appKeyAuth"] = box.config.datadog_app_key
    for operation in ("list_model_lab_runs", "get_model_lab_run"):
        config.unstable_operations[operation] = True
    return ModelLabAPIApi(ApiClient(config))


def _body(exc: ApiException) -> dict:
    return exc.body if isinstance(exc.body, dict) else json.loads(exc.body)


def test_official_client_reads_every_page_and_run(sandbox: Sandbox) -> None:
    api = official_client(sandbox)
    seen: list[str] = []
    number = None
    while True:
        kwargs = {"page_size": 100, "sort": "-updated_at"} | ({"page_number": number} if number is not None else {})
        page = api.list_model_lab_runs(**kwargs)
        seen += [run.id for run in page.data]
        for run in page.data:
            assert run.attributes.updated_at.tzinfo is not None
            for summary in run.attributes.metric_summaries:
                assert isinstance(summary.count, int)
        next_number = page.meta.page.get("next_number")
        if next_number is None:
            break
        number = next_number
    truth = sandbox.model_lab.truth()
    assert sorted(seen) == sorted(r["id"] for r in truth)
    assert page.meta.page.number == 4  # pages count from 0, as live

    run = api.get_model_lab_run(run_id=int(truth[0]["id"]))
    assert run.data.id == truth[0]["id"]
    with pytest.raises(NotFoundException) as missing:
        api.get_model_lab_run(run_id=1)
    assert _body(missing.value) == {"errors": [{"title": "Generic Error", "detail": "run not found"}]}


def test_official_client_gets_documented_400(sandbox: Sandbox) -> None:
    with pytest.raises(ApiException) as bad:
        official_client(sandbox).list_model_lab_runs(sort="owner")
    assert bad.value.status == 400
    assert _body(bad.value)["errors"][0]["source"] == {"parameter": "sort"}


def test_first_page_is_shaped_like_the_live_recording() -> None:
    recorded = json.loads((RECORDED_DIR / "model-lab-list-runs.json").read_text())["response"]["body"]
    with Sandbox(model_lab_runs=60, langsmith_runs=10) as box:
        response = httpx.get(
            f"{box.url}/api/v2/model-lab-api/runs",
            headers={
                "DD-API-KEY": box.config.datadog_api_key,
                "DD-APPLICATION-KEY": box.config.datadog_app_key,
            },
        )
    body = response.json()
    assert list(body["meta"]["page"]) == list(recorded["meta"]["page"])
    assert {
        k: body["meta"]["page"][k] for k in ("type", "number", "size", "first_number", "prev_number", "next_number")
    } == {
        "type": "number_size",
        "number": 0,
        "size": 25,
        "first_number": 0,
        "prev_number": None,
        "next_number": 1,
    }
    assert set(body["links"]) == set(recorded["links"])  # no "prev" on the first page
    assert body["links"]["next"].startswith("https://api.datad0g.com/")
    stamps = [run["attributes"]["updated_at"] for run in body["data"]]
    assert stamps == sorted(stamps, reverse=True)  # default order: updated_at descending


def test_recorded_runs_are_served_verbatim() -> None:
    recorded = json.loads((RECORDED_DIR / "model-lab-get-run.json").read_text())["response"]["body"]
    with Sandbox(model_lab_recorded=True, langsmith_runs=10) as box:
        response = httpx.get(
            f"{box.url}/api/v2/model-lab-api/runs/70158",
            headers={
                "DD-API-KEY": box.config.datadog_api_key,
                "DD-APPLICATION-KEY": box.config.datadog_app_key,
            },
        )
    assert response.json() == recorded


def test_auth_and_validation(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/api/v2/model-lab-api/runs"
    assert httpx.get(url).status_code == 403
    assert httpx.get(url, headers={"DD-API-KEY": sandbox.config.datadog_api_key}).json() == {"errors": ["Forbidden"]}
    headers = {
        "DD-API-KEY": sandbox.config.datadog_api_key,
        "DD-APPLICATION-KEY": sandbox.config.datadog_app_key,
    }
    for query in (
        "page[size]=101",
        "page[size]=0",
        "page[number]=-1",
        "filter[status]=done",
        "sort=-owner",
        "filter[project_id]=x",
    ):
        response = httpx.get(f"{url}?{query}", headers=headers)
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["title"] == "Bad Request"
    response = httpx.get(url, headers=headers)
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-name"} <= set(
        response.headers
    )


def test_filters(sandbox: Sandbox) -> None:
    headers = {
        "DD-API-KEY": sandbox.config.datadog_api_key,
        "DD-APPLICATION-KEY": sandbox.config.datadog_app_key,
    }
    url = f"{sandbox.url}/api/v2/model-lab-api/runs"
    truth = sandbox.model_lab.truth()
    running = httpx.get(url, params={"filter[status]": "running", "page[size]": 100}, headers=headers).json()
    assert running["meta"]["page"]["total"] == sum(r["attributes"]["status"] == "running" for r in truth)
    one = truth[3]
    tag = next(t for t in one["attributes"]["tags"] if t["key"] == "team")
    by_tag = httpx.get(
        url, params={"filter[tags]": f"team:{tag['value']}", "filter[id]": one["id"]}, headers=headers
    ).json()
    assert [r["id"] for r in by_tag["data"]] == [one["id"]]
