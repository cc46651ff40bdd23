"""Placeholder, replaced by the real topic-discovery runs store."""
from __future__ import annotations
from typing import Any
from sandbox.common import Clock, Request, Response


class PatternsStore:
    @classmethod
    def generated(cls, seed: int, clock: Clock, **kwargs: Any) -> "PatternsStore":
        return cls()

    def list_runs(self, request: Request) -> Response:
        return Response(501, {"errors": ["not implemented"]})

    def config_ids(self) -> list[str]:
        return []

    def advance(self, **kwargs: Any) -> dict[str, Any]:
        return {}
