"""Fault injection knobs: latency, error statuses, 429 storms, dropped and truncated responses."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Literal

FaultKind = Literal["status", "drop", "truncate", "invalid_json", "latency", "stall"]


@dataclass
class FaultRule:
    """One fault, applied to requests whose endpoint matches.

    Attributes:
        kind: ``status`` (answer ``status`` with the API's error body; 429 carries
            ``Retry-After`` and ``X-RateLimit-*``), ``drop`` (close the connection without an
            answer), ``truncate`` (send half the body, then close), ``invalid_json`` (200 with
            a body that is not JSON), ``latency`` (sleep ``seconds``, then answer normally),
            ``stall`` (sleep ``seconds`` before answering: a read timeout for short timeouts).
        endpoint: an endpoint name (``model_lab.list_runs``), an API (``datadog``,
            ``langsmith``) or ``*``.
        count: how many times it fires; None for no limit.
        rate: probability that a matching request is hit.
        after: matching requests let through before the rule starts firing.
        paged_only: match only requests that carry a page cursor (a later page of a walk).
    """

    kind: FaultKind
    endpoint: str = "*"
    status: int = 503
    count: int | None = 1
    rate: float = 1.0
    after: int = 0
    seconds: float = 0.0
    retry_after: float | None = 1.0
    paged_only: bool = False

    def matches(self, endpoint: str, api: str, paged: bool) -> bool:
        return self.endpoint in ("*", endpoint, api) and (paged or not self.paged_only)


class Faults:
    """The active fault rules, consulted once per request. Seeded, so a run is repeatable."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seen: dict[int, int] = {}
        self._seed = seed
        self._random = random.Random(seed)
        self.fired = 0

    def add(self, rule: FaultRule | None = None, /, **kwargs) -> FaultRule:
        rule = rule or FaultRule(**kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._seen.clear()
            self._random = random.Random(self._seed)  # the same faults for the same requests, whatever ran before

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def decide(self, endpoint: str, api: str, paged: bool = False) -> tuple[float, FaultRule | None]:
        """(latency to add, the terminal fault to act out or None) for one request."""
        latency = 0.0
        terminal: FaultRule | None = None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(endpoint, api, paged):
                    continue
                seen = self._seen.get(id(rule), 0)
                self._seen[id(rule)] = seen + 1
                if seen < rule.after or self._random.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    latency += rule.seconds
                elif terminal is None:
                    terminal = rule
                else:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                self.fired += 1
        return latency, terminal
