"""runyard's settings: where a value comes from, how it is checked, and runyard's own ``[runyard]`` settings.

Precedence for each value: the dlt-style environment name (``SOURCES__DATADOG__API_KEY``,
``RUNYARD__PUBLISH``), then the vendor's or runyard's own variable where one exists
(``DD_API_KEY``, ``RUNYARD_PUBLISH``), then ``.dlt/secrets.toml`` and ``.dlt/config.toml`` in the
directory runyard runs from (``[sources.datadog] api_key = ...``, ``[runyard] publish = ...``).
Every rejection names the setting and shows a valid value.

The files are read here with the standard library rather than through dlt's providers: the
read-only commands (``status``, ``sql``) need runyard's settings but not dlt, whose import alone
takes most of a second, and dlt reads the same files for its own settings (destinations,
``[load]``) when a sync runs.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.warehouse import DEFAULT_MEMORY_LIMIT, DEFAULT_STORAGE_VERSION, MEMORY_LIMIT_FORMAT
from sources.errors import ConfigError, secrets

# How long a sync waits for another writer (another sync, or a program holding the DuckDB file).
DEFAULT_LOCK_WAIT_S = 120
SETTINGS_FILES = (Path(".dlt") / "secrets.toml", Path(".dlt") / "config.toml")  # relative to the working directory


@dataclass(frozen=True)
class RunyardSettings:
    """Settings of runyard itself, not of a source."""

    destination: str = "duckdb"
    publish: Path | None = None
    lock_wait_seconds: int = DEFAULT_LOCK_WAIT_S
    # Storage format of new DuckDB files and published copies; "latest" for the newest format.
    storage_version: str = DEFAULT_STORAGE_VERSION
    duckdb_memory_limit: str = DEFAULT_MEMORY_LIMIT


def destination_name(destination: str | None = None) -> str:
    """The warehouse: the argument, else ``RUNYARD_DESTINATION`` / ``[runyard] destination``, else duckdb."""
    return destination or text("runyard.destination", alias="RUNYARD_DESTINATION") or "duckdb"


def runyard_settings(db_path: Path, publish: Path | None = None, destination: str | None = None) -> RunyardSettings:
    """Arguments win over ``RUNYARD_<NAME>`` / ``[runyard] <name>`` settings, which win over defaults."""
    destination = destination_name(destination)
    target = publish or (Path(p) if (p := text("runyard.publish", alias="RUNYARD_PUBLISH")) else None)
    if target is not None and destination != "duckdb":
        raise ConfigError(
            "runyard",
            f"--publish writes a DuckDB copy, but the warehouse is the {destination} destination",
            "Point BI tools at the server directly, or drop --publish / RUNYARD_PUBLISH.",
        )
    if target is not None and target.resolve() == db_path.resolve():
        raise ConfigError(
            "runyard",
            f"the publish path {target} is the database being synced",
            "Publish to another file, e.g. --publish runyard-bi.duckdb.",
        )
    wait = integer("runyard.lock_wait_seconds", DEFAULT_LOCK_WAIT_S, low=0, alias="RUNYARD_LOCK_WAIT_SECONDS")
    version = text("runyard.storage_version", alias="RUNYARD_STORAGE_VERSION") or DEFAULT_STORAGE_VERSION
    if version != "latest" and not re.fullmatch(r"v\d+\.\d+\.\d+", version):
        raise ConfigError(
            "runyard",
            f"RUNYARD_STORAGE_VERSION={version!r} is not a DuckDB storage version",
            "Use a release such as v1.4.0 (the default: BI tools' DuckDB 1.x reads it) or 'latest'.",
        )
    memory = text("runyard.duckdb_memory_limit", alias="RUNYARD_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    if not MEMORY_LIMIT_FORMAT.fullmatch(memory):
        raise ConfigError(
            "runyard",
            f"RUNYARD_DUCKDB_MEMORY_LIMIT={memory!r} is not an amount of memory",
            f"Use a size such as 512MB or 2GB (default {DEFAULT_MEMORY_LIMIT}).",
        )
    return RunyardSettings(destination=destination, publish=target, lock_wait_seconds=wait, storage_version=version,
                           duckdb_memory_limit=memory)  # fmt: skip


def lookup(key: str, *, alias: str | None = None) -> Any:
    """One setting by its dotted path (``sources.datadog.api_key``), honouring the precedence above.

    Surrounding whitespace is stripped (a key mounted from a secret store ends with a newline).
    """
    return located(key, alias=alias)[0]


def located(key: str, *, alias: str | None = None) -> tuple[Any, str]:
    """A setting's value and where it came from (an environment variable, or ``[section] name in file``)."""
    for name in (env_name(key), alias):
        if name and os.environ.get(name, "").strip():
            return os.environ[name].strip(), name
    *sections, name = key.split(".")
    for path in SETTINGS_FILES:
        table: Any = _toml(path)
        for section in sections:
            table = table.get(section) if isinstance(table, dict) else None
        if isinstance(table, dict) and table.get(name) is not None:
            value = table[name]
            where = f"{name} under [{'.'.join(sections)}] in {path}"
            return (value.strip() if isinstance(value, str) else value), where
    return None, env_name(key)


def secret(key: str, *, alias: str | None = None) -> str | None:
    """A key: looked up like any setting, and refused (by name, never by value) unless it can be a header.

    HTTP header values are visible ASCII; a key with a line break, a tab, a space or a non-ASCII
    character inside would fail every request (and h11 puts the whole value in its error).
    """
    value, origin = located(key, alias=alias)
    if value is None:
        return None
    value = str(value)
    secrets.add(value)  # before anything can print it
    if not all(33 <= ord(c) <= 126 for c in value):
        kinds = sorted({_kind(c) for c in value if not 33 <= ord(c) <= 126})
        raise ConfigError(
            _source(key),
            f"the key in {origin} contains {' and '.join(kinds)} inside it, so it cannot be sent as an HTTP header "
            f"({len(value)} characters; surrounding whitespace was already stripped)",
            "Copy the key again as one line of visible characters; nothing was sent.",
        )
    return value


def _kind(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char.isspace():
        return "whitespace"
    return "a control character" if ord(char) < 128 else "a non-ASCII character"


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("runyard", f"{path} cannot be read ({exc})", f"Fix or remove {path}.") from None


def env_name(key: str) -> str:
    return key.upper().replace(".", "__")


# -- value parsing ---------------------------------------------------------------------------


def _source(key: str) -> str:
    """The name errors carry: the source for ``sources.<name>.*`` keys, else ``runyard``."""
    parts = key.split(".")
    return parts[1] if parts[0] == "sources" else parts[0]


def listing(key: str) -> list[str]:
    """A list setting: a TOML array, a JSON array, or a comma-separated string."""
    value = lookup(key)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigError(
                    _source(key), f"{env_name(key)}={value!r} is not valid JSON", "Use a comma-separated list."
                ) from None
        else:
            value = value.split(",")
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def int_list(key: str, *, example: str) -> list[int]:
    items = listing(key)
    bad = [v for v in items if not v.lstrip("-").isdigit()]
    if bad:
        raise ConfigError(
            _source(key),
            f"{env_name(key)} holds {', '.join(map(repr, bad))}, which {'is' if len(bad) == 1 else 'are'} "
            "not an integer id",
            f"Use comma-separated integers, e.g. {env_name(key)}={example}.",
        )
    return [int(v) for v in items]


def uuid_list(key: str) -> list[str]:
    """UUIDs in their canonical spelling (lower case, dashed), so that one project is one scope however written."""
    return list(dict.fromkeys(check_uuid(key, item) for item in listing(key)))


def check_uuid(key: str, value: str) -> str:
    """``value`` as a canonical UUID; ConfigError if it is none."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ConfigError(
            _source(key),
            f"{env_name(key)} holds {value!r}, which is not a UUID",
            f"Use the UUID shown in the LangSmith UI, e.g. {env_name(key)}=018e4c7e-a9fb-7ef0-a5b6-6ea3a82e9327.",
        ) from None


def check_choices(key: str, values: list[str], choices: tuple[str, ...], *, example: str) -> None:
    bad = [v for v in values if v not in choices]
    if bad:
        raise ConfigError(
            _source(key),
            f"{env_name(key)} holds unknown value {', '.join(map(repr, bad))}",
            f"Use any of: {', '.join(choices)} (comma-separated), e.g. {env_name(key)}={example}.",
        )


def text(key: str, alias: str | None = None) -> str | None:
    value = lookup(key, alias=alias)
    return str(value) if value not in (None, "") else None


def boolean(key: str) -> bool | None:
    value = lookup(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(
        _source(key), f"{env_name(key)}={value!r} is not a boolean", f"Use {env_name(key)}=true or false."
    )


def integer(key: str, default: int | None, *, low: int, high: int | None = None, alias: str | None = None) -> Any:
    value = lookup(key, alias=alias)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"an integer of at least {low}"
        raise ConfigError(
            _source(key),
            f"{env_name(key)}={value!r} is not {bound}",
            f"For example {env_name(key)}={default if default is not None else max(low, 1)}.",
        )
    return number
