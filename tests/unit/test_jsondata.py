"""jsondata.loads: strict, bounded JSON that never raises anything but InvalidJsonError (a ValueError)."""

from __future__ import annotations

import pytest

from clerk_sync import jsondata
from clerk_sync.jsondata import MAX_JSON_DEPTH, InvalidJsonError


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (_nested(5000), "json_too_deep"),  # json.loads raises RecursionError here
        (_nested(MAX_JSON_DEPTH + 1), "json_too_deep"),
        ('{"a": NaN}', "malformed_json"),
        ('{"a": -Infinity}', "malformed_json"),
        ('{"a": "\\ud800"}', "invalid_unicode"),
        ('{"\\udfff": 1}', "invalid_unicode"),
        ("\ufeff{}", "malformed_json"),
        ("{", "malformed_json"),
        ("", "malformed_json"),
        (b"\xff{}", "not_utf8"),
        ('{"a": 1}'.encode("utf-16"), "not_utf8"),
    ],
    ids=[
        "5000-deep",
        "max+1-deep",
        "nan",
        "infinity",
        "lone-surrogate",
        "surrogate-key",
        "bom",
        "truncated",
        "empty",
        "latin1",
        "utf16",
    ],
)
def test_refused_json_names_the_problem_and_never_the_input(text: str | bytes, code: str) -> None:
    """Fails before the fix: json.loads raised RecursionError (not a ValueError) for deep input, and accepted
    NaN and lone surrogates that pydantic and DynamoDB then failed on."""
    with pytest.raises(InvalidJsonError) as raised:
        jsondata.loads(text)
    assert raised.value.code == code
    assert isinstance(raised.value, ValueError)
    assert "ud800" not in raised.value.message
    assert raised.value.__cause__ is None  # a JSONDecodeError would carry the whole document


def test_json_within_the_limits_is_read() -> None:
    assert jsondata.loads(_nested(MAX_JSON_DEPTH)) is not None
    assert jsondata.loads('{"a": 1e200, "b": 123456789012345678901234567890123456789}')["a"] == 1e200
    assert jsondata.loads(b'{"emoji": "\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}


def test_nesting_depth_counts_containers_without_recursing() -> None:
    value: list[object] = []
    for _ in range(10_000):
        value = [value]
    assert jsondata.nesting_depth(value) == 10_001
    assert jsondata.nesting_depth({"a": [1, {"b": 2}]}) == 3
    assert jsondata.nesting_depth("x") == 0
