"""Conductor's `${...}` parameter expressions.

A template is any JSON value; strings may hold `${path}` references. A string that is
exactly one reference keeps the referenced value's type; references embedded in longer
strings are rendered as text. `$${...}` escapes a literal `${...}`.

Paths start with a root (`workflow` or a task reference name) followed by dotted keys,
`[n]` list indexes or `['key']` brackets: `${workflow.input.a.b[0]}`, `${t1.output.x}`.
Roots are looked up lazily through a callable so a step only builds the views it reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

RootLookup = Callable[[str], Any]

_REFERENCE = re.compile(r"\$?\$\{([^{}]*)\}")
_PATH_TOKEN = re.compile(r"""\[\s*(?:(-?\d+)|'([^']*)'|"([^"]*)")\s*\]|([^.\[\]]+)""")
_MISSING = object()


@lru_cache(maxsize=4096)
def _parse_path(path: str) -> tuple[str | int, ...]:
    path = path.strip()
    if path.startswith("$."):
        path = path[2:]
    tokens: list[str | int] = []
    for index, single, double, key in _PATH_TOKEN.findall(path):
        if index:
            tokens.append(int(index))
        else:
            tokens.append(single or double or key)
    return tuple(tokens)


@lru_cache(maxsize=4096)
def _parse_template(text: str) -> tuple[str | tuple[str | int, ...], ...] | None:
    """Split a string into literal parts and paths, or None if it holds no reference."""
    if "${" not in text:
        return None
    parts: list[str | tuple[str | int, ...]] = []
    position = 0
    for match in _REFERENCE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        if match.group(0).startswith("$$"):
            parts.append(match.group(0)[1:])
        else:
            parts.append(_parse_path(match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def lookup_path(value: Any, path: tuple[str | int, ...]) -> Any:
    """Walk `path` into nested dicts and lists; None where any step is missing."""
    for token in path:
        if isinstance(token, int):
            if isinstance(value, list) and -len(value) <= token < len(value):
                value = value[token]
            else:
                return None
        elif isinstance(value, dict):
            value = value.get(token)
            if value is None:
                return None
        elif isinstance(value, list) and token == "length":
            return len(value)
        else:
            return None
    return value


def _evaluate_path(path: tuple[str | int, ...], roots: RootLookup) -> Any:
    if not path or not isinstance(path[0], str):
        return None
    root = roots(path[0])
    if root is None:
        return None
    return lookup_path(root, path[1:])


def _as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def resolve(template: Any, roots: RootLookup) -> Any:
    """Resolve every reference in `template` (a JSON value) against `roots`."""
    if isinstance(template, str):
        parts = _parse_template(template)
        if parts is None:
            return template
        if len(parts) == 1 and isinstance(parts[0], tuple):
            return _evaluate_path(parts[0], roots)
        return "".join(
            part if isinstance(part, str) else _as_text(_evaluate_path(part, roots)) for part in parts
        )
    if isinstance(template, dict):
        return {key: resolve(value, roots) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(item, roots) for item in template]
    return template


def references(template: Any) -> set[str]:
    """The root names a template reads (for validation and dependency hints)."""
    found: set[str] = set()
    if isinstance(template, str):
        for part in _parse_template(template) or ():
            if isinstance(part, tuple) and part and isinstance(part[0], str):
                found.add(part[0])
    elif isinstance(template, dict):
        for value in template.values():
            found |= references(value)
    elif isinstance(template, list):
        for item in template:
            found |= references(item)
    return found
