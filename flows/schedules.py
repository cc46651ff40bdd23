"""When each flow runs: a default cron expression per schedule key, each overridable in config.

``RUNYARD__SCHEDULES__LANGSMITH="*/5 * * * *"`` in the environment, or in ``.dlt/config.toml``::

    [runyard.schedules]
    langsmith = "*/5 * * * *"
    topic_discovery = "off"   # served, but only runs when triggered

Expressions are evaluated in UTC.
"""

from __future__ import annotations

from croniter import croniter

from pipelines.settings import env_name, lookup
from sources.errors import ConfigError

TIMEZONE = "UTC"
HOURLY = "0 * * * *"
OFF = "off"
DEFAULT_CRONS: dict[str, str] = {
    "langsmith": "*/15 * * * *",
    "model_lab": HOURLY,
    "llm_obs": HOURLY,
    "topic_discovery": "0 2 * * *",  # daily, 02:00 UTC
    "full_refresh": "30 3 * * 0",  # weekly, Sunday 03:30 UTC
}


def cron_for(key: str) -> str | None:
    """The cron expression of schedule ``key``, or None when configured ``off``.

    A source added to the registry without a default here runs hourly. Raises ConfigError
    for a value that is not a five-field cron expression.
    """
    setting = f"runyard.schedules.{key}"
    value = lookup(setting)
    if value in (None, ""):
        return DEFAULT_CRONS.get(key, HOURLY)
    text = " ".join(str(value).split())
    if text.lower() == OFF:
        return None
    if len(text.split()) != 5 or not croniter.is_valid(text):
        raise ConfigError(
            "runyard",
            f"{env_name(setting)}={value!r} is not a five-field cron expression",
            f'For example {env_name(setting)}="{DEFAULT_CRONS.get(key, HOURLY)}", or "{OFF}" to run it only '
            "when triggered.",
        )
    return text
