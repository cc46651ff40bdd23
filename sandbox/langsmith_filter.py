"""The subset of LangSmith's filter query language the sandbox understands.

Grammar: ``call := name "(" arg ("," arg)* ")"``, an argument being a call, a field name, a
string (double or single quotes, backslash escapes), a number, ``true``, ``false`` or ``null``.

- ``and(...)``, ``or(...)``, ``not(x)``;
- ``eq``, ``neq``, ``gt``, ``gte``, ``lt``, ``lte`` on a field and a value. ``run_type``,
  ``name`` and ``status`` compare case-insensitively (``eq(status, "error")``), ids exactly;
  ``latency`` takes seconds (``5``, ``"5s"``, ``"500ms"``); times take RFC 3339 strings;
  ``eq(error, true)`` asks whether the run errored. A run without a value for the field
  (``total_tokens`` on a tool run) matches no comparison, ``neq`` included, as in SQL;
- ``has(tags, "x")`` and ``has(metadata, '{"key": "value"}')`` (a JSON object the run's
  metadata must contain);
- ``search("text")``: case-insensitive substring of the name, the input and output previews
  or the error;
- ``metadata_key``/``metadata_value`` and ``feedback_key``/``feedback_score`` conditions
  inside one ``and(...)`` must hold for the same metadata entry or feedback key, as in
  LangSmith's ``and(eq(feedback_key, "correctness"), gt(feedback_score, 0.5))``.

Anything else (``in``, ``like``, other fields) is rejected with a FilterError naming it, which
the store turns into a 400.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.common import parse_rfc3339

# The store's view of one run: field name -> value (None when the run has none): times in
# microseconds, latency in seconds. Besides the comparable fields below it answers "tags" (list),
# "metadata" (dict), "feedback" (key -> average score, None for categorical feedback) and "text"
# (what search() looks through, lower-cased).
Getter = Callable[[str], Any]
Predicate = Callable[[Getter], bool]

TEXT_FIELDS = frozenset({"run_type", "name", "status"})
ID_FIELDS = frozenset({"id", "trace_id", "thread_id"})
NUMBER_FIELDS = frozenset(
    {"latency", "total_tokens", "prompt_tokens", "completion_tokens", "total_cost", "prompt_cost", "completion_cost"}
)
TIME_FIELDS = frozenset({"start_time", "end_time"})
PAIR_FIELDS = {
    "metadata_key": "metadata",
    "metadata_value": "metadata",
    "feedback_key": "feedback",
    "feedback_score": "feedback",
}
FIELDS = TEXT_FIELDS | ID_FIELDS | NUMBER_FIELDS | TIME_FIELDS | {"is_root", "error"} | set(PAIR_FIELDS)
COMPARATORS = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
EQUALITY_ONLY = TEXT_FIELDS | ID_FIELDS | {"is_root", "error", "metadata_key", "metadata_value", "feedback_key"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
      | (?P<name>[A-Za-z_]\w*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<punct>[(),])
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}


class FilterError(ValueError):
    """An expression the sandbox cannot parse or does not support."""


@dataclass(frozen=True)
class Filter:
    predicate: Predicate
    uses_feedback: bool  # min/max_feedback_modified_at need a feedback condition

    def __call__(self, get: Getter) -> bool:
        return self.predicate(get)


def parse_filter(text: str) -> Filter:
    """Parse and compile ``text``; raises FilterError with a message fit for a 400 body."""
    if not isinstance(text, str) or not text.strip():
        raise FilterError("empty filter expression")
    parser = _Parser(text)
    tree = parser.expression()
    parser.expect_end()
    compiled = _compile(tree)
    return Filter(_close(compiled), _mentions(tree, {"feedback_key", "feedback_score"}))


# -- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class _Field:
    name: str


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, Any, int]] = []
        pos, end = 0, len(text.rstrip())
        while pos < end:
            match = _TOKEN.match(text, pos)
            if match is None:
                at = len(text) - len(text[pos:].lstrip())
                raise FilterError(f"unexpected character {text[at]!r} at offset {at}")
            kind = match.lastgroup or ""
            raw = match.group(kind)
            self.tokens.append((kind, raw, match.start(kind)))
            pos = match.end()
        self.i = 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any, int]:
        token = self.peek()
        if token is None:
            raise FilterError("unexpected end of filter expression")
        self.i += 1
        return token

    def expect(self, punct: str) -> None:
        kind, raw, pos = self.take()
        if kind != "punct" or raw != punct:
            raise FilterError(f"expected {punct!r} at offset {pos}, found {raw!r}")

    def expect_end(self) -> None:
        token = self.peek()
        if token is not None:
            raise FilterError(f"unexpected {token[1]!r} at offset {token[2]} after the expression")

    def expression(self) -> _Call:
        kind, raw, pos = self.take()
        if kind != "name":
            raise FilterError(f"expected a function such as eq( or and( at offset {pos}, found {raw!r}")
        return self._call(raw, pos)

    def _call(self, name: str, pos: int) -> _Call:
        nxt = self.peek()
        if nxt is None or nxt[1] != "(":
            raise FilterError(f"expected '(' after {name!r} at offset {pos}")
        self.take()
        args: list[Any] = []
        while True:
            args.append(self._argument())
            kind, raw, at = self.take()
            if kind == "punct" and raw == ")":
                return _Call(name.lower(), tuple(args))
            if kind != "punct" or raw != ",":
                raise FilterError(f"expected ',' or ')' at offset {at}, found {raw!r}")

    def _argument(self) -> Any:
        kind, raw, pos = self.take()
        if kind == "number":
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if kind == "string":
            return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), raw[1:-1], flags=re.DOTALL)
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                return self._call(raw, pos)
            lowered = raw.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            return _Field(lowered)
        raise FilterError(f"unexpected {raw!r} at offset {pos}")


def _mentions(node: Any, fields: set[str]) -> bool:
    if isinstance(node, _Field):
        return node.name in fields
    return isinstance(node, _Call) and any(_mentions(a, fields) for a in node.args)


# -- compiling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EntryTest:
    """A condition on one metadata entry or feedback key; grouped per and(), see _close."""

    family: str  # "metadata" or "feedback"
    test: Callable[[str, Any], bool]  # (key, value) -> bool


def _close(compiled: Predicate | _EntryTest) -> Predicate:
    return _any_entry(compiled.family, [compiled]) if isinstance(compiled, _EntryTest) else compiled


def _any_entry(family: str, tests: list[_EntryTest]) -> Predicate:
    def predicate(get: Getter) -> bool:
        entries = get(family) or {}
        return any(all(t.test(k, v) for t in tests) for k, v in entries.items())

    return predicate


def _compile(node: Any) -> Predicate | _EntryTest:
    if not isinstance(node, _Call):
        raise FilterError(f"expected a condition, found {_describe(node)}")
    name, args = node.name, node.args
    if name in ("and", "or"):
        if not args:
            raise FilterError(f"{name}() needs at least one condition")
        parts = [_compile(a) for a in args]
        if name == "or":
            preds = [_close(p) for p in parts]
            return lambda get: any(p(get) for p in preds)
        plain = [p for p in parts if not isinstance(p, _EntryTest)]
        for family in ("metadata", "feedback"):
            tests = [p for p in parts if isinstance(p, _EntryTest) and p.family == family]
            if tests:
                plain.append(_any_entry(family, tests))
        return lambda get: all(p(get) for p in plain)
    if name == "not":
        if len(args) != 1:
            raise FilterError("not() takes exactly one condition")
        inner = _close(_compile(args[0]))
        return lambda get: not inner(get)
    if name in COMPARATORS:
        return _comparison(name, args)
    if name == "has":
        return _has(args)
    if name == "search":
        if len(args) != 1 or not isinstance(args[0], str):
            raise FilterError('search() takes one string, e.g. search("timeout")')
        needle = args[0].lower()
        return lambda get: needle in (get("text") or "")
    raise FilterError(
        f"unsupported function {name!r}; the sandbox supports and, or, not, eq, neq, gt, gte, lt, lte, has, search"
    )


def _comparison(name: str, args: tuple[Any, ...]) -> Predicate | _EntryTest:
    if len(args) != 2 or not isinstance(args[0], _Field):
        raise FilterError(f"{name}() takes a field and a value, e.g. {name}(latency, 5)")
    field, value = args[0].name, args[1]
    if isinstance(value, _Field | _Call):
        raise FilterError(f"{name}({field}, ...): the value must be a string, number, boolean or null")
    if field not in FIELDS:
        raise FilterError(f"unsupported filter field {field!r}; supported: {', '.join(sorted(FIELDS))}")
    if name not in ("eq", "neq") and field in EQUALITY_ONLY:
        raise FilterError(f"{name}() is not supported on {field!r}; use eq or neq")
    op = COMPARATORS[name]
    if field in PAIR_FIELDS:
        return _pair_test(field, op, value)
    if field == "error":
        if isinstance(value, bool) or value is None:
            errored = bool(value)
            want = errored if name == "eq" else not errored
            return lambda get: (get("error") is not None) == want
        expected = _string(field, value)
        return lambda get: (err := get("error")) is not None and op(err, expected)
    expected = _coerce(field, value)
    lowered = field in TEXT_FIELDS or field in ID_FIELDS

    def predicate(get: Getter) -> bool:
        actual = get(field)
        if actual is None:
            return False
        return op(actual.lower() if lowered else actual, expected)

    return predicate


def _coerce(field: str, value: Any) -> Any:
    if field in TEXT_FIELDS or field in ID_FIELDS:
        return _string(field, value).lower()
    if field == "is_root":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise FilterError(f"is_root takes true or false, not {value!r}")
    if field in TIME_FIELDS:
        try:
            return parse_rfc3339(_string(field, value))
        except ValueError:
            raise FilterError(f'{field} takes an RFC 3339 time such as "2024-01-01T00:00:00Z", not {value!r}') from None
    if field == "latency" and isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise FilterError(f'latency takes seconds (5, "5s" or "500ms"), not {value!r}')
        return float(match[1]) * _DURATION_UNITS[match[2]]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FilterError(f"{field} takes a number, not {value!r}")
    return value


def _string(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FilterError(f"{field} takes a string, not {value!r}")
    return value


def _pair_test(field: str, op: Callable[[Any, Any], bool], value: Any) -> _EntryTest:
    family = PAIR_FIELDS[field]
    if field.endswith("_key"):
        key = _string(field, value)
        return _EntryTest(family, lambda k, v: op(k, key))
    if field == "feedback_score":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FilterError(f"feedback_score takes a number, not {value!r}")
        return _EntryTest(family, lambda k, v: v is not None and op(v, value))
    if isinstance(value, dict | list):
        raise FilterError("metadata_value takes a string, number or boolean")
    return _EntryTest(family, lambda k, v: op(_scalar(v), _scalar(value)))


def _scalar(value: Any) -> str:
    """Metadata values compared as LangSmith stores them: as text (true, 1.5, abc)."""
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def _has(args: tuple[Any, ...]) -> Predicate:
    if len(args) != 2 or not isinstance(args[0], _Field) or not isinstance(args[1], str):
        raise FilterError('has() takes a field and a string, e.g. has(tags, "production")')
    field, value = args[0].name, args[1]
    if field == "tags":
        return lambda get: value in (get("tags") or ())
    if field == "metadata":
        try:
            wanted = json.loads(value)
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict):
            raise FilterError('has(metadata, ...) takes a JSON object, e.g. has(metadata, \'{"env": "prod"}\')')
        return lambda get: _contains(get("metadata") or {}, wanted)
    raise FilterError(f"has() is supported on tags and metadata, not {field!r}")


def _contains(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in wanted.items())
    return actual == wanted


def _describe(node: Any) -> str:
    return f"field {node.name!r}" if isinstance(node, _Field) else repr(node)
