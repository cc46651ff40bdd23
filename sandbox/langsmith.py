"""Placeholder, replaced by the real LangSmith runs store."""
from __future__ import annotations
from typing import Any
from sandbox.common import Clock, Request, Response


class LangSmithStore:
    @classmethod
    def generated(cls, seed: int, clock: Clock, **kwargs: Any) -> "LangSmithStore":
        return cls()

    def query_runs(self, request: Request) -> Response:
        return Response(501, {"detail": "not implemented"})

    def project_ids(self) -> list[str]:
        return []

    def earliest_start(self) -> str:
        return "2026-01-01T00:00:00Z"

    def advance(self, **kwargs: Any) -> dict[str, Any]:
        return {}
