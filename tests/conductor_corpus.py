"""Conductor's own definitions (../shared/conductor), as the tests read them.

`PODIUM_SHARED_DIR` may name the shared folder or the conductor folder inside it;
by default it is the `shared` folder beside this repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

Json = dict[str, Any]


def corpus_dir() -> Path:
    configured = os.environ.get("PODIUM_SHARED_DIR", "").strip()
    shared = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"
    corpus = shared / "conductor" if (shared / "conductor").is_dir() else shared
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"no Conductor corpus at {corpus}: put ../shared beside the repository or set PODIUM_SHARED_DIR"
        )
    return corpus


CORPUS = corpus_dir()


@cache
def _read(relative_path: str) -> Any:
    return json.loads((CORPUS / relative_path).read_text(encoding="utf-8"))


def read(relative_path: str) -> Any:
    """A fresh copy of one file's JSON (callers may change it)."""
    return json.loads(json.dumps(_read(relative_path)))


def is_workflow_def(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("tasks"), list)


def is_task_def(item: Any) -> bool:
    """A TaskDef: a name, no tasks, and the retry and timeout settings only a TaskDef has."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and "tasks" not in item
        and "retryCount" in item
        and "timeoutSeconds" in item
    )


def corpus_items() -> Iterator[tuple[str, Any]]:
    """(path relative to the corpus, item) for every JSON value in every file; lists are opened."""
    for path in sorted(CORPUS.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            continue
        data = json.loads(text)
        for item in data if isinstance(data, list) else [data]:
            yield str(path.relative_to(CORPUS)), item


def load_workflow_defs() -> list[tuple[str, Json]]:
    """Every workflow definition, including those carried by start requests as `workflowDef`,
    keyed `file::name:vN` (one file may hold several versions of one workflow)."""
    found: list[tuple[str, Json]] = []
    for relative, item in corpus_items():
        if is_workflow_def(item):
            definition = item
        elif isinstance(item, dict) and is_workflow_def(item.get("workflowDef")):
            definition = item["workflowDef"]
        else:
            continue
        found.append((f"{relative}::{definition['name']}:v{definition.get('version', 1)}", definition))
    return found


def load_task_defs() -> list[tuple[str, Json]]:
    return [(f"{relative}::{item['name']}", item) for relative, item in corpus_items() if is_task_def(item)]


def walk(tasks: list[Json] | None) -> Iterator[Json]:
    """Every task of a definition, including those of inline sub-workflow definitions."""
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


def task_types(definition: Json) -> set[str]:
    return {task.get("type") or "SIMPLE" for task in walk(definition["tasks"])}
