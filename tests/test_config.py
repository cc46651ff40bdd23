"""Settings: names, precedence and validation, all before any request is made."""

from __future__ import annotations

import pytest

from pipelines.config import MissingCredentials, datadog_settings, langsmith_settings
from pipelines.settings import runyard_settings
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
        ("SOURCES__DATADOG__MODEL_LAB_STATUSES", "running,done", "unknown value 'done'"),
        ("SOURCES__DATADOG__MODEL_LAB_LAG_SECONDS", "-5", "is not an integer of at least 0"),
        ("SOURCES__DATADOG__LLM_OBS_PAGE_LIMIT", "0", "is not between 1 and 1000"),
        ("SOURCES__DATADOG__LLM_OBS_INCLUDE_USER_DATA", "maybe", "is not a boolean"),
        ("SOURCES__DATADOG__TOPIC_DISCOVERY_CONFIG_IDS", "ok-id,has space", "which is not a configuration id"),
        ("SOURCES__DATADOG__HTTP_MAX_ATTEMPTS", "0", "is not between 1 and 50"),
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


PROJECT = "018e4c7e-a9fb-7ef0-a5b6-6ea3a82e9327"


@pytest.fixture
def langsmith_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_test_key_0000000000")
    monkeypatch.setenv("SOURCES__LANGSMITH__PROJECT_IDS", PROJECT)


def test_langsmith_defaults_and_endpoint_forms(langsmith_key: None, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = langsmith_settings()
    assert settings.base_url == "https://api.smith.langchain.com"
    assert settings.project_ids == (PROJECT,)
    assert "INPUTS" not in settings.selects and "TOTAL_COST" in settings.selects
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "https://eu.api.smith.langchain.com/api/v1")
    assert langsmith_settings().base_url == "https://eu.api.smith.langchain.com"
    monkeypatch.setenv("SOURCES__LANGSMITH__INITIAL_START", "2026-01-01T00:00:00+02:00")
    assert langsmith_settings().initial_start == "2025-12-31T22:00:00Z"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SOURCES__LANGSMITH__PROJECT_IDS", "my-project", "is not a UUID"),
        ("SOURCES__LANGSMITH__REFERENCE_DATASET_ID", PROJECT, "set exactly one of"),
        ("SOURCES__LANGSMITH__INITIAL_START", "yesterday", "is not an RFC 3339 timestamp"),
        ("SOURCES__LANGSMITH__INITIAL_START", "2026-01-01T00:00:00", "with a time zone"),
        ("SOURCES__LANGSMITH__RUN_TYPE", "agent", "unknown value 'AGENT'"),
        ("SOURCES__LANGSMITH__SELECTS", "ID,COST", "unknown value 'COST'"),
        ("SOURCES__LANGSMITH__CONCURRENCY", "0", "is not between 1 and 32"),
        ("SOURCES__LANGSMITH__WINDOW_HOURS", "none", "is not an integer of at least 1"),
        ("SOURCES__LANGSMITH__HTTP_MAX_ATTEMPTS", "many", "is not between 1 and 50"),
        ("LANGSMITH_ENDPOINT", "http://smith.internal.example", "plain http to a non-loopback host"),
    ],
)
def test_langsmith_malformed_settings(
    langsmith_key: None, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as failure:
        langsmith_settings()
    assert failure.value.fix


def test_a_bad_site_is_rejected_even_with_a_base_url(keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DD_SITE", "datadog.example")
    monkeypatch.setenv("SOURCES__DATADOG__BASE_URL", "https://proxy.internal.example")
    with pytest.raises(ConfigError, match="is not a Datadog site"):
        datadog_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RUNYARD_DUCKDB_MEMORY_LIMIT", "lots", "is not an amount of memory"),
        ("RUNYARD_STORAGE_VERSION", "1.4", "is not a DuckDB storage version"),
        ("RUNYARD_LOCK_WAIT_SECONDS", "-1", "is not an integer of at least 0"),
        ("RUNYARD_DESTINATION", "postgres", "--publish writes a DuckDB copy"),
    ],
)
def test_malformed_runyard_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message) as failure:
        runyard_settings(tmp_path / "db.duckdb", publish=tmp_path / "bi.duckdb")
    assert failure.value.fix


def test_langsmith_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingCredentials, match="LANGSMITH_API_KEY is not set"):
        langsmith_settings()
