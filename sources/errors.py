"""Errors every source raises, and the redaction that keeps keys out of them.

A sync that fails ends with one paragraph: which source, what went wrong, what to do about it.
Each error carries those three parts separately so the CLI, the flows and the tests can all
render or inspect them the same way.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

_MASK = "****"


class SecretRegistry:
    """Every key value a sync has seen, so that any text leaving runyard can be scrubbed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                # Very short values would mask ordinary words; real keys are long.
                if value and len(value) >= 6:
                    self._secrets.update(renderings(value))
            self._pattern = (
                re.compile("|".join(re.escape(s) for s in sorted(self._secrets, key=len, reverse=True)))
                if self._secrets
                else None
            )

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(_MASK, text) if pattern else text


def renderings(value: str) -> set[str]:
    """``value`` in every form an error message can show it.

    A key with a line break or a non-ASCII character is printed escaped by ``repr`` (``b'...\\n...'``
    from h11's "Illegal header value"), by JSON and by URL encoding; a message can also be wrapped
    at the break, so each long piece between control characters is a secret of its own too.
    """
    forms = {
        value,
        repr(value)[1:-1],
        repr(value.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
    }
    forms.update(piece for piece in re.split(r"[\x00-\x20\x7f]+", value) if len(piece) >= 8)
    return {form for form in forms if form}


secrets = SecretRegistry()


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``****``."""
    return secrets.redact(text)


class SyncError(Exception):
    """A failure a user can act on: names the source, the cause and the fix."""

    exit_code = 1

    def __init__(self, source: str, cause: str, fix: str = "") -> None:
        self.source = source
        self.cause = redact(cause)
        self.fix = redact(fix)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.source}: {self.cause.rstrip('.')}."
        return f"{text} {self.fix}" if self.fix else text

    def __str__(self) -> str:
        return self.message


class ConfigError(SyncError):
    """A setting is missing or malformed. Raised before any request is made; never retried."""

    exit_code = 2


class CredentialsError(SyncError):
    """The upstream rejected the keys (401/403). Never retried."""

    exit_code = 3


class UpstreamError(SyncError):
    """The upstream answered with something runyard cannot use (4xx, malformed body, broken order)."""

    exit_code = 4

    def __init__(self, source: str, cause: str, fix: str = "", *, status: int | None = None, detail: str = "") -> None:
        super().__init__(source, cause, fix)
        self.status = status  # the HTTP status behind it, when there was one
        self.detail = redact(detail)  # the error body's own words, whole (the cause shortens them)


class CursorRejected(UpstreamError):
    """The service refused a pagination cursor it had handed out (expired, or its data moved on).

    Walks catch it and start over from their first page instead of failing the sync.
    """


class TransientError(SyncError):
    """Network trouble, 429 or 5xx that outlasted the retries."""

    exit_code = 5


class NotFoundError(UpstreamError):
    """A 404 for a single entity; callers that expect it (deleted runs) catch it."""


# A request that carried a cursor and got one of these back had its cursor refused.
CURSOR_REFUSED_STATUSES = frozenset({400, 404, 410, 422})


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything behind it: causes, contexts and dlt's wrapped ``exception``, once each."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([getattr(current, "exception", None), current.__cause__, current.__context__])
