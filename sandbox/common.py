"""Pieces every sandbox store shares: the clock, timestamps, responses, errors, seeded randomness."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

US = 1_000_000


class Clock:
    """Sandbox time in microseconds since the epoch.

    Starts at ``anchor`` (default: the real time at start-up, so data looks recent and a
    client's own "now" agrees with the server's) and moves with the real clock. Every
    reading is strictly later than the previous one, so mutations never share a timestamp.
    """

    def __init__(self, anchor: datetime | None = None) -> None:
        anchor = anchor or datetime.now(UTC).replace(microsecond=0)
        self.anchor_us = int(anchor.timestamp()) * US + anchor.microsecond
        self._started = time.monotonic_ns()
        self._offset_us = 0
        self._last = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            now = self.anchor_us + (time.monotonic_ns() - self._started) // 1000 + self._offset_us
            self._last = max(now, self._last + 1)
            return self._last

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset_us += int(seconds * US)


def rfc3339(us: int, *, digits: int = 6) -> str:
    """Format like Go's RFC3339Nano, as the live Datadog service does: trailing zeros dropped.

    ``digits`` rounds the fraction down first (3 gives millisecond timestamps such as
    ``2026-05-18T15:55:50.275Z``, as JavaScript clients write them).
    """
    seconds, micro = divmod(us, US)
    micro -= micro % 10 ** (6 - digits)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{micro:06d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def parse_rfc3339(value: str) -> int:
    """RFC 3339 (any fraction, Z or offset) to microseconds since the epoch. Raises ValueError."""
    text = value.strip()
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[:digits][:6].ljust(6, "0") + tail[digits:]
        text = f"{head}.{tail}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp()) * US + parsed.microsecond


def rng(*parts: object) -> random.Random:
    """A Random seeded from ``parts``: the same parts always give the same sequence."""
    return random.Random(":".join(str(p) for p in parts))


def stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join(str(p) for p in parts)))


def json_bytes(value: Any) -> bytes:
    """``orjson.dumps`` in a bytes object of its own size, for JSON kept in memory: orjson 3.13
    returns its whole write buffer (16 KB for a 1 KB document)."""
    return bytes(memoryview(orjson.dumps(value)))


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


def jsonapi_error(status: int, title: str, detail: str, *, parameter: str | None = None, pointer: str | None = None):
    """Datadog's documented JSON:API error body (400, 401, 403, 404, 500)."""
    item: dict[str, Any] = {"status": str(status), "title": title, "detail": detail}
    if parameter or pointer:
        item["source"] = {k: v for k, v in (("parameter", parameter), ("pointer", pointer)) if v}
    return Response(status, {"errors": [item]})


class BadRequest(Exception):
    """Raised by handlers for a documented validation error; the server renders it per API."""

    def __init__(self, detail: str, *, parameter: str | None = None, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.parameter = parameter
        self.pointer = pointer
