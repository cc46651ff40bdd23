"""Placeholder, replaced by the real LLM Observability experimentation store."""
from __future__ import annotations
from typing import Any
from sandbox.common import Clock, Request, Response


class LlmObsStore:
    @classmethod
    def generated(cls, seed: int, clock: Clock, **kwargs: Any) -> "LlmObsStore":
        return cls()

    def search(self, request: Request) -> Response:
        return Response(501, {"errors": ["not implemented"]})

    def advance(self, **kwargs: Any) -> dict[str, Any]:
        return {}
