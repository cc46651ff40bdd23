"""When a LangSmith server refuses part of a query: which part, so the sync can narrow it and go on.

The published API reference is the contract runyard sends by default; a server may still be
older (self-hosted LangSmith lags the SaaS) or newer than what runyard asks for. Two refusals
are expected, and neither should stop a sync:

- select tokens it does not know: a server validating the documented enum answers 400 (or 422)
  to the whole query. The answer usually lists the valid values or names the bad ones; when it
  does neither, the tokens the reference does not document are dropped.
- ``min_feedback_modified_at`` / ``max_feedback_modified_at`` (SDK-only, not in the reference):
  a server that does not know them refuses the late-feedback query (runs.py falls back).

Only the wording of a 400/422 is read here; the request that got it is the caller's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sources.errors import UpstreamError
from sources.langsmith.settings import DOCUMENTED_SELECTS, SELECT_TOKENS

REFUSAL_STATUSES = frozenset({400, 422})
_TOKEN = re.compile(r"\b[A-Z][A-Z_]*[A-Z]\b")
_INPUT = re.compile(r"""['"]input['"]\s*:\s*['"]([A-Z_]+)['"]""")
# What precedes a list of accepted values in validation errors ("valid values: ...", "Input should
# be 'ID', 'NAME' or ...", "must be one of ..."); "invalid" does not match (no word boundary).
_ACCEPTED = re.compile(r"\b(valid|allowed|accepted|expected|permitted|supported|should be|one of)\b", re.I)


def refused_selects(exc: UpstreamError, sent: Sequence[str]) -> tuple[str, ...]:
    """The tokens of ``sent`` a refusal says the server does not take; () when it is not about selects.

    Read in this order: the values a validation error quotes as its input (pydantic's 422), a
    list of accepted values (everything sent outside it), the tokens the message names, and
    failing all of those every sent token the published reference does not document.
    """
    text = exc.detail or exc.cause
    if exc.status not in REFUSAL_STATUSES or "select" not in text.lower():
        return ()
    known = set(SELECT_TOKENS)
    if dropped := tuple(t for t in sent if t in set(_INPUT.findall(text))):
        return dropped
    text = _INPUT.sub("", text)
    marker = _ACCEPTED.search(text)
    if marker:
        accepted = {t for t in _TOKEN.findall(text[marker.end() :]) if t in known}
        if len(accepted) > 1 and (dropped := tuple(t for t in sent if t not in accepted)):
            return dropped
    named = {t for t in _TOKEN.findall(text[: marker.start()] if marker else text) if t in known}
    if dropped := tuple(t for t in sent if t in named):
        return dropped
    return tuple(t for t in sent if t not in DOCUMENTED_SELECTS)


def is_refusal(exc: UpstreamError) -> bool:
    """A 400/422 to a query's first page: the server does not accept what the query asks."""
    return exc.status in REFUSAL_STATUSES
