"""A Python evaluator for the simplest JavaScript conditions, so they skip V8.

Most loop conditions and switch expressions are comparisons of input values:
`$.loop['iteration'] < $.limit`, `$.status == 'DONE' && $.count > 0`. Evaluating one in
V8 costs a thread crossing and a JSON round trip of the inputs (about 0.2 ms), on
every iteration of a loop. This module evaluates such expressions itself, and only
when the answer is certainly the one V8 would give: any construct outside the subset,
and any value whose JavaScript semantics differ from Python's (a missing key, mixed
types in a comparison, integers beyond 2**53, a division), makes it decline, and the
expression goes to V8 as before.

The subset: number, string, true/false/null literals; `$` followed by `.name`,
`['name']`, `["name"]` or `[index]`; parentheses; unary `!` and `-`; `+ - *`;
`< <= > >= == != === !==`; `&& ||`; one optional trailing `;`.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^'\\\n])*'|"(?:[^"\\\n])*")
      | (?P<name>[A-Za-z_$][\w$]*)
      | (?P<op>===|!==|==|!=|<=|>=|&&|\|\||[<>!+\-*().\[\];])
    )""",
    re.VERBOSE,
)


class Declined(Exception):
    """Outside the subset: evaluate in V8."""


def _tokens(expression: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise Declined
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    if found and found[-1] == ("op", ";"):
        found.pop()
    return found


# A parsed expression is a nested tuple: ("lit", value), ("path", keys...), ("not", e),
# ("neg", e), (operator, left, right).
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, op: str) -> bool:
        if self.peek() == ("op", op):
            self.at += 1
            return True
        return False

    def expect(self, op: str) -> None:
        if not self.take(op):
            raise Declined

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek() is not None:
            raise Declined
        return node

    LEVELS = (("||",), ("&&",), ("===", "!==", "==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*",))

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in self.LEVELS[level]:
            self.at += 1
            right = self.binary(level + 1)
            node = (token[1], node, right)
            if level in (2, 3) and (peek := self.peek()) is not None and peek[1] in self.LEVELS[level]:
                raise Declined  # `a < b < c` chains compare a boolean: leave it to V8
        return node

    def unary(self) -> Node:
        if self.take("!"):
            return ("not", self.unary())
        if self.take("-"):
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise Declined
        kind, text = token
        self.at += 1
        if kind == "number":
            if len(text) > 1 and text[0] == "0" and text[1].isdigit():
                raise Declined  # 010 is octal in sloppy JavaScript
            value = float(text) if any(c in text for c in ".eE") else int(text)
            return ("lit", _number(value))
        if kind == "string":
            return ("lit", text[1:-1])
        if kind == "name":
            if text in ("true", "false"):
                return ("lit", text == "true")
            if text == "null":
                return ("lit", None)
            if text == "$":
                return self.path()
            raise Declined
        if text == "(":
            node = self.binary(0)
            self.expect(")")
            return node
        raise Declined

    def path(self) -> Node:
        keys: list[str | int] = []
        while True:
            if self.take("."):
                token = self.peek()
                if token is None or token[0] != "name":
                    raise Declined
                self.at += 1
                keys.append(token[1])
            elif self.take("["):
                token = self.peek()
                if token is None or token[0] not in ("string", "number") or "." in token[1]:
                    raise Declined
                self.at += 1
                keys.append(token[1][1:-1] if token[0] == "string" else int(token[1]))
                self.expect("]")
            else:
                break
        if self.peek() == ("op", "("):
            raise Declined  # a method call
        return ("path", *keys)


@functools.lru_cache(maxsize=1024)
def _parse(expression: str) -> Node | None:
    try:
        return _Parser(_tokens(expression)).parse()
    except (Declined, RecursionError):
        return None


def _number(value: int | float) -> int | float:
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise Declined
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER):
        raise Declined  # JSON.stringify writes large doubles in its own digits
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    raise Declined  # objects and arrays: JavaScript compares them by identity or coerces


def _truthy(value: Any) -> bool:
    _kind(value)
    return bool(value)


def _lookup(inputs: Any, keys: tuple[Any, ...]) -> Any:
    value = inputs
    for key in keys:
        in_object = isinstance(value, dict) and isinstance(key, str) and key in value
        in_array = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        if not (in_object or in_array):
            raise Declined  # undefined, or indexing that JavaScript reads differently
        value = value[key]
    if _is_number(value):
        _number(value)
    return value


def _evaluate(node: Node, inputs: Any) -> Any:
    operator = node[0]
    if operator == "lit":
        return node[1]
    if operator == "path":
        return _lookup(inputs, node[1:])
    if operator == "not":
        return not _truthy(_evaluate(node[1], inputs))
    if operator == "neg":
        value = _evaluate(node[1], inputs)
        if not _is_number(value):
            raise Declined
        return _number(-value)
    left = _evaluate(node[1], inputs)
    if operator == "&&":
        return _evaluate(node[2], inputs) if _truthy(left) else left
    if operator == "||":
        return left if _truthy(left) else _evaluate(node[2], inputs)
    right = _evaluate(node[2], inputs)
    left_kind, right_kind = _kind(left), _kind(right)
    if operator in ("===", "!=="):
        same = left_kind == right_kind and left == right
        return same if operator == "===" else not same
    if operator in ("==", "!="):
        if left_kind != right_kind:
            raise Declined  # loose equality coerces
        return (left == right) if operator == "==" else (left != right)
    if left_kind != "number" or right_kind != "number":
        if operator == "+" and left_kind == right_kind == "string":
            return left + right
        raise Declined  # string ordering is by UTF-16 units, and coercions
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    if operator == ">":
        return left > right
    if operator == ">=":
        return left >= right
    if operator == "+":
        return _number(left + right)
    if operator == "-":
        return _number(left - right)
    return _number(left * right)


def try_evaluate(expression: str, inputs: dict[str, Any]) -> tuple[bool, Any]:
    """(True, the value V8 would answer) for an expression in the subset, else (False, None)."""
    node = _parse(expression)
    if node is None:
        return False, None
    try:
        value = _evaluate(node, inputs)
        kind = _kind(value)
    except Declined:
        return False, None
    if kind == "number" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON.stringify writes 2.0 as 2
        if value == 0:
            value = 0  # and -0 as 0
    return True, value
