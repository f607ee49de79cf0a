"""The reference workflow: 13 steps in the spirit of Conductor's published load test."""

from __future__ import annotations

from typing import Any

CHILD = "bench_child"
REFERENCE = "bench_reference"


def simple(name: str, ref: str) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "inputParameters": {"i": "${workflow.input.i}"}}


def reference_workflows(task_type: str) -> list[dict[str, Any]]:
    """The child and the parent, both running SIMPLE tasks of `task_type`."""
    child = {"name": f"{CHILD}_{task_type}", "version": 1, "tasks": [simple(task_type, "child_step")]}
    parent = {
        "name": f"{REFERENCE}_{task_type}",
        "version": 1,
        "tasks": [
            *(simple(task_type, f"step_{n}") for n in range(1, 7)),
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[simple(task_type, "branch_a")], [simple(task_type, "branch_b")]],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["branch_a", "branch_b"]},
            {
                "name": "route",
                "taskReferenceName": "route",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "kind",
                "inputParameters": {"kind": "${step_6.output.kind}"},
                "decisionCases": {"small": [{"name": "note", "taskReferenceName": "note", "type": "NOOP"}]},
                "defaultCase": [],
            },
            {
                "name": "remember",
                "taskReferenceName": "remember",
                "type": "SET_VARIABLE",
                "inputParameters": {"last": "${step_6.output.value}"},
            },
            {
                "name": "child",
                "taskReferenceName": "child",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": child["name"], "version": 1},
                "inputParameters": {"i": "${workflow.input.i}"},
            },
            {
                "name": "summarise",
                "taskReferenceName": "summarise",
                "type": "JSON_JQ_TRANSFORM",
                "inputParameters": {
                    "a": "${branch_a.output.value}",
                    "b": "${branch_b.output.value}",
                    "queryExpression": "{total: (.a + .b)}",
                },
            },
        ],
        "outputParameters": {"total": "${summarise.output.result.total}"},
    }
    return [child, parent]


# Worker task executions per reference workflow: 6 steps + 2 branches + 1 in the child.
WORKER_TASKS_PER_WORKFLOW = 9
# Task executions (every task that reaches a terminal status) per reference workflow,
# counting the child's: the 13 steps of the parent, the NOOP case and the child's task.
TASKS_PER_WORKFLOW = 6 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1
