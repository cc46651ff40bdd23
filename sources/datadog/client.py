"""Datadog's HTTP client (auth, rate-limit pacing) and the page walkers of its endpoints."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sources.datadog.settings import (
    LLM_OBS_SEARCH_PATH,
    MODEL_LAB_PAGE_SIZE,
    MODEL_LAB_RUN_PATH,
    MODEL_LAB_RUNS_PATH,
    PATTERNS_RUNS_PATH,
)
from sources.errors import CredentialsError, SyncError, UpstreamError
from sources.http_client import ApiClient, RateLimitPacer, RetryPolicy, SourceStats
from sources.paging import cursor_refusal

SOURCE = "datadog"


def make_client(
    *,
    api_key: str,
    app_key: str,
    base_url: str,
    site: str,
    pacer: RateLimitPacer,
    stats: SourceStats | None = None,
    retry: RetryPolicy | None = None,
) -> ApiClient:
    """An ApiClient with Datadog's auth headers; ``pacer`` is shared by every client of one org."""

    def on_auth_failure(status: int, detail: str) -> SyncError:
        return CredentialsError(
            SOURCE,
            f"{base_url} answered {status} ({detail or 'Forbidden'}): it rejected the API key or the application key",
            "Check DD_API_KEY and DD_APP_KEY (or SOURCES__DATADOG__API_KEY / SOURCES__DATADOG__APP_KEY), "
            "that the application key is allowed to read Model Lab and LLM Observability, and that "
            f"DD_SITE matches the site your keys belong to (now {site!r}).",
        )

    return ApiClient(
        source=SOURCE,
        base_url=base_url,
        headers={"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key},
        secret_values=(api_key, app_key),
        on_auth_failure=on_auth_failure,
        pacer=pacer,
        stats=stats,
        retry=retry,
    )


@dataclass(frozen=True)
class RunPage:
    """One page of the Model Lab run list, with the server's own pagination metadata."""

    runs: list[dict[str, Any]]
    number: int
    total: int
    next_number: int | None
    last_number: int | None = None


def fetch_run_page(
    client: ApiClient, query: Mapping[str, Any], *, number: int | None = None, size: int = MODEL_LAB_PAGE_SIZE
) -> RunPage:
    """One page of the run list. Without ``number`` the server picks its first page."""
    params = {**query, "page[size]": size}
    if number is not None:
        params["page[number]"] = number
    _, body = client.request_json("GET", MODEL_LAB_RUNS_PATH, endpoint="model_lab.list_runs", params=params)
    return _parse_page(body)


def iter_run_pages(client: ApiClient, query: Mapping[str, Any], *, concurrency: int = 1) -> Iterator[RunPage]:
    """Walk the run list by the server's own page numbers until they run out, in order.

    The first request carries no page number (the live service numbers pages from 0 while its
    docs say 1); every later one asks for a number the server announced. ``links`` are ignored:
    live, they point at another host. With ``concurrency`` above 1 (for walks that read every
    page), the pages up to the first page's ``meta.page.last_number`` are asked for that many at
    a time, each checked to be the page asked for; past it (the list grew meanwhile) the walk
    follows ``next_number`` one page at a time.
    """
    page = fetch_run_page(client, query)
    if concurrency > 1 and page.last_number is not None and _continues(page):
        ahead = iter(range(page.next_number, page.last_number + 1))  # type: ignore[arg-type]
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="list-pages") as pool:
            try:
                # Twice as many asked for as fetched at once: the fetches go on while the caller is busy.
                asked = deque(
                    (number, pool.submit(fetch_run_page, client, query, number=number))
                    for number in itertools.islice(ahead, 2 * concurrency)
                )
                yield page
                while asked and page.runs:
                    number, future = asked.popleft()
                    if (following := next(ahead, None)) is not None:
                        asked.append((following, pool.submit(fetch_run_page, client, query, number=following)))
                    page = future.result()
                    if page.number != number:
                        raise _malformed(
                            "the Model Lab run list", f"page {number} was asked for, page {page.number} came"
                        )
                    yield page
            finally:
                pool.shutdown(cancel_futures=True)
        if not page.runs:
            return
    else:
        yield page
    while _continues(page):
        page = fetch_run_page(client, query, number=page.next_number)
        yield page


def _continues(page: RunPage) -> bool:
    """Whether the server announced a page after this one; a number that does not move on is an error."""
    if page.next_number is None or not page.runs:
        return False
    if page.next_number <= page.number:
        raise UpstreamError(
            SOURCE,
            f"Model Lab pagination went backwards (page {page.number} announced next page {page.next_number})",
            "This is a service-side problem; report it to Datadog and run the sync again later.",
        )
    return True


def get_run(client: ApiClient, run_id: int | str) -> dict[str, Any]:
    """GET one run. Raises NotFoundError for a 404."""
    _, body = client.request_json("GET", MODEL_LAB_RUN_PATH.format(run_id=run_id), endpoint="model_lab.get_run")
    try:
        return body["data"]
    except (KeyError, TypeError):
        raise _malformed(f"Model Lab run {run_id}", "no 'data' object") from None


def _parse_page(body: Any) -> RunPage:
    try:
        meta = body["meta"]["page"]
        runs = body["data"]
        next_number, last_number = meta.get("next_number"), meta.get("last_number")
        return RunPage(
            runs=runs,
            number=int(meta["number"]),
            total=int(meta["total"]),
            next_number=int(next_number) if next_number is not None else None,
            last_number=int(last_number) if last_number is not None else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("the Model Lab run list", f"missing or malformed {exc}") from None


def _malformed(what: str, why: str) -> UpstreamError:
    return UpstreamError(
        SOURCE,
        f"the response for {what} is not shaped as documented ({why})",
        "The API may have changed; run with --debug and report the response.",
    )


def iter_search_pages(
    client: ApiClient, scope: str, search_filter: Mapping[str, Any], limit: int, extra: Mapping[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """Experimentation search pages for one scope: ``meta.after`` is the next ``page.cursor``.

    206 Partial Content means more pages remain, 200 means this is the last one (the
    client accepts any 2xx); a missing ``meta.after`` ends the walk too.
    """
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page: dict[str, Any] = {"limit": limit}
        if cursor:
            page["cursor"] = cursor
        body = {
            "data": {"type": "experimentation", "attributes": {"filter": dict(search_filter), "page": page, **extra}}
        }
        with cursor_refusal(SOURCE, f"the {scope} search", cursor):
            status, answer = client.request_json("POST", LLM_OBS_SEARCH_PATH, endpoint="llm_obs.search", body=body)
        try:
            items = answer["data"]["attributes"].get(scope) or []
            after = (answer.get("meta") or {}).get("after")
        except (KeyError, TypeError, AttributeError):
            raise _malformed(f"the {scope} search", "no data.attributes object") from None
        yield items
        if status == 200 or not after:
            return
        if after in seen:
            raise UpstreamError(
                SOURCE,
                f"the experimentation search for {scope} returned the same cursor twice (a pagination loop)",
                "This is a service-side problem; report it to Datadog and run the sync again later.",
            )
        seen.add(after)
        cursor = after


def list_patterns_runs(client: ApiClient, config_id: str) -> dict[str, Any]:
    """The completed topic-discovery runs of one configuration (no pagination: one call per id)."""
    _, body = client.request_json(
        "GET", PATTERNS_RUNS_PATH, endpoint="llm_obs.topic_discovery_runs", params={"config_id": config_id}
    )
    try:
        return body["data"]
    except (KeyError, TypeError):
        raise _malformed(f"topic-discovery configuration {config_id}", "no 'data' object") from None
