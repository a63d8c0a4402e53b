"""The JSON nesting bound (issue 11): `nested_deeper_than` agrees with the real depth of
any JSON text, whatever brackets, quotes and escapes its strings hold."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cascade.api.wire import nested_deeper_than

TRICKY = st.text(alphabet='ab[]{}"\\\n\u2028é')
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=40,
)


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(JSON_VALUES, st.integers(min_value=0, max_value=8), st.booleans())
def test_agrees_with_the_real_depth(value: object, limit: int, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert nested_deeper_than(body, limit) == (depth(value) > limit)


def test_the_attack_and_its_neighbours() -> None:
    deep = b'{"a":' * 1000 + b"1" + b"}" * 1000
    assert nested_deeper_than(deep, 32)
    assert not nested_deeper_than(b"[" * 32 + b"]" * 32, 32)
    assert nested_deeper_than(b"[" * 33 + b"]" * 33, 32)
    # brackets in a string are text, however many
    assert not nested_deeper_than(b'["' + b"[" * 100 + b'"]', 32)


def test_malformed_text_is_left_to_the_decoder() -> None:
    assert not nested_deeper_than(b"[" * 40, 32)
    assert not nested_deeper_than(b"]" * 40, 32)
