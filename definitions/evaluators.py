"""The expression evaluators behind SWITCH, DECISION, DO_WHILE, INLINE, LAMBDA and
JSON_JQ_TRANSFORM: ``value-param``, ``javascript`` / ``graaljs`` and jq.

JavaScript runs on V8 (``mini_racer``) with the same surface Conductor's script
evaluator offers: the task input is bound to ``$`` and the result is the value of the
script's last expression statement, so Nashorn-era scripts such as
``if ($.a) { true; } else { false; }`` keep working. ``javascript`` and ``graaljs`` are
the same thing here; Conductor only distinguishes them by the engine behind them.

Each thread keeps one V8 isolate (creating one costs milliseconds, evaluating a short
script ~0.2 ms). Isolation between calls comes from running every script in a fresh
function scope and removing any global it created, so one workflow's script cannot
see another's variables. Mutating built-ins (``Array.prototype``) is not undone; a
script that wants to sabotage later scripts on its own thread can, which is the same
trust level Conductor gives its scripts.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jq
import orjson
from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSParseException,
    JSTimeoutException,
    MiniRacer,
)

from definitions import js_subset

__all__ = [
    "DEFAULT_SCRIPT_MAX_MEMORY_MB",
    "DEFAULT_SCRIPT_TIMEOUT_MS",
    "EvaluationError",
    "ScriptLimits",
    "configure_scripts",
    "evaluate",
    "evaluate_jq",
    "js_syntax_error",
]

DEFAULT_SCRIPT_TIMEOUT_MS = 2000
DEFAULT_SCRIPT_MAX_MEMORY_MB = 64


@dataclass
class ScriptLimits:
    """The limits of one JavaScript evaluation in this process: Settings'
    script_timeout_ms and script_max_memory_mb (PODIUM_SCRIPT_*), set by the shard that
    hosts the state machine (`configure_scripts`)."""

    timeout_ms: int = DEFAULT_SCRIPT_TIMEOUT_MS
    max_memory_mb: int = DEFAULT_SCRIPT_MAX_MEMORY_MB


_limits = ScriptLimits()


def configure_scripts(timeout_ms: int, max_memory_mb: int) -> None:
    """Set this process's script limits (positive integers)."""
    for name, value in (("script timeout", timeout_ms), ("script memory limit", max_memory_mb)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"the {name} must be a positive integer, got {value!r}")
    _limits.timeout_ms, _limits.max_memory_mb = timeout_ms, max_memory_mb


_JS_EVALUATORS = frozenset({"javascript", "graaljs"})
# What SWITCH and INLINE accept as evaluatorType.
EVALUATOR_TYPES = frozenset({"value-param", *_JS_EVALUATORS})


class EvaluationError(Exception):
    """An expression could not be evaluated; the message names the evaluator and why."""

    def __init__(self, evaluator_type: str, message: str) -> None:
        self.evaluator_type = evaluator_type
        self.reason = message
        super().__init__(f"{evaluator_type} evaluation failed: {message}")


def evaluate(
    evaluator_type: str,
    expression: str,
    inputs: dict[str, Any],
    *,
    timeout_ms: int | None = None,
    max_memory_mb: int | None = None,
) -> Any:
    """Evaluate ``expression`` against ``inputs`` and return plain Python data.

    ``value-param``: ``expression`` names an input (a dotted path such as ``a.b`` or
    ``items.0`` reaches into nested values); a missing input is ``None``, as in Conductor.
    ``javascript`` / ``graaljs``: ``$`` is ``inputs``. ``timeout_ms`` and
    ``max_memory_mb`` default to this process's `ScriptLimits` (2000 ms, 64 MB unless
    `configure_scripts` set others).
    """
    if evaluator_type == "value-param":
        return _value_param(expression, inputs)
    if evaluator_type in _JS_EVALUATORS:
        return _evaluate_js(evaluator_type, expression, inputs, timeout_ms, max_memory_mb)
    raise EvaluationError(evaluator_type, "unknown evaluator type; use value-param, javascript or graaljs")


def evaluate_jq(query: str, inputs: Any) -> list[Any]:
    """Every output of the jq program ``query`` run on ``inputs`` (usually a dict)."""
    program = _compile_jq(query)
    try:
        return list(program.input_value(inputs).all())
    except ValueError as exc:
        raise EvaluationError("jq", str(exc)) from exc
    except TypeError as exc:
        # jq hands the input over as JSON text, so non-JSON Python values land here.
        raise EvaluationError("jq", f"input is not JSON-serialisable: {exc}") from exc


@functools.lru_cache(maxsize=512)
def _compile_jq(query: str) -> Any:
    # Failed compilations are not cached (the exception escapes lru_cache), so a
    # corrected definition with the same query text is not stuck on an old error.
    try:
        return jq.compile(query)
    except ValueError as exc:
        raise EvaluationError("jq", str(exc).strip()) from exc


def js_syntax_error(expression: str) -> str | None:
    """The V8 syntax error of ``expression``, or ``None`` if it parses. Never runs it.

    Useful where a script should be checked without executing it: the source is
    handed to the ``Function`` constructor, which compiles but does not call it.
    """
    racer = _racer()
    code = f"__podium_syntax({json.dumps(expression)})"
    try:
        result = racer.eval(code, timeout_sec=_timeout_ms(None) / 1000)
    except JSEvalException as exc:
        _discard_racer()
        return _js_reason(exc)
    return result if isinstance(result, str) else None


def _value_param(expression: str, inputs: dict[str, Any]) -> Any:
    if expression in inputs:
        return inputs[expression]
    current: Any = inputs
    for part in expression.split("."):
        if isinstance(current, dict):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return None
            current = current[index]
        else:
            return None
    return current


# Installed once per isolate. `__podium_eval` uses a *direct* eval inside a function, so
# `var`/`function` declarations land in that call's scope and the completion value of
# the last statement is returned. Globals created by sloppy-mode assignments
# (`x = 1`) are deleted afterwards by comparing against the names present at set-up.
# JSON.stringify and the baseline are captured in the closure, so a script that
# overwrites them cannot break the next call.
_PRELUDE = """
(function () {
  var stringify = JSON.stringify;
  var names = Object.getOwnPropertyNames;
  var baseline = new Set(names(globalThis));
  baseline.add('__podium_eval');
  baseline.add('__podium_syntax');
  function run($, __podium_source) {
    return eval(__podium_source);
  }
  Object.defineProperty(globalThis, '__podium_eval', {
    value: function (input, source) {
      try {
        var text = stringify(run(input, source));
        return text === undefined ? null : text;
      } finally {
        var current = names(globalThis);
        for (var i = 0; i < current.length; i++) {
          if (!baseline.has(current[i])) {
            try { delete globalThis[current[i]]; } catch (e) { /* non-configurable */ }
          }
        }
      }
    },
    writable: false, configurable: false, enumerable: false
  });
  Object.defineProperty(globalThis, '__podium_syntax', {
    value: function (source) {
      try { new Function('$', source); return null; } catch (e) { return String(e); }
    },
    writable: false, configurable: false, enumerable: false
  });
})();
"""

_local = threading.local()


def _racer() -> MiniRacer:
    racer: MiniRacer | None = getattr(_local, "racer", None)
    if racer is None:
        # MiniRacer adopts the asyncio loop running on the thread that creates it and
        # then refuses an eval with a timeout (the shard's step runs on such a loop).
        # Created on a thread without a loop, it runs its own loop thread instead.
        with ThreadPoolExecutor(max_workers=1) as creator:
            racer = creator.submit(MiniRacer).result()
        racer.eval(_PRELUDE)
        _local.racer = racer
    return racer


def _discard_racer() -> None:
    """Drop this thread's isolate after a timeout or memory error.

    V8 does stop the script, but an isolate that hit its heap limit may stay close to
    it; a fresh one costs a few milliseconds and removes any doubt.
    """
    racer: MiniRacer | None = getattr(_local, "racer", None)
    _local.racer = None
    if racer is not None:
        racer.close()


def _evaluate_js(
    evaluator_type: str,
    expression: str,
    inputs: dict[str, Any],
    timeout_ms: int | None,
    max_memory_mb: int | None,
) -> Any:
    if not isinstance(expression, str) or not expression.strip():
        raise EvaluationError(evaluator_type, "the script is empty")
    # Limits set wrong are refused whichever way the expression is evaluated.
    timeout, memory = _timeout_ms(timeout_ms), _max_memory_mb(max_memory_mb)
    handled, value = js_subset.try_evaluate(expression, inputs)
    if handled:
        return value
    return _evaluate_in_v8(evaluator_type, expression, inputs, timeout, memory)


def _evaluate_in_v8(evaluator_type: str, expression: str, inputs: dict[str, Any], timeout: int, memory: int) -> Any:
    """``expression`` in this thread's V8 isolate, within ``timeout`` ms and ``memory`` MB."""
    try:
        # orjson: this runs on every loop condition and switch, often over large inputs.
        input_literal = orjson.dumps(inputs, default=_json_fallback, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, ValueError) as exc:
        raise EvaluationError(evaluator_type, f"inputs are not JSON-serialisable: {exc}") from exc
    code = f"__podium_eval({input_literal}, {json.dumps(expression)})"
    racer = _racer()
    try:
        text = racer.eval(code, timeout_sec=timeout / 1000, max_memory=memory * 1024 * 1024)
    except JSTimeoutException as exc:
        _discard_racer()
        raise EvaluationError(evaluator_type, f"script timed out after {timeout} ms") from exc
    except JSOOMException as exc:
        _discard_racer()
        raise EvaluationError(evaluator_type, f"script exceeded the {memory} MB memory limit") from exc
    except (JSParseException, JSEvalException) as exc:
        raise EvaluationError(evaluator_type, _js_reason(exc)) from exc
    if text is None:
        return None
    if not isinstance(text, str):
        raise EvaluationError(evaluator_type, f"unexpected result type {type(text).__name__}")
    return orjson.loads(text)


def _json_fallback(value: Any) -> Any:
    # Sets and tuples are the usual non-JSON containers in Python-built inputs.
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# V8 reports start with the script's location ("undefined:1: ") and go on with the
# source line and a stack through our wrapper, none of which helps a workflow author.
_JS_LOCATION_PREFIX = re.compile(r"^\S*:\d+:\s*")


def _js_reason(exc: Exception) -> str:
    """The first line of a V8 error report, e.g. ``SyntaxError: Unexpected end of input``."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    return _JS_LOCATION_PREFIX.sub("", lines[0], count=1) or lines[0]


def _timeout_ms(explicit: int | None) -> int:
    return _limits.timeout_ms if explicit is None else explicit


def _max_memory_mb(explicit: int | None) -> int:
    return _limits.max_memory_mb if explicit is None else explicit
