"""Walk helpers every source shares: order checks and starting over when a cursor is refused."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TypeVar

from sources.errors import CURSOR_REFUSED_STATUSES, CursorRejected, UpstreamError

log = logging.getLogger("runyard.paging")

T = TypeVar("T")

# A walk whose cursor keeps being refused (expired while a long sync paged, or data moved under
# it) starts over from its first page this many times before the sync gives up.
MAX_CURSOR_RESTARTS = 3


class Restart:
    """Yielded by ``restartable`` before the first page of a walk that starts over."""


RESTART = Restart()


def restartable(walk: Callable[[], Iterator[T]], *, label: str, warnings: list[str]) -> Iterator[T | Restart]:
    """The pages of ``walk()``; when the service refuses a cursor, ``RESTART`` and then the walk again.

    Only the affected walk starts over: the rest of the sync goes on. Consumers reset what they
    track per walk (order checks) on ``RESTART`` and skip rows they already passed on.
    """
    for attempt in itertools.count():
        try:
            yield from walk()
            return
        except CursorRejected as exc:
            if attempt >= MAX_CURSOR_RESTARTS:
                raise
            log.info("%s: %s; reading it again from the first page", label, exc.cause)
            warnings.append(f"{label}: {exc.cause}; read again from the first page")
            yield RESTART


@contextmanager
def cursor_refusal(source: str, query: str, cursor: str | None) -> Iterator[None]:
    """Around one page request: a refusal of a later page's cursor becomes ``CursorRejected``."""
    try:
        yield
    except UpstreamError as exc:
        if cursor and exc.status in CURSOR_REFUSED_STATUSES:
            raise CursorRejected(source, f"{query} refused its page cursor ({exc.cause})") from None
        raise


def is_descending(stamps: list[datetime], previous_last: datetime | None) -> bool:
    """Newest first within the page, and not newer than the last row of the previous page."""
    if previous_last is not None and stamps and stamps[0] > previous_last:
        return False
    return all(a >= b for a, b in itertools.pairwise(stamps))
