"""Where each task of a definition sits, so the decider can find what comes next.

A definition is a tree of task lists: the top-level list, switch cases, fork branches
and loop bodies. `DefinitionGraph` indexes every WorkflowTask by reference name with
its list, its index in that list and the task that owns the list.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.workflow.operators.base import operator_for
from definitions.models import WorkflowDef, WorkflowTask

ITERATION_SEPARATOR = "__"


@dataclass(frozen=True, slots=True)
class Position:
    task: WorkflowTask
    siblings: list[WorkflowTask]
    index: int
    # The SWITCH, DECISION, FORK_JOIN or DO_WHILE owning `siblings`; None at top level.
    container: WorkflowTask | None

    @property
    def next_sibling(self) -> WorkflowTask | None:
        following = self.index + 1
        return self.siblings[following] if following < len(self.siblings) else None


class DefinitionGraph:
    def __init__(self, definition: WorkflowDef) -> None:
        self.definition = definition
        self.positions: dict[str, Position] = {}
        self._index(definition.tasks, None)

    def _index(self, tasks: list[WorkflowTask], container: WorkflowTask | None) -> None:
        for index, task in enumerate(tasks):
            self.positions[task.task_reference_name] = Position(task, tasks, index, container)
            for nested in task.children():
                self._index(nested, task)

    def position(self, reference_name: str) -> Position | None:
        return self.positions.get(base_reference(reference_name))

    def enclosing_loop(self, reference_name: str) -> WorkflowTask | None:
        position = self.positions.get(base_reference(reference_name))
        while position is not None and position.container is not None:
            if operator_for(position.container.type).is_loop:
                return position.container
            position = self.positions.get(position.container.task_reference_name)
        return None

    def contains(self, container: WorkflowTask, reference_name: str) -> bool:
        """Whether `reference_name` sits anywhere inside `container`'s nested lists."""
        position = self.positions.get(base_reference(reference_name))
        while position is not None and position.container is not None:
            if position.container is container:
                return True
            position = self.positions.get(position.container.task_reference_name)
        return False


def graph_of(definition: WorkflowDef) -> DefinitionGraph:
    """One graph per definition object: executions of a definition share it."""
    graph = definition._derived.get("graph")
    if graph is None:
        graph = definition._derived["graph"] = DefinitionGraph(definition)
    return graph


def base_reference(reference_name: str) -> str:
    """`ref__3` -> `ref`: the definition's name of a task in a loop iteration."""
    head, separator, tail = reference_name.rpartition(ITERATION_SEPARATOR)
    if separator and tail.isdigit():
        return head
    return reference_name


def with_iteration(reference_name: str, iteration: int) -> str:
    return f"{reference_name}{ITERATION_SEPARATOR}{iteration}" if iteration else reference_name


def iteration_of(reference_name: str) -> int:
    """`ref__3` -> 3; 0 outside loops."""
    _, separator, tail = reference_name.rpartition(ITERATION_SEPARATOR)
    return int(tail) if separator and tail.isdigit() else 0
