"""Rows a sync reads again are loaded only when they changed.

Every incremental walk reads some rows a second time on purpose: the lag window below its
cursor (for rows that reached the service late), the unfinished Model Lab runs and pending
LangSmith runs it follows, the runs whose feedback changed within the lag. Most come back as
they were. Each reader records a short digest of the rows it will read again next time in its
own state; a re-read row whose digest matches is dropped before it reaches the load, so a sync
with nothing new loads nothing (and, with nothing else to record, skips the load altogether).

A digest is 8 bytes of BLAKE2b over the row's JSON: a changed row that matched by
chance would have to beat odds of 1 in 2**64.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson


def digest(record: Any) -> str | None:
    """A short fingerprint of a JSON-like record (dicts, lists, scalars, datetimes); None for one
    orjson cannot write (nested past its depth limit), which is then always loaded.

    Keys are taken in the order they come, not sorted (several times faster on nested runs): a
    service that reorders a record's fields makes it load once more, nothing worse.
    """
    try:
        text = orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return None
    return hashlib.blake2b(text, digest_size=8).hexdigest()


class Rereads:
    """The digests a sync started with (``previous``) and the ones it leaves for the next (``current``)."""

    def __init__(self, previous: Mapping[str, str] | None = None) -> None:
        self.previous = dict(previous or {})
        self.current: dict[str, str] = {}

    def unchanged(self, key: str, record: Any, *, keep: bool) -> bool:
        """Whether ``record`` is the row loaded last time; ``keep``: the next sync will read it again."""
        if not keep and key not in self.previous:
            return False
        fingerprint = digest(record)
        if fingerprint is None:
            return False
        if keep:
            self.current[key] = fingerprint
        return self.previous.get(key) == fingerprint
