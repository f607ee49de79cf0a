"""DO_WHILE: runs `loopOver` once, then again while `loopCondition` holds.

Tasks of iteration i carry the reference name `ref__i`. After each iteration the
condition is evaluated as javascript with `$` bound to the loop's resolved input, the
loop task's own output (`$.loopRef.iteration`) and each body task's latest output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.workflow.operator import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import WorkflowTask

if TYPE_CHECKING:
    from actors.workflow.machine import Step


def _begin_iteration(step: Step, loop_task: dict[str, Any], workflow_task: WorkflowTask, iteration: int) -> None:
    loop_task["iteration"] = iteration
    loop_task["outputData"]["iteration"] = iteration
    loop_task["_iterationStartSeq"] = loop_task["seq"] if iteration == 1 else step.state.tasks[-1]["seq"]
    step.state.touch(loop_task)
    step.schedule(workflow_task.loop_over[0], iteration)


def finish_iteration(step: Step, loop_task: dict[str, Any], workflow_task: WorkflowTask) -> None:
    iteration = loop_task["iteration"]
    start_seq = loop_task.get("_iterationStartSeq", 0)
    body_outputs: dict[str, Any] = {}
    graph = step.state.graph
    for task in reversed(step.state.tasks):
        if task["seq"] <= start_seq:
            break
        base = task.get("_baseRef")
        # The latest attempt of each task of this loop's iteration; a loop running beside
        # this one (in another fork branch) has its own tasks with the same iteration.
        if base and task["iteration"] == iteration and base not in body_outputs and graph.contains(workflow_task, base):
            body_outputs[base] = task["outputData"]
    body_outputs = dict(reversed(body_outputs.items()))
    output = loop_task["outputData"]
    output[str(iteration)] = body_outputs
    condition_input = {
        **step.resolve(workflow_task.input_parameters),
        workflow_task.task_reference_name: output,
        **body_outputs,
    }
    try:
        again = evaluate("javascript", workflow_task.loop_condition or "false", condition_input)
    except EvaluationError as error:
        # As in Conductor: a condition that cannot be evaluated will not be fixed by a retry.
        reason = f"Unable to evaluate condition {workflow_task.loop_condition}, exception {error}"
        step.finish(loop_task, "FAILED_WITH_TERMINAL_ERROR", output, reason)
        return
    if again:
        _begin_iteration(step, loop_task, workflow_task, iteration + 1)
    else:
        loop_task.pop("_iterationStartSeq", None)
        step.finish(loop_task, "COMPLETED", output)


@register
class DoWhileOperator(Operator):
    task_type = "DO_WHILE"

    def start(self, step: Step, task: dict[str, Any], workflow_task: WorkflowTask) -> None:
        step.start_task(task)
        if not workflow_task.loop_over:
            step.finish(task, "COMPLETED", {"iteration": 0})
            return
        _begin_iteration(step, task, workflow_task, 1)
