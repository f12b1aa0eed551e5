"""JSON as clerk-sync reads it from clients and from webhooks: strict, UTF-8, and bounded in depth.

Python's json module recurses, so a body nested about a thousand levels deep raises `RecursionError` (not a
`ValueError`), and pydantic refuses to serialize data nested deeper than 255 levels. Bodies are parsed here and
refused, with a `ValueError` that names the problem and never quotes the input, when they nest deeper than
`MAX_JSON_DEPTH`, hold `NaN`/`Infinity` or a lone UTF-16 surrogate (not text UTF-8 or DynamoDB can carry), or
are not UTF-8 (docs/decisions/0015). Plain Python: any module may import it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

# The deepest JSON clerk-sync accepts in a body: far beyond any real Clerk payload or API request, well within
# what json (about 1,000 levels, less the caller's stack) and pydantic (255) can handle after it.
MAX_JSON_DEPTH: Final = 128

_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJsonError(ValueError):
    """Text clerk-sync does not read as JSON; `code` is a short reason (a metric dimension), `message` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: str | bytes, *, what: str = "the body", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of `data`, or `InvalidJsonError` (never `RecursionError`); `what` names it in messages."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJsonError("not_utf8", f"{what} is not UTF-8") from None
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidJsonError("json_too_deep", f"{what} nests deeper than {max_depth} levels") from None
    except ValueError:
        # Not chained: JSONDecodeError keeps the whole document in `.doc`.
        raise InvalidJsonError("malformed_json", f"{what} is not valid JSON") from None
    problem = _problem(value, max_depth)
    if problem == "json_too_deep":
        raise InvalidJsonError(problem, f"{what} nests deeper than {max_depth} levels")
    if problem == "invalid_unicode":
        raise InvalidJsonError(problem, f"{what} holds a lone UTF-16 surrogate escape")
    return value


def nesting_depth(value: Any) -> int:
    """How many objects and arrays deep `value` nests (a scalar is 0, `{}` is 1), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((item, depth + 1) for item in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((item, depth + 1) for item in node)
    return deepest


def _problem(value: Any, max_depth: int) -> str | None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > max_depth:
                return "json_too_deep"
            for key, item in node.items():
                if _SURROGATE.search(key):
                    return "invalid_unicode"
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            if depth > max_depth:
                return "json_too_deep"
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str) and _SURROGATE.search(node):
            return "invalid_unicode"
    return None


def has_lone_surrogate(text: str) -> bool:
    """True when `text` cannot be encoded as UTF-8 (a lone surrogate, as `json.loads` makes of `"\\ud800"`)."""
    return _SURROGATE.search(text) is not None
