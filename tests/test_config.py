"""Settings: names, precedence and validation, all before any request is made."""

from __future__ import annotations

import pytest

from pipelines.config import MissingCredentials, datadog_settings
from sources.errors import ConfigError


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_API_KEY", "dd-api-key-from-dd-env-000")
    monkeypatch.setenv("DD_APP_KEY", "dd-app-key-from-dd-env-000")


def test_vendor_names_and_defaults(keys: None) -> None:
    settings = datadog_settings()
    assert (settings.api_key, settings.app_key) == (
        "dd-api-key-from-dd-env-000",
        "dd-app-key-from-dd-env-000",
    )
    assert (settings.site, settings.base_url) == ("datadoghq.com", "https://api.datadoghq.com")
    assert settings.model_lab.partitions() == [("all", {})]


def test_dlt_names_win_over_vendor_names(keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__DATADOG__API_KEY", "dd-api-key-from-dlt-env-00")
    assert datadog_settings().api_key == "dd-api-key-from-dlt-env-00"


@pytest.mark.parametrize(
    ("site", "url"),
    [
        ("datadoghq.eu", "https://api.datadoghq.eu"),
        ("us5.datadoghq.com", "https://api.us5.datadoghq.com"),
        ("uk1.datadoghq.com", "https://api.uk1.datadoghq.com"),
        ("ddog-gov.com", "https://api.ddog-gov.com"),
        ("us2.ddog-gov.com", "https://api.us2.ddog-gov.com"),
    ],
)
def test_sites(keys: None, monkeypatch: pytest.MonkeyPatch, site: str, url: str) -> None:
    monkeypatch.setenv("DD_SITE", site)
    assert datadog_settings().base_url == url


def test_base_url_overrides_site(keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_SITE", "datadoghq.eu")
    monkeypatch.setenv("SOURCES__DATADOG__BASE_URL", "https://proxy.internal.example/")
    assert datadog_settings().base_url == "https://proxy.internal.example"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DD_SITE", "app.datadoghq.eu", "did you mean 'datadoghq.eu'"),
        ("DD_SITE", "datadog.com", "is not a Datadog site"),
        ("SOURCES__DATADOG__BASE_URL", "http://api.datadoghq.com", "plain http to a non-loopback host"),
        (
            "SOURCES__DATADOG__MODEL_LAB_PROJECT_IDS",
            "482,abc",
            "SOURCES__DATADOG__MODEL_LAB_PROJECT_IDS holds 'abc'",
        ),
        ("SOURCES__DATADOG__MODEL_LAB_STATUSES", "running,done", "unknown status 'done'"),
        ("SOURCES__DATADOG__MODEL_LAB_LAG_SECONDS", "-5", "is not a non-negative integer"),
    ],
)
def test_malformed_settings_are_rejected(
    keys: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as failure:
        datadog_settings()
    assert failure.value.fix  # every rejection says what a valid value looks like


def test_list_settings_accept_commas_and_json(keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__DATADOG__MODEL_LAB_PROJECT_IDS", "482, 2438")
    monkeypatch.setenv("SOURCES__DATADOG__MODEL_LAB_STATUSES", '["running"]')
    filters = datadog_settings().model_lab
    assert (filters.project_ids, filters.statuses) == ((482, 2438), ("running",))
    assert [key for key, _ in filters.partitions()] == [
        "filter[project_id]=482&filter[status]=running",
        "filter[project_id]=2438&filter[status]=running",
    ]


def test_missing_keys_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_API_KEY", "only-the-api-key-000000")
    with pytest.raises(MissingCredentials, match="DD_APP_KEY is not set"):
        datadog_settings()
