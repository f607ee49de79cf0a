"""The Python evaluator of simple JavaScript conditions answers exactly as V8 does, or declines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from definitions import evaluators
from definitions.js_subset import try_evaluate


def in_v8(expression: str, inputs: dict[str, Any]) -> Any:
    limits = evaluators._timeout_ms(None), evaluators._max_memory_mb(None)
    return evaluators._evaluate_in_v8("javascript", expression, inputs, *limits)


@pytest.mark.parametrize(
    ("expression", "inputs", "expected"),
    [
        ("$.loop['iteration'] < $.limit", {"loop": {"iteration": 3}, "limit": 5}, True),
        ('$.loop["iteration"] >= $.limit;', {"loop": {"iteration": 5}, "limit": 5}, True),
        ("$.status == 'DONE' && $.count > 0", {"status": "DONE", "count": 0}, False),
        ("$.a || 'fallback'", {"a": ""}, "fallback"),
        ("!($.items[1] === 2)", {"items": [1, 2]}, False),
        ("$.x * 2 - 1", {"x": 1.5}, 2),
        ("$.flag !== true", {"flag": 1}, True),
    ],
)
def test_simple_conditions_are_evaluated_in_python_as_v8_does(expression: str, inputs: Any, expected: Any) -> None:
    assert try_evaluate(expression, inputs) == (True, expected)
    assert in_v8(expression, inputs) == expected


@pytest.mark.parametrize(
    ("expression", "inputs"),
    [
        ("$.missing < 3", {}),  # undefined
        ("$.a < $.b", {"a": "10", "b": 9}),  # coercion
        ("$.a == $.b", {"a": "1", "b": 1}),  # loose equality across types
        ("$.a < $.b", {"a": "b", "b": "a"}),  # string order is by UTF-16 units
        ("$.a / 2", {"a": 4}),
        ("$.n + 1", {"n": 2**53}),
        ("$.items.length > 0", {"items": [1]}),
        ("$.s.indexOf('x') >= 0", {"s": "x"}),
        ("function e() { return 1; } e();", {}),
        ("010 == 8", {}),
        ("$.a == $.b", {"a": [1], "b": [1]}),
        ("1 < 2 < 3", {}),
    ],
)
def test_anything_else_is_left_to_v8(expression: str, inputs: Any) -> None:
    assert try_evaluate(expression, inputs) == (False, None)


def test_evaluate_answers_from_v8_what_the_subset_declines() -> None:
    assert evaluators.evaluate("javascript", "$.items.length > 0", {"items": [1]}) is True
    assert evaluators.evaluate("javascript", "$.missing === undefined", {}) is True


# Random expressions over random inputs: wherever Python answers, V8 answers the same.
SCALARS = st.one_of(
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet="ab ZÉ😀", max_size=3),
    st.booleans(),
    st.none(),
)
INPUTS = st.fixed_dictionaries({"a": SCALARS, "b": SCALARS, "c": st.lists(SCALARS, max_size=3)})
OPERANDS = st.sampled_from(
    ["$.a", "$.b", "$['a']", "$.c[0]", "$.c[2]", "$.missing", "1", "2.5", "0", "'a'", "''", "true", "null"]
)
OPERATORS = st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "===", "!==", "&&", "||", "+", "-", "*"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        operand = draw(OPERANDS)
        return f"!{operand}" if draw(st.integers(0, 5)) == 0 else operand
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    return f"({left} {draw(OPERATORS)} {right})"


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), inputs=INPUTS)
def test_python_and_v8_agree_wherever_python_answers(expression: str, inputs: dict[str, Any]) -> None:
    handled, value = try_evaluate(expression, inputs)
    if handled:
        expected = in_v8(expression, inputs)
        assert value == expected and type(value) is type(expected), (expression, inputs, value, expected)
