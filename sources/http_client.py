"""The one HTTP client every source uses: auth headers, timeouts, retries, rate limits, redaction.

Retries use stamina (tenacity underneath): exponential backoff with jitter on connection
errors, read timeouts, truncated bodies, 408/429/5xx. A server's own wait hint wins over the
backoff: ``Retry-After`` or Datadog's ``X-RateLimit-Reset``. Credentials errors (401/403)
and other 4xx are never retried. Nothing here follows redirects, so a key is only ever
sent to the configured host.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import stamina
from stamina.instrumentation import RetryDetails, set_on_retry_hooks

from sources.errors import (
    ConfigError,
    NotFoundError,
    SyncError,
    TransientError,
    UpstreamError,
    causes,
    redact,
    secrets,
)

log = logging.getLogger("runyard.http")

USER_AGENT = "runyard/0.1"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507, 509})


def validate_base_url(url: str, source: str, setting: str, example: str) -> str:
    """Return ``url`` without a trailing slash, or raise ConfigError.

    ``http://`` is allowed only for loopback hosts (the sandbox, a local proxy); every other
    host must be reached over https so keys never cross a network in clear text.
    """
    try:
        parts = urlsplit(url.strip())
        hostname, _ = parts.hostname, parts.port  # both parse lazily and raise ValueError
    except ValueError as exc:
        raise ConfigError(
            source, f"{setting}={url!r} is not a URL ({exc})", f"Set it to a base URL such as {example}."
        ) from None
    if "@" in parts.netloc:  # the message shows the URL without them
        raise ConfigError(
            source,
            f"{setting} holds a user name or password in the URL (shown as {_without_userinfo(parts)!r})",
            "Keys belong in the key settings, not in the base URL: remove the 'user:password@' part.",
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(
            source, f"{setting}={url!r} is not an http(s) URL", f"Set it to a base URL such as {example}."
        )
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise ConfigError(
            source,
            f"{setting}={url!r} uses plain http to a non-loopback host ({parts.hostname}); "
            "keys would travel unencrypted",
            f"Use https (for example {example}); http:// is accepted only for localhost/127.0.0.1/::1.",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            source,
            f"{setting}={url!r} has a query string or fragment",
            f"Use a bare base URL such as {example}.",
        )
    return url.strip().rstrip("/")


def _without_userinfo(parts: SplitResult) -> str:
    return parts._replace(netloc="****@" + parts.netloc.rpartition("@")[2]).geturl()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class SourceStats:
    """What a source did during one sync: requests per endpoint, retries, bytes, progress, warnings.

    The pipeline layer creates one per sync and reads it for the progress display and the
    sync result; sources only add to it.
    """

    requests: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    bytes_received: int = 0
    rate_limit_wait_s: float = 0.0
    # rows emitted per table, not counting the marker rows that only delete.
    rows: Counter[str] = field(default_factory=Counter)
    # label -> (done, total or None): e.g. "runs" -> (12, 657) pages.
    progress: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, endpoint: str, nbytes: int) -> None:
        with self._lock:
            self.requests[endpoint] += 1
            self.bytes_received += nbytes

    def count_rows(self, table: str, arrow_table: pa.Table, *, marker: str | None = None) -> None:
        markers = 0
        if marker and marker in arrow_table.column_names:
            markers = pc.sum(arrow_table[marker]).as_py() or 0
        self.rows[table] += arrow_table.num_rows - markers

    def report_progress(self, label: str, done: int, total: int | None) -> None:
        self.progress[label] = (done, total)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    total_timeout_s: float = 900.0
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    # A server asking for more than this is treated as a hard limit, not a pause.
    max_server_wait_s: float = 300.0


class RateLimitPacer:
    """Proactive pacing from ``X-RateLimit-Remaining``/``X-RateLimit-Reset``.

    One pacer per Datadog org: its buckets may be shared across endpoints, so every request to
    that org passes here, and a request is never sent into a bucket known to be empty. Requests
    in flight count against what the bucket has left: with several requests at once (pages,
    unfinished runs), one is sent only while the last reported remainder exceeds the requests
    already on their way. What a period allows is not known until an answer says so, so the
    first request of a sync, and of each new period, goes alone.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._remaining: float | None = None  # what the bucket has left, as last reported this period
        self._period_ends = 0.0  # monotonic time the reported period resets
        self._in_flight = 0

    def acquire(self, stats: SourceStats | None) -> None:
        """Before a request: wait until the bucket has room for it."""
        waited = 0.0
        with self._cond:
            while True:
                now = time.monotonic()
                if self._remaining is not None and now >= self._period_ends:
                    self._remaining = None  # a new period: unknown until an answer reports it
                if self._remaining is None and self._in_flight == 0:
                    break
                if self._remaining is not None and self._remaining > self._in_flight:
                    break
                delay = max(self._period_ends - now, 0.01) if self._remaining is not None else 1.0
                log.debug("rate limit: waiting up to %.2fs for room in the bucket", delay)
                started = time.monotonic()
                self._cond.wait(delay)
                waited += time.monotonic() - started
            self._in_flight += 1
        if stats and waited:
            stats.rate_limit_wait_s += waited

    def release(self, headers: httpx.Headers | None) -> None:
        """After a request (answered, or failed without an answer: ``None``)."""
        remaining = _number(headers.get("x-ratelimit-remaining")) if headers is not None else None
        reset = _number(headers.get("x-ratelimit-reset")) if headers is not None else None
        with self._cond:
            self._in_flight -= 1
            if headers is not None and (remaining is None or reset is None):  # an answer without limits
                self._remaining, self._period_ends = math.inf, math.inf
            elif remaining is not None and reset is not None:
                # Small margin: the reset is calendar aligned and our clock is not the server's.
                ends = time.monotonic() + reset + 0.05
                if self._remaining is None or math.isinf(self._period_ends) or ends > self._period_ends + 0.5:
                    self._remaining, self._period_ends = remaining, ends  # the first word of a period
                else:  # answers of one period can arrive out of order: the smallest remainder is the latest
                    self._remaining = min(self._remaining, remaining)
            self._cond.notify_all()


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Retryable(Exception):
    """An attempt that may succeed if repeated; ``wait`` is the server's hint, if any."""

    def __init__(self, description: str, wait: float | None = None, limit_name: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.wait = wait
        self.limit_name = limit_name


AuthFailure = Callable[[int, str], SyncError]


class ApiClient:
    """A keep-alive httpx client bound to one upstream, with its auth, retries and pacing.

    Args:
        source: name used in errors and logs ("datadog", "langsmith").
        base_url: validated base URL; paths are appended to it.
        headers: auth and fixed headers. Their values are registered as secrets.
        on_auth_failure: builds the error for a 401/403, naming which credential to check.
        pacer: shared rate-limit pacer (Datadog), or None.
        stats: where requests are counted.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        headers: Mapping[str, str],
        secret_values: tuple[str, ...],
        on_auth_failure: AuthFailure,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        pacer: RateLimitPacer | None = None,
        stats: SourceStats | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        secrets.add(*secret_values)
        self.source = source
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self.pacer = pacer
        self.stats = stats if stats is not None else SourceStats()
        self._on_auth_failure = on_auth_failure
        try:
            self._client = httpx.Client(
                base_url=base_url,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
                timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 15.0)),
                follow_redirects=False,
                transport=transport,
                verify=_tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
            )
        except (ssl.SSLError, OSError) as exc:  # SSL_CERT_FILE/SSL_CERT_DIR naming no usable bundle
            raise ConfigError(
                source,
                f"the CA certificates could not be loaded ({exc})",
                "Point SSL_CERT_FILE at a PEM bundle that exists (or unset it to use the bundled CAs).",
            ) from None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> tuple[int, Any]:
        """Send a request, retrying transient failures; return (status, ``decode(body)``).

        ``decode`` reads a 2xx body (``parse_json_body`` unless a source reads its pages its own
        way); the ValueError it raises for a body that is not JSON is retried.
        Raises CredentialsError on 401/403, NotFoundError on 404, UpstreamError on other 4xx
        or a body that stays unparseable, TransientError once retries are exhausted.
        """
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = time.monotonic()
        last: _Retryable | None = None
        try:
            for attempt in stamina.retry_context(
                on=_backoff_hook(self.retry.max_server_wait_s),
                attempts=self.retry.attempts,
                timeout=self.retry.total_timeout_s,
                wait_initial=self.retry.wait_initial_s,
                wait_max=self.retry.wait_max_s,
            ):
                with attempt:
                    if attempt.num > 1:
                        self.stats.retries += 1
                    try:
                        return self._attempt(
                            method, path, endpoint, params, content, headers, decode or parse_json_body
                        )
                    except _Retryable as exc:
                        last = exc
                        raise
        except _Retryable as exc:
            last = exc
        elapsed = time.monotonic() - started
        assert last is not None
        limit = f" (rate limit {last.limit_name!r})" if last.limit_name else ""
        raise TransientError(
            self.source,
            f"{method} {path} kept failing: {last.description}{limit}; gave up after "
            f"{self.retry.attempts} attempts in {elapsed:.0f}s",
            "The service or the network is having trouble; nothing was written. Run the sync again later.",
        )

    def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        decode: Callable[[bytes], Any],
    ) -> tuple[int, Any]:
        if self.pacer:
            self.pacer.acquire(self.stats)
        answered: httpx.Headers | None = None
        try:
            with self._client.stream(method, path, params=params, content=content, headers=headers) as response:
                answered = response.headers
                # A body is read into bytes of our own, not the Response's: a Response and its stream
                # refer to each other (encode/httpx#3733), so a body it held would only be freed by a
                # full garbage collection, which at megabyte pages can come hundreds of pages later.
                # Error bodies are small, and _error_detail reads them from the Response.
                received = b"".join(response.iter_bytes()) if response.is_success else response.read()
        except httpx.TransportError as exc:
            self.stats.count(endpoint, 0)
            _raise_if_unhealable(exc, self.source, self.base_url)
            host = urlsplit(self.base_url).netloc
            raise _Retryable(f"{type(exc).__name__} from {host}: {redact(str(exc)) or 'connection problem'}") from None
        finally:
            if self.pacer:
                self.pacer.release(answered)
        self.stats.count(endpoint, len(received))
        status = response.status_code
        if 200 <= status < 300:
            try:
                return status, decode(received)
            except ValueError:
                raise _Retryable(f"{status} response with a body that is not valid JSON") from None
            except RecursionError:
                raise UpstreamError(
                    self.source,
                    f"{method} {path} returned JSON nested more than {MAX_JSON_DEPTH} levels deep, "
                    "which runyard cannot read",
                    "Report the response to the service; nothing was written.",
                ) from None
        full = _error_detail(response)
        detail = full[:500]
        if status in (401, 403):
            raise self._on_auth_failure(status, detail)
        if status in RETRY_STATUSES:
            raise _Retryable(
                f"{status} {response.reason_phrase}{': ' + detail if detail else ''}",
                wait=_server_wait(response.headers),
                limit_name=response.headers.get("x-ratelimit-name"),
            )
        if status == 404:
            raise NotFoundError(
                self.source, f"{method} {path} returned 404{': ' + detail if detail else ''}", status=404
            )
        raise UpstreamError(
            self.source,
            f"{method} {path} returned {status} {response.reason_phrase}{': ' + detail if detail else ''}",
            "Check the settings this request was built from (filters, ids, page sizes).",
            status=status,
            detail=full,
        )


MAX_JSON_DEPTH = 1024  # orjson's nesting limit when parsing
# What neither DuckDB nor PostgreSQL text can hold: NUL, and UTF-16 surrogates left unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse_json_body(content: bytes) -> Any:
    """A response body as Python values, with every string storable in any destination.

    orjson reads almost every body. What it refuses is read by the standard library, which
    also accepts what real services sometimes emit: ``NaN``/``Infinity`` tokens (they become
    float nan/inf), raw control characters in strings, unpaired surrogate escapes, invalid
    UTF-8 (replaced). NUL characters are stripped from strings, since PostgreSQL cannot store
    them, and unpaired surrogates become U+FFFD. Raises ValueError for a body that is not JSON
    (truncated: worth a retry), RecursionError for one nested too deep to read.
    """
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = json.loads(content.decode("utf-8", "replace"), strict=False)
    else:
        if b"\\u0000" not in content:  # the only way a NUL can reach a string orjson accepted
            return body
    return _storable_strings(body)


def _storable_strings(value: Any) -> Any:
    """``value`` with NUL stripped from its strings and unpaired surrogates replaced (containers in place)."""
    if isinstance(value, str):
        return _storable(value)
    stack = [value]
    while stack:
        container = stack.pop()
        if isinstance(container, dict):
            members = list(container.items())
            container.clear()
            for key, member in members:
                container[_storable(key)] = _storable(member) if isinstance(member, str) else member
                if isinstance(member, dict | list):
                    stack.append(member)
        elif isinstance(container, list):
            for i, member in enumerate(container):
                if isinstance(member, str):
                    container[i] = _storable(member)
                elif isinstance(member, dict | list):
                    stack.append(member)
    return value


def _storable(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's verifying context (SSL_CERT_FILE, SSL_CERT_DIR, else certifi), built once per process.

    Loading the CA bundle takes ~0.1 s, and a sync opens a client per resource.
    """
    return httpx.create_ssl_context()


def _raise_if_unhealable(exc: httpx.TransportError, source: str, base_url: str) -> None:
    """Transport failures that the same request will meet again: raised at once instead of retried."""
    host = urlsplit(base_url).hostname or base_url
    seen = list(causes(exc))
    if isinstance(exc, httpx.LocalProtocolError):  # the request itself cannot be sent (a header value)
        raise ConfigError(
            source,
            f"a request to {host} could not be sent: {redact(str(exc))}",
            "Check the key settings for characters a header cannot carry; nothing was sent.",
        ) from None
    if any(isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e) for e in seen):
        raise UpstreamError(
            source,
            f"the TLS certificate of {base_url} could not be verified ({redact(str(exc))})",
            "runyard always verifies certificates. If the host uses a private CA, point SSL_CERT_FILE "
            "(or SSL_CERT_DIR) at a bundle that includes it; otherwise check the base URL.",
        ) from None
    if any(isinstance(e, ssl.SSLError) for e in seen):
        raise UpstreamError(
            source,
            f"{host} did not answer TLS on {base_url} ({redact(str(exc))})",
            "The port may serve plain http: check the scheme and port of the base URL.",
        ) from None
    if any(isinstance(e, socket.gaierror) and e.errno in _NO_SUCH_HOST for e in seen):
        raise UpstreamError(
            source,
            f"the host {host} of {base_url} does not exist (DNS: {redact(str(exc))})",
            "Check the spelling of the base URL or site setting.",
        ) from None


# getaddrinfo's "no such name" answers; EAI_AGAIN (a resolver that is down for now) stays retried.
_NO_SUCH_HOST = frozenset(getattr(socket, name) for name in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, name))


def _backoff_hook(max_wait: float) -> Callable[[Exception], bool | float]:
    def hook(exc: Exception) -> bool | float:
        if not isinstance(exc, _Retryable):
            return False
        if exc.wait is None:
            return True
        if exc.wait > max_wait:
            return False
        return exc.wait

    return hook


def _server_wait(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait: Retry-After, else Datadog's X-RateLimit-Reset."""
    for name in ("retry-after", "x-ratelimit-reset"):
        value = _number(headers.get(name))
        if value is not None:
            return max(value, 0.0) + 0.05
    return None


def _error_detail(response: httpx.Response) -> str:
    """The human part of an error body: JSON:API errors, a list of strings, or {"detail": ...}."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return redact(response.text[:200].strip())
    parts: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, dict):
                    text = " - ".join(str(item[k]) for k in ("title", "detail") if item.get(k))
                    parameter = (item.get("source") or {}).get("parameter") or (item.get("source") or {}).get("pointer")
                    parts.append(f"{text} ({parameter})" if parameter else text)
                else:
                    parts.append(str(item))
        elif "detail" in body:
            parts.append(str(body["detail"]))
    return redact("; ".join(p for p in parts if p))


def _log_retry(details: RetryDetails) -> None:
    log.warning(
        "retrying in %.1fs (attempt %d): %s",
        details.wait_for,
        details.retry_num,
        redact(str(details.caused_by)),
    )


set_on_retry_hooks([_log_retry])
