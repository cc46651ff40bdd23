"""Settings for each upstream, resolved from the environment and .dlt/*.toml, validated before any request.

Where values come from and in which order: pipelines/settings.py. Every rejection names the
setting and shows a valid value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipelines.settings import (
    boolean,
    check_choices,
    check_uuid,
    env_name,
    int_list,
    integer,
    listing,
    lookup,
    secret,
    text,
    uuid_list,
)
from sources.datadog import datadog_base_url
from sources.datadog.model_lab import ModelLabFilters
from sources.datadog.settings import (
    DEFAULT_SITE,
    LLM_OBS_DEFAULT_PAGE_LIMIT,
    MODEL_LAB_DEFAULT_LAG_S,
    MODEL_LAB_FOLLOW_UNFINISHED_DAYS,
    MODEL_LAB_STATUSES,
)
from sources.errors import ConfigError
from sources.http_client import DEFAULT_ATTEMPTS, validate_base_url
from sources.langsmith.runs import parse_initial_start
from sources.langsmith.settings import (
    DEFAULT_BASE_URL as LANGSMITH_DEFAULT_URL,
)
from sources.langsmith.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_FEEDBACK_LOOKBACK_HOURS,
    DEFAULT_SELECTS,
    DEFAULT_WINDOW_HOURS,
    RUN_TYPES,
    SELECT_TOKENS,
)

DATADOG_KEYS_URL = "https://app.datadoghq.com/organization-settings/api-keys"
LANGSMITH_KEYS_URL = "https://smith.langchain.com/settings"


class MissingCredentials(ConfigError):
    """No keys configured for an upstream: skipped when syncing everything, an error when named."""


@dataclass(frozen=True)
class DatadogSettings:
    api_key: str
    app_key: str
    site: str
    base_url: str
    model_lab: ModelLabFilters = field(default_factory=ModelLabFilters)
    model_lab_lag_seconds: int = MODEL_LAB_DEFAULT_LAG_S
    model_lab_follow_unfinished_days: int = MODEL_LAB_FOLLOW_UNFINISHED_DAYS
    llm_obs_page_limit: int = LLM_OBS_DEFAULT_PAGE_LIMIT
    llm_obs_content_preview_limit: int | None = None
    llm_obs_query: str | None = None
    llm_obs_include_user_data: bool = False
    topic_discovery_config_ids: tuple[str, ...] = ()
    http_max_attempts: int = DEFAULT_ATTEMPTS

    def source_kwargs(self) -> dict[str, Any]:
        """Arguments for ``sources.datadog.datadog``."""
        f = self.model_lab
        return {
            "api_key": self.api_key,
            "app_key": self.app_key,
            "site": self.site,
            "base_url": self.base_url,
            "model_lab_project_ids": list(f.project_ids),
            "model_lab_statuses": list(f.statuses),
            "model_lab_tags": f.tags,
            "model_lab_params": f.params,
            "model_lab_parent_run_id": f.parent_run_id,
            "model_lab_text_filter": f.text,
            "model_lab_lag_seconds": self.model_lab_lag_seconds,
            "model_lab_follow_unfinished_days": self.model_lab_follow_unfinished_days,
            "llm_obs_page_limit": self.llm_obs_page_limit,
            "llm_obs_content_preview_limit": self.llm_obs_content_preview_limit,
            "llm_obs_query": self.llm_obs_query,
            "llm_obs_include_user_data": self.llm_obs_include_user_data,
            "topic_discovery_config_ids": list(self.topic_discovery_config_ids),
            "http_max_attempts": self.http_max_attempts,
        }


@dataclass(frozen=True)
class LangSmithSettings:
    api_key: str
    base_url: str = LANGSMITH_DEFAULT_URL
    project_ids: tuple[str, ...] = ()
    reference_dataset_id: str | None = None
    initial_start: str = ""
    filter: str | None = None
    trace_filter: str | None = None
    tree_filter: str | None = None
    is_root: bool | None = None
    run_type: str | None = None
    has_error: bool | None = None
    selects: tuple[str, ...] = DEFAULT_SELECTS
    window_hours: int = DEFAULT_WINDOW_HOURS
    concurrency: int = DEFAULT_CONCURRENCY
    feedback_lookback_hours: int = DEFAULT_FEEDBACK_LOOKBACK_HOURS
    workspace_id: str | None = None
    http_max_attempts: int = DEFAULT_ATTEMPTS

    def source_kwargs(self) -> dict[str, Any]:
        """Arguments for ``sources.langsmith.langsmith``."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "project_ids": list(self.project_ids),
            "reference_dataset_id": self.reference_dataset_id,
            "initial_start": self.initial_start,
            "filter": self.filter,
            "trace_filter": self.trace_filter,
            "tree_filter": self.tree_filter,
            "is_root": self.is_root,
            "run_type": self.run_type,
            "has_error": self.has_error,
            "selects": list(self.selects),
            "window_hours": self.window_hours,
            "concurrency": self.concurrency,
            "feedback_lookback_hours": self.feedback_lookback_hours,
            "workspace_id": self.workspace_id,
            "http_max_attempts": self.http_max_attempts,
        }


# -- Datadog ---------------------------------------------------------------------------------


def datadog_settings() -> DatadogSettings:
    """Datadog settings from config. Raises MissingCredentials or ConfigError."""
    api_key = secret("sources.datadog.api_key", alias="DD_API_KEY")
    app_key = secret("sources.datadog.app_key", alias="DD_APP_KEY")
    if not api_key or not app_key:
        missing = [name for name, value in (("DD_API_KEY", api_key), ("DD_APP_KEY", app_key)) if not value]
        raise MissingCredentials(
            "datadog",
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            "Set DD_API_KEY and DD_APP_KEY (or SOURCES__DATADOG__API_KEY / SOURCES__DATADOG__APP_KEY, or "
            f"api_key/app_key under [sources.datadog] in .dlt/secrets.toml); create keys at {DATADOG_KEYS_URL}.",
        )
    site = lookup("sources.datadog.site", alias="DD_SITE") or DEFAULT_SITE
    base_url = datadog_base_url(site, lookup("sources.datadog.base_url"))
    statuses = listing("sources.datadog.model_lab_statuses")
    check_choices("sources.datadog.model_lab_statuses", statuses, MODEL_LAB_STATUSES, example="running,failed")
    filters = ModelLabFilters(
        project_ids=tuple(int_list("sources.datadog.model_lab_project_ids", example="482,2438")),
        statuses=tuple(statuses),
        tags=text("sources.datadog.model_lab_tags"),
        params=text("sources.datadog.model_lab_params"),
        parent_run_id=text("sources.datadog.model_lab_parent_run_id"),
        text=text("sources.datadog.model_lab_text_filter"),
    )
    return DatadogSettings(
        api_key=api_key,
        app_key=app_key,
        site=site,
        base_url=base_url,
        model_lab=filters,
        model_lab_lag_seconds=integer("sources.datadog.model_lab_lag_seconds", MODEL_LAB_DEFAULT_LAG_S, low=0),
        model_lab_follow_unfinished_days=integer(
            "sources.datadog.model_lab_follow_unfinished_days", MODEL_LAB_FOLLOW_UNFINISHED_DAYS, low=1
        ),
        llm_obs_page_limit=integer("sources.datadog.llm_obs_page_limit", LLM_OBS_DEFAULT_PAGE_LIMIT, low=1, high=1000),
        llm_obs_content_preview_limit=integer("sources.datadog.llm_obs_content_preview_limit", None, low=1),
        llm_obs_query=text("sources.datadog.llm_obs_query"),
        llm_obs_include_user_data=boolean("sources.datadog.llm_obs_include_user_data") or False,
        topic_discovery_config_ids=tuple(_config_ids()),
        http_max_attempts=integer("sources.datadog.http_max_attempts", DEFAULT_ATTEMPTS, low=1, high=50),
    )


def _config_ids() -> list[str]:
    key = "sources.datadog.topic_discovery_config_ids"
    ids = listing(key)
    bad = [i for i in ids if len(i) > 200 or not i.isprintable() or any(c.isspace() for c in i)]
    if bad:
        raise ConfigError(
            "datadog",
            f"{env_name(key)} holds {', '.join(map(repr, bad))}, which is not a configuration id",
            f"Use the ids from LLM Observability, comma-separated, e.g. {env_name(key)}=<config id>,<config id>.",
        )
    return ids


# -- LangSmith -------------------------------------------------------------------------------


def langsmith_settings(now: datetime | None = None) -> LangSmithSettings:
    """LangSmith settings from config. Raises MissingCredentials or ConfigError."""
    api_key = secret("sources.langsmith.api_key", alias="LANGSMITH_API_KEY")
    if not api_key:
        raise MissingCredentials(
            "langsmith",
            "LANGSMITH_API_KEY is not set",
            "Set LANGSMITH_API_KEY (or SOURCES__LANGSMITH__API_KEY, or api_key under [sources.langsmith] in "
            f".dlt/secrets.toml); create a key at {LANGSMITH_KEYS_URL}.",
        )
    raw_url = lookup("sources.langsmith.base_url", alias="LANGSMITH_ENDPOINT") or LANGSMITH_DEFAULT_URL
    # Like the SDK: an endpoint given with its /api or /api/v1 suffix means the same host.
    for suffix in ("/api/v1", "/api"):
        raw_url = raw_url.rstrip("/").removesuffix(suffix)
    base_url = validate_base_url(raw_url, "langsmith", "LANGSMITH_ENDPOINT", "https://eu.api.smith.langchain.com")
    project_ids = tuple(uuid_list("sources.langsmith.project_ids"))
    dataset = text("sources.langsmith.reference_dataset_id")
    if dataset:
        dataset = check_uuid("sources.langsmith.reference_dataset_id", dataset)
    if bool(project_ids) == bool(dataset):
        raise ConfigError(
            "langsmith",
            "set exactly one of SOURCES__LANGSMITH__PROJECT_IDS and SOURCES__LANGSMITH__REFERENCE_DATASET_ID"
            + (" (both are set)" if dataset else " (neither is set)"),
            "The runs query needs one: e.g. SOURCES__LANGSMITH__PROJECT_IDS=<tracing project UUID>,<another>.",
        )
    start = parse_initial_start(text("sources.langsmith.initial_start"), now or datetime.now(UTC))
    run_type = text("sources.langsmith.run_type")
    if run_type:
        run_type = run_type.upper()
        check_choices("sources.langsmith.run_type", [run_type], RUN_TYPES, example="LLM")
    selects = [s.upper() for s in listing("sources.langsmith.selects")] or list(DEFAULT_SELECTS)
    check_choices("sources.langsmith.selects", selects, SELECT_TOKENS, example="ID,NAME,START_TIME,TOTAL_TOKENS")
    if "ID" not in selects or "START_TIME" not in selects:
        selects = ["ID", "START_TIME", *(s for s in selects if s not in ("ID", "START_TIME"))]
    return LangSmithSettings(
        api_key=api_key,
        base_url=base_url,
        project_ids=project_ids,
        reference_dataset_id=dataset,
        initial_start=start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        filter=text("sources.langsmith.filter"),
        trace_filter=text("sources.langsmith.trace_filter"),
        tree_filter=text("sources.langsmith.tree_filter"),
        is_root=boolean("sources.langsmith.is_root"),
        run_type=run_type,
        has_error=boolean("sources.langsmith.has_error"),
        selects=tuple(dict.fromkeys(selects)),
        window_hours=integer("sources.langsmith.window_hours", DEFAULT_WINDOW_HOURS, low=1),
        concurrency=integer("sources.langsmith.concurrency", DEFAULT_CONCURRENCY, low=1, high=32),
        feedback_lookback_hours=integer(
            "sources.langsmith.feedback_lookback_hours", DEFAULT_FEEDBACK_LOOKBACK_HOURS, low=0, high=24 * 90
        ),
        workspace_id=text("sources.langsmith.workspace_id") or os.environ.get("LANGSMITH_WORKSPACE_ID") or None,
        http_max_attempts=integer("sources.langsmith.http_max_attempts", DEFAULT_ATTEMPTS, low=1, high=50),
    )
