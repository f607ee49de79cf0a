"""Where task types are known: behaviour that depends on a task's type lives in its
operator (actors/workflow/operators/), and every other layer asks the operator registry
(`operator_for(type).<trait>`) instead of comparing type names."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = ("actors", "cluster", "definitions", "gateway")
TYPE_NAMES = (
    "SIMPLE|SWITCH|DECISION|DO_WHILE|FORK_JOIN|FORK_JOIN_DYNAMIC|FORK|JOIN|EXCLUSIVE_JOIN|DYNAMIC|"
    "SUB_WORKFLOW|WAIT|HUMAN|TERMINATE|HTTP|INLINE|JSON_JQ_TRANSFORM|LAMBDA|SET_VARIABLE|NOOP|EVENT|"
    "START_WORKFLOW|KAFKA_PUBLISH"
)
TYPE_LITERAL = re.compile(rf"""["']({TYPE_NAMES})["']""")
# Known exceptions, each for a stated reason:
ALLOWED = {
    # The DSL's own default: a WorkflowTask without a type is SIMPLE.
    "definitions/models.py",
}
LARGEST_MODULE_LINES = 600


def production_files() -> list[Path]:
    return sorted(path for top in PRODUCTION for path in (REPO / top).rglob("*.py") if "node_modules" not in path.parts)


def test_no_module_outside_the_operators_names_a_task_type() -> None:
    found = []
    for path in production_files():
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("actors/workflow/operators/") or relative in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if TYPE_LITERAL.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "ask operator_for(type) for a trait instead:\n" + "\n".join(found)


def test_no_production_module_is_over_600_lines() -> None:
    long = [
        f"{path.relative_to(REPO)}: {count}"
        for path in production_files()
        if (count := len(path.read_text().splitlines())) > LARGEST_MODULE_LINES
    ]
    assert long == []
