"""Expression evaluators (definitions/evaluators.py): value-param, JavaScript on V8, jq."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from definitions import evaluators
from definitions.evaluators import (
    DEFAULT_SCRIPT_MAX_MEMORY_MB,
    DEFAULT_SCRIPT_TIMEOUT_MS,
    EvaluationError,
    configure_scripts,
    evaluate,
    evaluate_jq,
    js_syntax_error,
)

# --- value-param ---------------------------------------------------------------------


def test_value_param_returns_the_named_input() -> None:
    assert evaluate("value-param", "case", {"case": "b", "other": 1}) == "b"


def test_value_param_follows_a_dotted_path() -> None:
    inputs = {"a": {"b": {"c": [10, 20]}}}
    assert evaluate("value-param", "a.b", inputs) == {"c": [10, 20]}
    assert evaluate("value-param", "a.b.c.1", inputs) == 20
    assert evaluate("value-param", "a.b.c.-1", inputs) == 20


def test_value_param_prefers_a_key_that_contains_a_dot() -> None:
    assert evaluate("value-param", "a.b", {"a.b": "flat", "a": {"b": "nested"}}) == "flat"


@pytest.mark.parametrize("expression", ["missing", "a.missing", "a.b.c.5", "a.b.c.x", "a.b.c.0.deeper"])
def test_value_param_missing_is_none(expression: str) -> None:
    assert evaluate("value-param", expression, {"a": {"b": {"c": [1]}}}) is None


def test_value_param_keeps_falsy_values() -> None:
    assert evaluate("value-param", "x", {"x": 0}) == 0
    assert evaluate("value-param", "x.y", {"x": {"y": False}}) is False


# --- JavaScript ----------------------------------------------------------------------


@pytest.mark.parametrize("evaluator", ["javascript", "graaljs"])
def test_bare_expression(evaluator: str) -> None:
    assert evaluate(evaluator, "$.x > 1 ? 'a' : 'b'", {"x": 2}) == "a"
    assert evaluate(evaluator, "$.x > 1 ? 'a' : 'b'", {"x": 0}) == "b"


@pytest.mark.parametrize(
    ("script", "inputs", "expected"),
    [
        ("if ($.a) { true; } else { false; }", {"a": 1}, True),
        ("if ($.a) { true; } else { false; }", {"a": 0}, False),
        ("if ($.loop['iteration'] < $.value) { true; } else { false; }", {"loop": {"iteration": 1}, "value": 3}, True),
        ("var total = 0; for (var i = 0; i < $.n; i++) { total += i; } total;", {"n": 5}, 10),
        ("const a = 1; let b = 2; a + b;", {}, 3),
        ("function e() { return {'result': 'processed'}; } e();", {}, {"result": "processed"}),
    ],
    ids=["if-true", "if-false", "conductor-loop-condition", "loop-then-value", "let-const", "named-function"],
)
def test_statements_yield_the_last_expression_value(script: str, inputs: dict[str, Any], expected: Any) -> None:
    assert evaluate("javascript", script, inputs) == expected


def test_immediately_invoked_function() -> None:
    assert evaluate("graaljs", "(function(){ return 1; })()", {}) == 1
    script = "(function () {\r\n  return !$.isApproved;\r\n})();"
    assert evaluate("graaljs", script, {"isApproved": False}) is True


def test_nested_input_through_dollar() -> None:
    inputs = {"order": {"lines": [{"qty": 2, "price": 1.5}, {"qty": 1, "price": 4}]}, "tag": None}
    script = "$.order.lines.reduce(function (s, l) { return s + l.qty * l.price; }, 0)"
    assert evaluate("javascript", script, inputs) == 7
    assert evaluate("javascript", "$.tag === null", inputs) is True
    assert evaluate("javascript", "$.order.lines.length", inputs) == 2


def test_objects_and_arrays_come_back_as_plain_python() -> None:
    result = evaluate("javascript", "({a: [1, 2.5, 'x', null, true], b: {c: {}}})", {})
    assert result == {"a": [1, 2.5, "x", None, True], "b": {"c": {}}}
    assert type(result["a"][0]) is int
    assert type(result["a"][1]) is float


def test_values_json_cannot_hold_become_none() -> None:
    assert evaluate("javascript", "undefined", {}) is None
    assert evaluate("javascript", "(function(){})", {}) is None
    assert evaluate("javascript", "[undefined, NaN, Infinity]", {}) == [None, None, None]
    assert evaluate("javascript", "({a: undefined, b: 1})", {}) == {"b": 1}


def test_strings_with_quotes_and_unicode_round_trip() -> None:
    text = 'it\'s "quoted" \u2028 line sep, \u00e9, \U0001f600'
    assert evaluate("javascript", "$.s + '!'", {"s": text}) == text + "!"
    assert evaluate("javascript", "'a\\'b'", {}) == "a'b"


def test_inputs_are_a_copy() -> None:
    inputs = {"a": [1]}
    evaluate("javascript", "$.a.push(2); $.a.length", inputs)
    assert inputs == {"a": [1]}


def test_no_globals_leak_between_calls() -> None:
    assert evaluate("javascript", "leaked = 42; var local = 1; leaked + local", {}) == 43
    assert evaluate("javascript", "typeof leaked + ',' + typeof local", {}) == "undefined,undefined"
    assert evaluate("javascript", "globalThis.viaGlobal = 1; 0", {}) == 0
    assert evaluate("javascript", "typeof viaGlobal", {}) == "undefined"


def test_a_script_cannot_break_the_runner() -> None:
    evaluate("javascript", "JSON.stringify = function () { return 'hacked'; }; 1", {})
    # Assigning the read-only runner is silently ignored in sloppy mode.
    assert evaluate("javascript", "__podium_eval = null; 1", {}) == 1
    with pytest.raises(EvaluationError, match="TypeError"):
        evaluate("javascript", "'use strict'; __podium_eval = null; 1", {})
    assert evaluate("javascript", "({ok: true})", {}) == {"ok": True}


def test_syntax_error() -> None:
    with pytest.raises(EvaluationError) as caught:
        evaluate("javascript", "if ($.a { true; }", {"a": 1})
    message = str(caught.value)
    assert message.startswith("javascript evaluation failed: SyntaxError")
    assert caught.value.evaluator_type == "javascript"


def test_runtime_errors_name_the_js_error() -> None:
    with pytest.raises(EvaluationError, match="graaljs evaluation failed: ReferenceError: nope is not defined"):
        evaluate("graaljs", "nope.x", {})
    with pytest.raises(EvaluationError, match="TypeError: bad input"):
        evaluate("javascript", "throw new TypeError('bad input')", {})
    with pytest.raises(EvaluationError, match="Cannot read properties of undefined"):
        evaluate("javascript", "$.missing.deeper", {})


def test_empty_script() -> None:
    with pytest.raises(EvaluationError, match="empty"):
        evaluate("javascript", "  ", {})


def test_infinite_loop_hits_the_timeout() -> None:
    with pytest.raises(EvaluationError, match="timed out after 100 ms"):
        evaluate("javascript", "while (true) {}", {}, timeout_ms=100)
    # The thread's context is replaced, and the next script runs normally.
    assert evaluate("javascript", "1 + 1", {}) == 2


@pytest.fixture
def script_limits() -> Iterator[None]:
    """Restores this process's script limits after a test that sets them."""
    yield
    configure_scripts(DEFAULT_SCRIPT_TIMEOUT_MS, DEFAULT_SCRIPT_MAX_MEMORY_MB)


def test_the_configured_timeout_applies(script_limits: None) -> None:
    configure_scripts(timeout_ms=80, max_memory_mb=DEFAULT_SCRIPT_MAX_MEMORY_MB)
    with pytest.raises(EvaluationError, match="timed out after 80 ms"):
        evaluate("javascript", "for (;;) {}", {})


@pytest.mark.parametrize("value", [0, -5])
def test_invalid_limits_are_refused(script_limits: None, value: int) -> None:
    with pytest.raises(ValueError, match="script timeout must be a positive integer"):
        configure_scripts(timeout_ms=value, max_memory_mb=64)
    with pytest.raises(ValueError, match="script memory limit must be a positive integer"):
        configure_scripts(timeout_ms=100, max_memory_mb=value)


def test_memory_limit() -> None:
    script = "var keep = []; while (true) { keep.push(new Array(100000).fill(1.5)); }"
    with pytest.raises(EvaluationError, match="memory limit"):
        evaluate("javascript", script, {}, timeout_ms=10_000, max_memory_mb=16)
    assert evaluate("javascript", "'still alive'", {}) == "still alive"


def test_the_configured_memory_limit_applies(script_limits: None) -> None:
    configure_scripts(timeout_ms=10_000, max_memory_mb=16)
    script = "var keep = []; while (true) { keep.push(new Array(100000).fill(1.5)); }"
    with pytest.raises(EvaluationError, match="16 MB"):
        evaluate("javascript", script, {})


def test_non_json_inputs() -> None:
    assert evaluate("javascript", "$.t.length", {"t": (1, 2, 3)}) == 3
    # V8 gets the inputs as JSON; the Python subset (definitions/js_subset.py) reads only
    # the values the expression names, so it answers without serialising the rest.
    with pytest.raises(EvaluationError, match="not JSON-serialisable"):
        evaluate("javascript", "[1].length", {"o": object()})
    assert evaluate("javascript", "1", {"o": object()}) == 1


def test_each_thread_gets_its_own_context() -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                assert evaluate("javascript", "var mine = $.n * 100 + $.i; mine", {"n": n, "i": i}) == n * 100 + i
            results[n] = evaluate("javascript", "typeof mine", {})
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {n: "undefined" for n in range(4)}


def test_unknown_evaluator() -> None:
    with pytest.raises(EvaluationError, match="python evaluation failed: unknown evaluator type"):
        evaluate("python", "1", {})


def test_js_syntax_error_only_parses() -> None:
    assert js_syntax_error("$.a > 1 ? 'x' : 'y'") is None
    assert js_syntax_error("if ($.a) { true; } else { false; }") is None
    assert js_syntax_error("while (true) {}") is None  # parsed, never run
    error = js_syntax_error("if ($.a { true; }")
    assert error is not None
    assert error.startswith("SyntaxError")


# --- jq ------------------------------------------------------------------------------


def test_jq_single_output() -> None:
    assert evaluate_jq(".a + .b", {"a": 1, "b": 2}) == [3]


def test_jq_multiple_outputs() -> None:
    assert evaluate_jq(".items[] | .name", {"items": [{"name": "x"}, {"name": "y"}]}) == ["x", "y"]
    assert evaluate_jq(".a, .b, .c", {"a": 1, "b": [2], "c": None}) == [1, [2], None]


def test_jq_no_output() -> None:
    assert evaluate_jq(".[]", {}) == []
    assert evaluate_jq("empty", {"a": 1}) == []


def test_jq_conductor_style_query() -> None:
    inputs = {"key1": {"value1": ["a", "b"]}, "key2": {"value2": ["c", "d"]}}
    assert evaluate_jq("{ key3: (.key1.value1 + .key2.value2) }", inputs) == [{"key3": ["a", "b", "c", "d"]}]


def test_jq_syntax_error() -> None:
    with pytest.raises(EvaluationError, match=r"jq evaluation failed: .*syntax error"):
        evaluate_jq(".a[", {})


def test_jq_runtime_error() -> None:
    with pytest.raises(EvaluationError, match="cannot be added"):
        evaluate_jq(".a + 1", {"a": "text"})


def test_jq_compiles_each_query_once() -> None:
    evaluators._compile_jq.cache_clear()
    for n in range(5):
        assert evaluate_jq(".n * 2", {"n": n}) == [n * 2]
    info = evaluators._compile_jq.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_jq_syntax_errors_are_not_cached() -> None:
    evaluators._compile_jq.cache_clear()
    for _ in range(2):
        with pytest.raises(EvaluationError):
            evaluate_jq("][", {})
    assert evaluators._compile_jq.cache_info().currsize == 0
