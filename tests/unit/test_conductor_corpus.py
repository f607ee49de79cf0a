"""Every workflow definition from Conductor's own test suites loads and validates.

Conductor accepted each of these, so a definition that only uses task types Podium
runs must validate with no errors; one that uses another type must be rejected with
a message naming that type. Scripts and jq queries in them must at least parse,
except where they are built from ``${...}`` at run time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from definitions.evaluators import EvaluationError, evaluate_jq, js_syntax_error
from definitions.models import WorkflowDef
from definitions.validation import IMPLEMENTED_TASK_TYPES, validate_workflow_def


def corpus_dir() -> Path:
    configured = os.environ.get("PODIUM_SHARED_DIR", "").strip()
    shared = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared"
    # PODIUM_SHARED_DIR may name the shared folder or the conductor folder inside it.
    return shared / "conductor" if (shared / "conductor").is_dir() else shared


CORPUS = corpus_dir()


def definitions_in(data: Any) -> Iterator[dict[str, Any]]:
    """Workflow definitions in one file: a definition, a list of them, or a start
    request carrying one as ``workflowDef``. JSON schemas and task definitions are skipped."""
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        if "name" in item and "tasks" in item and isinstance(item["tasks"], list):
            yield item
        elif isinstance(item.get("workflowDef"), dict):
            yield item["workflowDef"]


def load_corpus() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(CORPUS.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            continue
        for definition in definitions_in(json.loads(text)):
            # One file can hold several versions of the same workflow.
            key = f"{path.relative_to(CORPUS)}::{definition['name']}:v{definition.get('version', 1)}"
            found.append((key, definition))
    return found


ENTRIES = load_corpus() if CORPUS.is_dir() else []
pytestmark = pytest.mark.skipif(not ENTRIES, reason=f"no Conductor definitions under {CORPUS}")


def walk(tasks: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every task, including those of inline sub-workflow definitions."""
    for task in tasks or []:
        yield task
        for branch in (task.get("decisionCases") or {}).values():
            yield from walk(branch)
        yield from walk(task.get("defaultCase"))
        for branch in task.get("forkTasks") or []:
            yield from walk(branch)
        yield from walk(task.get("loopOver"))
        inline = (task.get("subWorkflowParam") or {}).get("workflowDefinition")
        if isinstance(inline, dict):
            yield from walk(inline.get("tasks"))


def task_types(definition: dict[str, Any]) -> set[str]:
    return {task.get("type", "SIMPLE") for task in walk(definition["tasks"])}


def test_the_corpus_is_there() -> None:
    assert len(ENTRIES) >= 100
    assert len({key for key, _ in ENTRIES}) == len(ENTRIES), "file::name:version keys must be unique"


@pytest.mark.parametrize("definition", [d for _, d in ENTRIES], ids=[k for k, _ in ENTRIES])
def test_definition_validates(definition: dict[str, Any]) -> None:
    errors = validate_workflow_def(WorkflowDef.model_validate(definition))
    unsupported = task_types(definition) - IMPLEMENTED_TASK_TYPES
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
