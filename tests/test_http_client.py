"""The shared HTTP client against the sandbox: retries, server wait hints, pacing, error mapping, redaction."""

from __future__ import annotations

import gc
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox import Sandbox
from sources.datadog.client import make_client
from sources.errors import ConfigError, CredentialsError, TransientError, UpstreamError, redact
from sources.http_client import RateLimitPacer, RetryPolicy, SourceStats, validate_base_url

LIST = "/api/v2/model-lab-api/runs"
FAST = RetryPolicy(attempts=4, wait_initial_s=0.01, wait_max_s=0.05)


def client_for(box: Sandbox, *, api_key: str | None = None, retry: RetryPolicy = FAST, timeout_s: float = 10):
    client = make_client(
        api_key=api_key or box.config.datadog_api_key,
        app_key=box.config.datadog_app_key,
        base_url=box.url,
        site="datadoghq.com",
        pacer=RateLimitPacer(),
        stats=SourceStats(),
        retry=retry,
    )
    client._client.timeout = timeout_s
    return client


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 504},
        {"kind": "status", "status": 429, "retry_after": 0},
        {"kind": "drop"},
        {"kind": "truncate"},
        {"kind": "invalid_json"},
    ],
    ids=lambda f: f"{f['kind']}-{f.get('status', '')}",
)
def test_transient_faults_are_retried(sandbox: Sandbox, fault: dict) -> None:
    sandbox.faults.add(endpoint="model_lab.list_runs", count=2, **fault)
    with client_for(sandbox) as client:
        status, body = client.request_json("GET", LIST, endpoint="model_lab.list_runs")
    assert status == 200 and len(body["data"]) == 25
    assert client.stats.retries == 2
    assert sandbox.requests()["model_lab.list_runs"] == 3


def test_read_timeout_is_retried(sandbox: Sandbox) -> None:
    sandbox.faults.add(kind="stall", seconds=1.0, endpoint="model_lab.list_runs", count=1)
    with client_for(sandbox, timeout_s=0.3) as client:
        status, _ = client.request_json("GET", LIST, endpoint="model_lab.list_runs")
    assert status == 200 and client.stats.retries == 1


def test_retry_after_is_honoured(sandbox: Sandbox) -> None:
    sandbox.faults.add(kind="status", status=429, retry_after=1, endpoint="model_lab.list_runs", count=1)
    started = time.monotonic()
    with client_for(sandbox) as client:
        client.request_json("GET", LIST, endpoint="model_lab.list_runs")
    assert time.monotonic() - started >= 1.0


def test_pacing_never_exceeds_the_advertised_limit() -> None:
    with Sandbox(model_lab_runs=50, langsmith_runs=10, rate_limit=4, rate_limit_period_s=1) as box:
        with client_for(box) as client:
            for _ in range(10):
                client.request_json("GET", LIST, endpoint="model_lab.list_runs")
        assert box.rate_limiter.rejected == 0
        assert box.rate_limiter.max_in_window <= 4
        assert client.stats.rate_limit_wait_s > 0


def test_pacing_counts_requests_in_flight() -> None:
    """Eight requests at once against a bucket of 6 per 2 s: none is refused, and none retried."""
    with Sandbox(model_lab_runs=50, langsmith_runs=10, rate_limit=6, rate_limit_period_s=2) as box:
        with client_for(box) as client, ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: client.request_json("GET", LIST, endpoint="model_lab.list_runs"), range(12)))
        assert box.rate_limiter.rejected == 0
        assert box.rate_limiter.max_in_window == 6  # the bucket was used, not left half empty
        assert client.stats.retries == 0


def test_exhausted_retries_name_the_request(sandbox: Sandbox) -> None:
    sandbox.faults.add(kind="status", status=503, endpoint="model_lab.list_runs", count=None)
    with client_for(sandbox) as client, pytest.raises(TransientError) as failure:
        client.request_json("GET", LIST, endpoint="model_lab.list_runs")
    message = str(failure.value)
    assert message.startswith("datadog: GET /api/v2/model-lab-api/runs kept failing: 503")
    assert "4 attempts" in message and "nothing was written" in message
    assert sandbox.requests()["model_lab.list_runs"] == 4


def test_rate_limit_name_is_reported(sandbox: Sandbox) -> None:
    sandbox.faults.add(kind="status", status=429, retry_after=0, endpoint="model_lab.list_runs", count=None)
    with (
        client_for(sandbox) as client,
        pytest.raises(TransientError, match="rate limit 'llm_obs_and_model_lab'"),
    ):
        client.request_json("GET", LIST, endpoint="model_lab.list_runs")


def test_bad_request_is_not_retried_and_explains(sandbox: Sandbox) -> None:
    with client_for(sandbox) as client, pytest.raises(UpstreamError) as failure:
        client.request_json("GET", LIST, endpoint="model_lab.list_runs", params={"page[size]": 500})
    assert "page[size] must be between 1 and 100 (page[size])" in str(failure.value)
    assert sandbox.requests()["model_lab.list_runs"] == 1


def test_rejected_keys_name_the_settings_not_the_values(sandbox: Sandbox) -> None:
    fake = "dd-fake-key-DO-NOT-PRINT-1234567890"
    with client_for(sandbox, api_key=fake) as client, pytest.raises(CredentialsError) as failure:
        client.request_json("GET", LIST, endpoint="model_lab.list_runs")
    message = str(failure.value)
    assert "403" in message and "DD_API_KEY" in message and "DD_SITE" in message
    assert fake not in message and fake not in repr(failure.value)
    assert redact(f"key={fake}") == "key=****"
    assert sandbox.requests()["model_lab.list_runs"] == 1


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.datadoghq.eu", True),
        ("http://127.0.0.1:8787", True),
        ("http://localhost:8787/", True),
        ("http://[::1]:8787", True),
        ("http://api.datadoghq.com", False),
        ("http://10.0.0.5:8080", False),
        ("ftp://api.datadoghq.com", False),
        ("api.datadoghq.com", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        assert validate_base_url(url, "datadog", "SOURCES__DATADOG__BASE_URL", "https://x") == url.rstrip("/")
    else:
        with pytest.raises(ConfigError, match="SOURCES__DATADOG__BASE_URL"):
            validate_base_url(url, "datadog", "SOURCES__DATADOG__BASE_URL", "https://x")


def test_a_body_is_freed_with_what_was_read_from_it_not_at_the_next_garbage_collection(sandbox: Sandbox) -> None:
    """An httpx Response and its stream refer to each other (encode/httpx#3733): a body the Response
    kept would wait for a full garbage collection, which at megabyte pages let a sync grow by
    hundreds of MB. Garbage collection is off here, so whatever a request leaves behind adds up."""
    requests = 20
    with client_for(sandbox) as client:
        client.request_json("GET", LIST, endpoint="model_lab.list_runs", params={"page[size]": 100})  # warm-up
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            for _ in range(requests):
                client.request_json("GET", LIST, endpoint="model_lab.list_runs", params={"page[size]": 100})
            left, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            gc.enable()
    body = client.stats.bytes_received / client.stats.total_requests
    assert body > 50_000  # pages big enough for a kept body to show
    assert left < requests * body / 4, f"{left / requests:,.0f} bytes left per request of {body:,.0f}"
