"""The sandbox's HTTP server: routing, auth, Datadog rate limits, fault injection, request counts.

Built on the standard library's threading HTTP server rather than an ASGI framework: faults
such as a connection dropped before any answer or a body cut off after half its bytes need
direct control of the socket.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sandbox.common import BadRequest, Request, Response, jsonapi_error
from sandbox.faults import FaultRule, Faults

log = logging.getLogger("runyard.sandbox")

Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    name: str  # endpoint name used by counters and fault rules
    api: str  # "datadog" or "langsmith"
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class RateLimiter:
    """Datadog-style fixed windows, calendar aligned, one bucket per org (API key)."""

    def __init__(self, limit: int, period_s: int, name: str = "llm_obs_and_model_lab") -> None:
        self.limit = limit
        self.period = period_s
        self.name = name
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int], int] = {}
        self.max_in_window = 0
        self.rejected = 0

    def take(self, org: str) -> tuple[bool, dict[str, str]]:
        now = time.time()
        window = int(now // self.period)
        with self._lock:
            used = self._windows.get((org, window), 0) + 1
            self._windows[(org, window)] = used
            for key in [k for k in self._windows if k[1] < window - 1]:
                del self._windows[key]
            allowed = used <= self.limit
            if allowed:
                self.max_in_window = max(self.max_in_window, used)
            else:
                self.rejected += 1
        reset = max(1, math.ceil((window + 1) * self.period - now))
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Period": str(self.period),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Name": self.name,
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        routes: list[Route],
        admin: Handler,
        datadog_keys: tuple[str, str],
        langsmith_key: str,
        rate_limiter: RateLimiter,
        faults: Faults,
    ) -> None:
        self.routes = routes
        self.admin = admin
        self.datadog_keys = datadog_keys
        self.langsmith_key = langsmith_key
        self.rate_limiter = rate_limiter
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if request.path.startswith("/_sandbox/"):
            self._send(self.server.admin(request))
            return
        route = self._route(request)
        if route is None:
            self._send(Response(404, {"errors": ["Not Found"]}))
            return
        with self.server.counts_lock:
            self.server.counts[route.name] += 1
        paged = b'"cursor"' in request.body or any("cursor" in name for name in request.query)
        latency, fault = self.server.faults.decide(route.name, route.api, paged)
        if latency:
            time.sleep(latency)
        if fault is not None and self._act_out(fault, route, request):
            return
        self._send(self._answer(route, request))

    def _route(self, request: Request) -> Route | None:
        for route in self.server.routes:
            match = route.pattern.fullmatch(request.path)
            if match and route.method == request.method:
                request.path_params = match.groupdict()
                return route
        return None

    def _answer(self, route: Route, request: Request) -> Response:
        if route.api == "datadog":
            api_key, app_key = self.server.datadog_keys
            if request.headers.get("dd-api-key") != api_key or request.headers.get("dd-application-key") != app_key:
                return Response(403, {"errors": ["Forbidden"]})
            allowed, headers = self.server.rate_limiter.take(api_key)
            if not allowed:
                return Response(429, {"errors": ["Too many requests"]}, headers)
        else:
            headers = {}
            if request.headers.get("x-api-key") != self.server.langsmith_key:
                return Response(401, {"detail": "Unauthorized"})
        try:
            response = route.handler(request)
        except BadRequest as exc:
            response = (
                jsonapi_error(400, "Bad Request", exc.detail, parameter=exc.parameter, pointer=exc.pointer)
                if route.api == "datadog"
                else Response(400, {"detail": exc.detail})
            )
        except Exception:
            log.exception("sandbox handler %s failed", route.name)
            response = (
                jsonapi_error(500, "Internal Server Error", "sandbox handler failed")
                if route.api == "datadog"
                else Response(500, {"detail": "Internal Server Error"})
            )
        response.headers = {**headers, **response.headers}
        return response

    def _act_out(self, fault: FaultRule, route: Route, request: Request) -> bool:
        """Perform a terminal fault; False when the request should still be answered."""
        if fault.kind == "stall":
            time.sleep(fault.seconds)
            return False
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.close()
            return True
        if fault.kind == "status":
            headers: dict[str, str] = {}
            if fault.status == 429:
                reset = str(math.ceil(fault.retry_after if fault.retry_after is not None else 1))
                headers = {
                    "Retry-After": reset,
                    "X-RateLimit-Reset": reset,
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Limit": str(self.server.rate_limiter.limit),
                    "X-RateLimit-Period": str(self.server.rate_limiter.period),
                    "X-RateLimit-Name": self.server.rate_limiter.name,
                }
                body: Any = (
                    {"errors": ["Too many requests"]} if route.api == "datadog" else {"detail": "Too many requests"}
                )
            elif route.api == "datadog":
                body = jsonapi_error(fault.status, HTTPStatus(fault.status).phrase, "injected fault").body
            else:
                body = {"detail": "injected fault"}
            self._send(Response(fault.status, body, headers))
            return True
        if fault.kind in ("invalid_json", "truncate"):
            payload = _payload(self._answer(route, request).body)
            if fault.kind == "invalid_json":
                self._send(Response(200, payload[: max(1, len(payload) - 7)] + b"}}{"))
                return True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.close()
            return True
        return False

    def _send(self, response: Response) -> None:
        payload = _payload(response.body)
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _payload(body: Any) -> bytes:
    return body if isinstance(body, bytes) else orjson.dumps(body)
