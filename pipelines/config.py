"""Settings for each source, resolved from the environment and .dlt/*.toml, validated before any request.

Precedence for each value: the dlt environment name (``SOURCES__DATADOG__API_KEY``), then the
vendor's own variable where one exists (``DD_API_KEY``), then ``.dlt/secrets.toml`` /
``.dlt/config.toml`` (``[sources.datadog] api_key = ...``). Environment beats files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import dlt

from sources.datadog import datadog_base_url
from sources.datadog.model_lab import ModelLabFilters
from sources.datadog.settings import DEFAULT_SITE, MODEL_LAB_DEFAULT_LAG_S, MODEL_LAB_STATUSES
from sources.errors import ConfigError, secrets

DATADOG_KEYS_URL = "https://app.datadoghq.com/organization-settings/api-keys"


@dataclass(frozen=True)
class DatadogSettings:
    api_key: str
    app_key: str
    site: str
    base_url: str
    model_lab: ModelLabFilters
    model_lab_lag_seconds: int

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
        }


class MissingCredentials(ConfigError):
    """No keys configured for a source: skipped when syncing everything, an error when named."""


def lookup(key: str, *, alias: str | None = None, secret: bool = False) -> Any:
    """One setting by its dlt path (``sources.datadog.api_key``), honouring the precedence above."""
    env_name = key.upper().replace(".", "__")
    for name in (env_name, alias):
        if name and os.environ.get(name, "").strip():
            return os.environ[name].strip()
    value = (dlt.secrets if secret else dlt.config).get(key)
    return value.strip() if isinstance(value, str) else value


def datadog_settings() -> DatadogSettings:
    """Datadog settings from config. Raises MissingCredentials or ConfigError."""
    api_key = lookup("sources.datadog.api_key", alias="DD_API_KEY", secret=True)
    app_key = lookup("sources.datadog.app_key", alias="DD_APP_KEY", secret=True)
    secrets.add(api_key, app_key)
    missing = [name for name, value in (("DD_API_KEY", api_key), ("DD_APP_KEY", app_key)) if not value]
    if missing:
        raise MissingCredentials(
            "datadog",
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            "Set DD_API_KEY and DD_APP_KEY (or SOURCES__DATADOG__API_KEY / SOURCES__DATADOG__APP_KEY, or "
            f"api_key/app_key under [sources.datadog] in .dlt/secrets.toml); create keys at {DATADOG_KEYS_URL}.",
        )
    site = lookup("sources.datadog.site", alias="DD_SITE") or DEFAULT_SITE
    base_url = datadog_base_url(site, lookup("sources.datadog.base_url"))
    filters = ModelLabFilters(
        project_ids=tuple(_int_list("sources.datadog.model_lab_project_ids", example="482,2438")),
        statuses=tuple(_statuses()),
        tags=_optional_text("sources.datadog.model_lab_tags"),
        params=_optional_text("sources.datadog.model_lab_params"),
        parent_run_id=_optional_text("sources.datadog.model_lab_parent_run_id"),
        text=_optional_text("sources.datadog.model_lab_text_filter"),
    )
    lag = _int_setting("sources.datadog.model_lab_lag_seconds", MODEL_LAB_DEFAULT_LAG_S, example="600")
    return DatadogSettings(api_key, app_key, site, base_url, filters, lag)


def _env_name(key: str) -> str:
    return key.upper().replace(".", "__")


def _list(key: str) -> list[str]:
    """A list setting: a TOML array, a JSON array, or a comma-separated string."""
    value = lookup(key)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError("datadog", f"{_env_name(key)}={value!r} is not valid JSON") from None
        else:
            value = value.split(",")
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _int_list(key: str, *, example: str) -> list[int]:
    items = _list(key)
    bad = [v for v in items if not v.lstrip("-").isdigit()]
    if bad:
        raise ConfigError(
            "datadog",
            f"{_env_name(key)} holds {', '.join(map(repr, bad))}, which {'is' if len(bad) == 1 else 'are'} "
            "not an integer id",
            f"Use comma-separated integers, e.g. {_env_name(key)}={example}.",
        )
    return [int(v) for v in items]


def _statuses() -> list[str]:
    key = "sources.datadog.model_lab_statuses"
    items = _list(key)
    bad = [s for s in items if s not in MODEL_LAB_STATUSES]
    if bad:
        raise ConfigError(
            "datadog",
            f"{_env_name(key)} holds unknown status {', '.join(map(repr, bad))}",
            f"Use any of: {', '.join(MODEL_LAB_STATUSES)} (comma-separated), e.g. {_env_name(key)}=running,failed.",
        )
    return items


def _optional_text(key: str) -> str | None:
    value = lookup(key)
    return str(value) if value not in (None, "") else None


def _int_setting(key: str, default: int, *, example: str) -> int:
    value = lookup(key)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ConfigError(
            "datadog",
            f"{_env_name(key)}={value!r} is not a non-negative integer",
            f"For example {_env_name(key)}={example}.",
        )
    return number
