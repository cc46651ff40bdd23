"""LangSmith's HTTP client (``x-api-key`` auth) and the cursor walk over ``POST /api/v2/runs/query``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sources.errors import CredentialsError, SyncError, UpstreamError
from sources.http_client import ApiClient, RetryPolicy, SourceStats
from sources.langsmith.settings import QUERY_RUNS_PATH
from sources.paging import cursor_refusal

if TYPE_CHECKING:
    import pyarrow as pa

    from sources.langsmith.run_table import RunTables

SOURCE = "langsmith"
ENDPOINT = "langsmith.query_runs"  # the name requests are counted under (and the sandbox's route name)


def make_client(
    *,
    api_key: str,
    base_url: str,
    workspace_id: str | None = None,
    stats: SourceStats | None = None,
    retry: RetryPolicy | None = None,
) -> ApiClient:
    """An ApiClient with LangSmith's auth headers; ``X-Tenant-Id`` only when a workspace is set."""

    def on_auth_failure(status: int, detail: str) -> SyncError:
        workspace = " and LANGSMITH_WORKSPACE_ID (for a key that spans several workspaces)" if workspace_id else ""
        return CredentialsError(
            SOURCE,
            f"{base_url} answered {status} ({detail or 'Unauthorized'}): it rejected the API key",
            "Check LANGSMITH_API_KEY (or SOURCES__LANGSMITH__API_KEY), that it may read the configured "
            f"projects{workspace}, and that LANGSMITH_ENDPOINT points at the region the key belongs to "
            f"(now {base_url}).",
        )

    headers = {"x-api-key": api_key}
    if workspace_id:
        headers["X-Tenant-Id"] = workspace_id
    return ApiClient(
        source=SOURCE,
        base_url=base_url,
        headers=headers,
        secret_values=(api_key,),
        on_auth_failure=on_auth_failure,
        stats=stats,
        retry=retry,
    )


def iter_run_pages(client: ApiClient, body: Mapping[str, Any], tables: RunTables) -> Iterator[pa.Table]:
    """The typed table of every page of one runs query, following ``next_cursor`` until the server omits it.

    The body is resent unchanged with only ``cursor`` added (the API binds a cursor to the
    query it came from). A cursor seen before means the walk would loop: that is an error.
    """
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        request = {**body, "cursor": cursor} if cursor else dict(body)
        with cursor_refusal(SOURCE, "the runs query", cursor):
            _, decoded = client.request_json(
                "POST", QUERY_RUNS_PATH, endpoint=ENDPOINT, body=request, decode=tables.decode
            )
        page, cursor = tables.read(decoded)
        del decoded  # not held through the next request
        yield page
        del page
        if not cursor:
            return
        if cursor in seen:
            raise UpstreamError(
                SOURCE,
                "the runs query returned a next_cursor it had already returned (pagination loop)",
                "This is a service-side problem; report it to LangChain and run the sync again later.",
            )
        seen.add(cursor)
