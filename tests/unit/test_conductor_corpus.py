"""Every workflow definition from Conductor's own test suites loads and validates.

Conductor accepted each of these, so a definition that only uses task types Podium
runs must validate with no errors; one that uses another type must be rejected with
a message naming that type. Scripts and jq queries in them must at least parse,
except where they are built from ``${...}`` at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actors.workflow.definition_checks import validate_workflow_def
from actors.workflow.operators.base import implemented_task_types
from definitions.evaluators import EvaluationError, evaluate_jq, js_syntax_error
from definitions.models import WorkflowDef
from tests.conductor_corpus import load_workflow_defs, task_types, walk

ENTRIES = load_workflow_defs()


def test_the_corpus_is_there() -> None:
    assert len(ENTRIES) >= 100
    assert len({key for key, _ in ENTRIES}) == len(ENTRIES), "file::name:version keys must be unique"


@pytest.mark.parametrize("definition", [d for _, d in ENTRIES], ids=[k for k, _ in ENTRIES])
def test_definition_validates(definition: dict[str, Any]) -> None:
    errors = validate_workflow_def(WorkflowDef.model_validate(definition))
    unsupported = task_types(definition) - implemented_task_types()
    if not unsupported:
        assert errors == []
    else:
        for task_type in unsupported:
            assert any(f"'{task_type}'" in error for error in errors), (task_type, errors)


def scripts(definition: dict[str, Any]) -> Iterator[str]:
    """The JavaScript an engine would evaluate for this definition."""
    for task in walk(definition["tasks"]):
        kind = task.get("type")
        params = task.get("inputParameters") or {}
        if kind == "SWITCH" and task.get("evaluatorType") in ("javascript", "graaljs"):
            yield task["expression"]
        elif kind == "DECISION" and task.get("caseExpression"):
            yield task["caseExpression"]
        elif kind == "DO_WHILE" and (task.get("loopCondition") or "").strip():
            yield task["loopCondition"]
        elif kind == "INLINE" and params.get("evaluatorType") in ("javascript", "graaljs"):
            yield params["expression"]
        elif kind == "LAMBDA":
            yield params.get("scriptExpression") or task.get("scriptExpression") or ""


SCRIPTS = [(key, script) for key, d in ENTRIES for script in scripts(d) if "${" not in script]


@pytest.mark.parametrize("script", [s for _, s in SCRIPTS], ids=[k for k, _ in SCRIPTS])
def test_script_parses(script: str) -> None:
    assert js_syntax_error(script) is None


QUERIES = [
    (f"{key}::{task['taskReferenceName']}", task["inputParameters"]["queryExpression"])
    for key, d in ENTRIES
    for task in walk(d["tasks"])
    if task.get("type") == "JSON_JQ_TRANSFORM"
    and "${" not in (task.get("inputParameters") or {}).get("queryExpression", "${")
]

# Not jq at all: single-quoted strings. Conductor's jackson-jq rejects them as well,
# so this UI demo could only ever fail at this step.
INVALID_QUERIES = {"workflows/do_while_timeline_ui_demo.json::do_while_timeline_ui_demo:v1::prepare_fork_ref"}


@pytest.mark.parametrize(("key", "query"), QUERIES, ids=[k for k, _ in QUERIES])
def test_jq_query_compiles(key: str, query: str) -> None:
    if key in INVALID_QUERIES:
        with pytest.raises(EvaluationError, match="syntax error"):
            evaluate_jq(query, {})
        return
    try:
        evaluate_jq(query, {})
    except EvaluationError as exc:
        # Running on an empty input may fail; only a compile error counts here.
        assert "compile error" not in str(exc), str(exc)
