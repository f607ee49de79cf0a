"""DO_WHILE: runs `loopOver` once, then again while `loopCondition` holds.

Tasks of iteration i carry the reference name `ref__i`. After each iteration the loop
task's output gets the iteration's body outputs under `"i"`, and the condition is
evaluated as javascript with `$` bound to the loop's resolved input, the loop task's own
output (`$.loopRef.iteration`, `$.loopRef['2'].bodyRef`) and each body task's latest
output (`$.bodyRef`), as Conductor's DoWhile builds it.

`inputParameters.keepLastN` (an integer >= 1, as in Conductor) bounds what a long loop
keeps: once iteration i starts, the tasks of iterations up to i - N are removed from the
execution (the checkpoint deletes them) and their keys from the loop task's output, so
a finished loop holds its last N iterations only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from actors.workflow.operators.base import Operator, register
from definitions.evaluators import EvaluationError, evaluate
from definitions.models import TERMINAL_TASK_STATUSES, WorkflowTask
from definitions.validation import Finding, Review, TaskSite, blank, error, warning

if TYPE_CHECKING:
    from actors.workflow.machine import Decider
    from actors.workflow.state import TaskRecord

KEEP_LAST_N = "keepLastN"


def keep_last_n(workflow_task: WorkflowTask) -> int | None:
    """The loop's `inputParameters.keepLastN`, or None when it keeps every iteration.

    Read as written in the definition, not resolved, as Conductor reads it; registration
    refuses anything but an integer >= 1, so another value here (a definition stored
    before that check) is ignored rather than failing the loop.
    """
    value = workflow_task.input_parameters.get(KEEP_LAST_N)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def _begin_iteration(decider: Decider, loop_task: TaskRecord, workflow_task: WorkflowTask, iteration: int) -> None:
    loop_task["iteration"] = iteration
    loop_task["outputData"]["iteration"] = iteration
    loop_task["_iterationStartSeq"] = loop_task["seq"] if iteration == 1 else decider.state.tasks[-1]["seq"]
    decider.state.touch(loop_task)
    decider.schedule(workflow_task.loop_over[0], iteration)
    keep = keep_last_n(workflow_task)
    if keep is not None and iteration > keep:
        # After the iteration's first task is scheduled, so the newest task in the list,
        # which the next task's seq follows, is never one of those removed.
        _forget_iterations(decider, loop_task, workflow_task, iteration - keep)


def _forget_iterations(decider: Decider, loop_task: TaskRecord, workflow_task: WorkflowTask, last: int) -> None:
    """Drop iterations 1..`last`: their keys in the loop's output and their tasks."""
    output = loop_task["outputData"]
    for key in [key for key in output if key.isdigit() and int(key) <= last]:
        del output[key]
    state = decider.state
    graph = state.graph
    newest = state.tasks[-1]
    # Like Conductor, the tasks the loop definition holds (not a dynamic fork's forked
    # tasks, nor child workflows). Only tasks already decided: one still running (a fork
    # branch no JOIN waits for) or not yet decided in this step stays until a later pass.
    removed = {
        task["taskId"]
        for task in state.tasks
        if 0 < task.get("iteration", 0) <= last
        and task is not newest
        and task["executed"]
        and task["status"] in TERMINAL_TASK_STATUSES
        and task.get("_baseRef")
        and "workflowTask" not in task
        and graph.contains(workflow_task, task["_baseRef"])
    }
    state.remove_tasks(removed)


def finish_iteration(decider: Decider, loop_task: TaskRecord, workflow_task: WorkflowTask) -> None:
    iteration = loop_task["iteration"]
    start_seq = loop_task.get("_iterationStartSeq", 0)
    iteration_outputs: dict[str, Any] = {}
    graph = decider.state.graph
    for task in reversed(decider.state.tasks):
        if task["seq"] <= start_seq:
            break
        base = task.get("_baseRef")
        # The latest attempt of each task of this loop's iteration; a loop running beside
        # this one (in another fork branch) has its own tasks with the same iteration.
        if (
            base
            and task["iteration"] == iteration
            and base not in iteration_outputs
            and graph.contains(workflow_task, base)
        ):
            iteration_outputs[base] = task["outputData"]
    output = loop_task["outputData"]
    output[str(iteration)] = dict(reversed(iteration_outputs.items()))
    condition = workflow_task.loop_condition or "false"
    loop_ref = workflow_task.task_reference_name
    condition_input = {
        **decider.resolve(workflow_task.input_parameters),
        loop_ref: _loop_output_for(condition, loop_ref, output),
        **_latest_body_outputs(decider, workflow_task),
    }
    try:
        again = evaluate("javascript", condition, condition_input)
    except EvaluationError as error:
        # As in Conductor: a condition that cannot be evaluated will not be fixed by a retry.
        reason = f"Unable to evaluate condition {workflow_task.loop_condition}, exception {error}"
        decider.finish(loop_task, "FAILED_WITH_TERMINAL_ERROR", output, reason)
        return
    if again:
        _begin_iteration(decider, loop_task, workflow_task, iteration + 1)
    else:
        loop_task.pop("_iterationStartSeq", None)
        decider.finish(loop_task, "COMPLETED", output)


# -- what the loop condition sees -----------------------------------------------------------


def _body_references(tasks: list[WorkflowTask]) -> Iterator[str]:
    for task in tasks:
        yield task.task_reference_name
        for nested in task.children():
            yield from _body_references(nested)


def _latest_body_outputs(decider: Decider, workflow_task: WorkflowTask) -> dict[str, Any]:
    """Each body task's latest output by its base reference name: as in Conductor, a task
    this iteration did not run (another SWITCH case) shows its output from the last
    iteration that ran it. Looked up by name, so the cost does not grow with the
    iterations run so far."""
    by_ref = decider.state.by_ref
    outputs: dict[str, Any] = {}
    for reference in _body_references(workflow_task.loop_over):
        task = by_ref.get(reference)
        if task is not None and task.get("_baseRef") == reference:
            outputs[reference] = task["outputData"]
    return outputs


def _loop_output_for(condition: str, loop_ref: str, output: dict[str, Any]) -> dict[str, Any]:
    """The loop task's output as the condition needs it.

    The output holds every iteration kept so far, and the condition's input is serialised
    for V8 on every iteration, so passing all of it makes a long loop quadratic. When the
    condition reads the loop's output only through literal keys (`$.loop.iteration`,
    `$.loop['3']`), only those keys are passed; anything else gets the whole output.
    """
    keys = _loop_keys_read(condition, loop_ref)
    if keys is None:
        return output
    return {key: output[key] for key in keys if key in output}


_IDENTIFIER = r"[A-Za-z_$][\w$]*"
# `.name`, `['name']` or `["name"]`, with the spaces JavaScript allows around them.
_MEMBER = re.compile(rf"""\s*(?:\.\s*({_IDENTIFIER})|\[\s*(?:'([^'\\\n]*)'|"([^"\\\n]*)")\s*\])""")
# `$` on its own: the condition's input, not part of a longer identifier.
_DOLLAR = re.compile(r"(?<![\w$])\$(?![\w$])")
_CALL = re.compile(r"\s*\(")
# Ways to reach `$` without writing it: the input can then be read in any way.
_INDIRECT = re.compile(r"\\u|\barguments\b|\beval\b|\bFunction\b|\bthis\b|\bglobalThis\b")


def _member_name(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None)


@functools.lru_cache(maxsize=1024)
def _loop_keys_read(condition: str, loop_ref: str) -> frozenset[str] | None:
    """The keys of the loop's output `condition` reads, or None when it may read others
    (the output used whole, a computed key, a method called on it, an indirect `$`)."""
    if _INDIRECT.search(condition):
        return None
    keys: set[str] = set()
    for dollar in _DOLLAR.finditer(condition):
        first = _MEMBER.match(condition, dollar.end())
        if first is None:
            return None
        if _member_name(first) != loop_ref:
            continue
        second = _MEMBER.match(condition, first.end())
        if second is None or _CALL.match(condition, second.end()):
            return None
        keys.add(_member_name(second))
    return frozenset(keys)


@register
class DoWhileOperator(Operator):
    task_type = "DO_WHILE"
    mocked_in_test_runs = False
    retryable = False
    holds_branches = True
    is_loop = True
    reopened_by_retry = True

    def check_definition(self, site: TaskSite, review: Review) -> list[Finding]:
        task = site.task
        findings: list[Finding] = []
        if task.loop_condition is None:
            findings.append(error("loopCondition is missing"))
        elif blank(task.loop_condition) and "items" not in task.input_parameters:
            # Conductor registers it and, like Podium, then runs the body once.
            findings.append(warning("loopCondition is empty; the body runs once"))
        if not task.loop_over:
            findings.append(error("loopOver is empty"))
        # Conductor reads inputParameters.keepLastN as an Integer, unresolved, and has no
        # meaning for less than one iteration kept; Podium then keeps every iteration.
        keep_last_n = task.input_parameters.get("keepLastN")
        if keep_last_n is not None and (
            isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int) or keep_last_n < 1
        ):
            findings.append(
                warning(
                    f"inputParameters.keepLastN must be an integer of at least 1, not {keep_last_n!r}; "
                    "every iteration is kept"
                )
            )
        if site.enclosing_loop is not None:
            # Conductor's documentation says nested loops are unsupported; Podium's loop
            # bookkeeping (one iteration suffix per reference name) cannot run them.
            findings.append(
                error(
                    f"nested inside the loopOver of DO_WHILE '{site.enclosing_loop}'; "
                    "Conductor does not support a DO_WHILE within another DO_WHILE"
                )
            )
        return findings

    def branch_ended(self, decider: Decider, container: WorkflowTask, iteration: int) -> None:
        loop_task = decider.find_task(container.task_reference_name)
        if loop_task is not None:
            finish_iteration(decider, loop_task, container)

    def start(self, decider: Decider, task: TaskRecord, workflow_task: WorkflowTask) -> None:
        decider.start_task(task)
        if not workflow_task.loop_over:
            decider.finish(task, "COMPLETED", {"iteration": 0})
            return
        _begin_iteration(decider, task, workflow_task, 1)
