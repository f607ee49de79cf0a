"""Static checks of a workflow definition, run when it is registered or started.

The aim is Conductor's acceptance rules, not stricter ones: a definition Conductor
accepts and Podium can run must pass here, because users bring their JSON unchanged.
Where Conductor only fails at run time (a FORK_JOIN with no JOIN after it), the check
moves here so the mistake surfaces before any execution exists.

Every problem is collected rather than stopping at the first, so one registration
attempt tells the author everything to fix. Each message starts with the offending
task's reference name, which is what authors search their JSON for.

Scripts and jq queries are not run or compiled here: validation must stay cheap and
side-effect free, and an expression may only become a script after ``${...}``
substitution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from definitions.models import TaskDef, WorkflowDef, WorkflowTask

__all__ = [
    "EVALUATOR_TYPES",
    "IMPLEMENTED_TASK_TYPES",
    "TERMINATION_STATUSES",
    "DefinitionError",
    "check_workflow_def",
    "validate_workflow_def",
]

IMPLEMENTED_TASK_TYPES: frozenset[str] = frozenset(
    {
        "SIMPLE",
        "SWITCH",
        "DECISION",
        "FORK_JOIN",
        "JOIN",
        "FORK_JOIN_DYNAMIC",
        "DO_WHILE",
        "SUB_WORKFLOW",
        "SET_VARIABLE",
        "INLINE",
        "LAMBDA",
        "JSON_JQ_TRANSFORM",
        "TERMINATE",
        "NOOP",
        "WAIT",
        "HUMAN",
        "DYNAMIC",
        "EXCLUSIVE_JOIN",
        "START_WORKFLOW",
        "HTTP",
        "EVENT",
    }
)

EVALUATOR_TYPES: frozenset[str] = frozenset({"value-param", "javascript", "graaljs"})

TERMINATION_STATUSES: frozenset[str] = frozenset({"COMPLETED", "FAILED", "TERMINATED"})

_SUPPORTED_LIST = ", ".join(sorted(IMPLEMENTED_TASK_TYPES))


class DefinitionError(ValueError):
    """A workflow definition that cannot be accepted; ``errors`` lists every reason."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))

    def __str__(self) -> str:
        return "; ".join(self.errors)


@dataclass(frozen=True)
class _Site:
    """One task of the tree with what the checks need to know about where it sits."""

    task: WorkflowTask
    path: str
    siblings: list[WorkflowTask]
    index: int
    enclosing_loop: str | None


def validate_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> list[str]:
    """Every problem found in ``wf``; an empty list means it is valid.

    ``task_defs`` (registered task definitions by name) is optional: with it, a
    JSON_JQ_TRANSFORM whose ``queryExpression`` comes from its TaskDef's inputTemplate
    is accepted, as Conductor does.
    """
    errors: list[str] = []
    if not wf.name or not wf.name.strip():
        errors.append("workflow name is empty")
    if not wf.tasks:
        errors.append(f"workflow '{wf.name}' has no tasks")
        return errors

    sites = list(_walk(wf.tasks, "tasks", None))
    ref_counts = Counter(s.task.task_reference_name for s in sites if s.task.task_reference_name)
    known_refs = set(ref_counts)

    for ref, count in sorted(ref_counts.items()):
        if count > 1:
            errors.append(f"task '{ref}': taskReferenceName is used by {count} tasks; it must be unique")

    for site in sites:
        errors.extend(_check_task(site, known_refs, task_defs or {}))
    return errors


def check_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> None:
    """Raise :class:`DefinitionError` listing every problem, if ``wf`` has any."""
    errors = validate_workflow_def(wf, task_defs)
    if errors:
        raise DefinitionError(errors)


def _walk(tasks: list[WorkflowTask], path: str, enclosing_loop: str | None) -> Iterator[_Site]:
    """Depth-first over the nested tree, stopping at inline sub-workflows.

    An inline sub-workflow is a separate execution with its own reference-name
    namespace, so it is validated on its own by the SUB_WORKFLOW check.
    """
    for i, task in enumerate(tasks):
        here = f"{path}[{i}]"
        yield _Site(task, here, tasks, i, enclosing_loop)
        for case, branch in task.decision_cases.items():
            yield from _walk(branch, f"{here}.decisionCases.{case}", enclosing_loop)
        yield from _walk(task.default_case, f"{here}.defaultCase", enclosing_loop)
        for b, branch in enumerate(task.fork_tasks):
            yield from _walk(branch, f"{here}.forkTasks[{b}]", enclosing_loop)
        if task.loop_over:
            # Only a DO_WHILE body is a loop; a stray loopOver on another type is ignored
            # by Conductor, so it must not make its children look nested.
            inner = (task.task_reference_name or here) if task.type == "DO_WHILE" else enclosing_loop
            yield from _walk(task.loop_over, f"{here}.loopOver", inner)


def _label(site: _Site) -> str:
    task = site.task
    if task.task_reference_name:
        return f"task '{task.task_reference_name}' ({task.type})"
    # Without a reference name the JSON path is the only handle an author can search for.
    named = f", name '{task.name}'" if task.name else ""
    return f"task at {site.path} ({task.type}{named})"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_expression(value: Any) -> bool:
    """A ``${...}`` reference: its value is only known once the workflow runs."""
    return isinstance(value, str) and "${" in value


def _check_task(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    label = _label(site)
    errors: list[str] = []

    if _blank(task.task_reference_name):
        errors.append(f"{label}: taskReferenceName is missing")
    if _blank(task.name):
        errors.append(f"{label}: name is missing")

    ttype = task.type
    if _blank(ttype):
        errors.append(f"{label}: type is empty; supported types: {_SUPPORTED_LIST}")
        return errors
    if ttype not in IMPLEMENTED_TASK_TYPES:
        errors.append(f"{label}: unknown type '{ttype}'; supported types: {_SUPPORTED_LIST}")
        return errors

    checker = _CHECKS.get(ttype)
    if checker is not None:
        errors.extend(f"{label}: {problem}" for problem in checker(site, known_refs, task_defs))
    return errors


# Each checker returns problems without the label; _check_task prefixes it.


def _check_fork_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    problems: list[str] = []
    if not site.task.fork_tasks:
        problems.append("forkTasks is empty; a FORK_JOIN needs at least one branch")
    for b, branch in enumerate(site.task.fork_tasks):
        if not branch:
            problems.append(f"fork branch {b} is empty")
    if not _followed_by_join(site):
        problems.append("no JOIN follows it")
    return problems


def _check_fork_join_dynamic(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    problems: list[str] = []
    params = task.input_parameters
    # Newer Conductor forks over forkTaskInputs with one task (forkTaskName) or one
    # sub-workflow (forkTaskWorkflow) per input; no dynamicForkTasksParam is needed then.
    newer_form = "forkTaskInputs" in params and ("forkTaskName" in params or "forkTaskWorkflow" in params)
    legacy_form = not _blank((task.model_extra or {}).get("dynamicForkJoinTasksParam"))
    if _blank(task.dynamic_fork_tasks_param) and not newer_form and not legacy_form:
        problems.append(
            "dynamicForkTasksParam is missing (or give inputParameters.forkTaskName and inputParameters.forkTaskInputs)"
        )
    if not _followed_by_join(site):
        problems.append("no JOIN follows it")
    return problems


def _followed_by_join(site: _Site) -> bool:
    nxt = site.index + 1
    return nxt < len(site.siblings) and site.siblings[nxt].type == "JOIN"


def _check_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    return [f"joinOn names unknown task '{ref}'" for ref in site.task.join_on if ref not in known_refs]


def _check_switch(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    problems: list[str] = []
    if _blank(task.evaluator_type):
        problems.append("evaluatorType is missing")
    elif task.evaluator_type not in EVALUATOR_TYPES:
        problems.append(f"evaluatorType '{task.evaluator_type}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}")
    if _blank(task.expression):
        problems.append("expression is missing")
    return problems


def _check_decision(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    problems: list[str] = []
    if _blank(task.case_value_param) and _blank(task.case_expression):
        problems.append("caseValueParam or caseExpression is required")
    if not task.decision_cases:
        problems.append("decisionCases is empty; a DECISION needs at least one case")
    return problems


def _check_do_while(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    problems: list[str] = []
    # Conductor's own definitions with inputParameters.items (an Orkes list loop) leave
    # loopCondition as "" and still register; Podium, like Conductor OSS, then runs the
    # body once. Otherwise the condition is what ends the loop.
    if task.loop_condition is None or (_blank(task.loop_condition) and "items" not in task.input_parameters):
        problems.append("loopCondition is missing")
    if not task.loop_over:
        problems.append("loopOver is empty")
    # Conductor reads inputParameters.keepLastN as an Integer, unresolved, and has no
    # meaning for less than one iteration kept.
    keep_last_n = task.input_parameters.get("keepLastN")
    if keep_last_n is not None and (
        isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int) or keep_last_n < 1
    ):
        problems.append(f"inputParameters.keepLastN must be an integer of at least 1, not {keep_last_n!r}")
    if site.enclosing_loop is not None:
        problems.append(
            f"nested inside the loopOver of DO_WHILE '{site.enclosing_loop}'; "
            "Conductor does not support a DO_WHILE within another DO_WHILE"
        )
    return problems


def _check_sub_workflow(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    param = site.task.sub_workflow_param
    if param is None:
        return ["subWorkflowParam is missing"]
    definition = param.workflow_definition
    if _blank(param.name) and definition is None:
        return ["subWorkflowParam needs a name or a workflowDefinition"]
    if isinstance(definition, WorkflowDef):
        inline: WorkflowDef | None = definition
    elif isinstance(definition, dict):
        raw = dict(definition)
        # The parent's subWorkflowParam.name stands in for a nameless inline definition.
        if _blank(raw.get("name")) and not _blank(param.name):
            raw["name"] = param.name
        try:
            inline = WorkflowDef.model_validate(raw)
        except ValidationError as exc:
            return [f"inline workflowDefinition does not parse: {_pydantic_summary(exc)}"]
    else:
        # Absent, or an expression resolved at run time: nothing to check statically.
        inline = None
    if inline is None:
        return []
    return [f"inline workflowDefinition: {e}" for e in validate_workflow_def(inline, task_defs)]


def _pydantic_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors())


def _check_inline(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    params = site.task.input_parameters
    problems: list[str] = []
    evaluator = params.get("evaluatorType")
    if _blank(evaluator):
        problems.append("inputParameters.evaluatorType is missing")
    elif not _is_expression(evaluator) and evaluator not in EVALUATOR_TYPES:
        problems.append(
            f"inputParameters.evaluatorType '{evaluator}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}"
        )
    if _blank(params.get("expression")):
        problems.append("inputParameters.expression is missing")
    return problems


def _check_lambda(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    # Conductor reads the script from inputParameters; the WorkflowTask field is an
    # older spelling some clients still send.
    if _blank(task.input_parameters.get("scriptExpression")) and _blank(task.script_expression):
        return ["inputParameters.scriptExpression is missing"]
    return []


def _check_jq(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    if not _blank(task.input_parameters.get("queryExpression")):
        return []
    # As in Conductor, the query may come from the task definition's input template.
    for task_def in (task.task_definition, task_defs.get(task.name)):
        if task_def is not None and not _blank(task_def.input_template.get("queryExpression")):
            return []
    return ["inputParameters.queryExpression is missing"]


def _check_terminate(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    problems: list[str] = []
    status = task.input_parameters.get("terminationStatus")
    allowed = ", ".join(sorted(TERMINATION_STATUSES))
    if _blank(status):
        problems.append(f"inputParameters.terminationStatus is missing; use one of {allowed}")
    elif status not in TERMINATION_STATUSES:
        problems.append(f"inputParameters.terminationStatus '{status}' is not one of {allowed}")
    if task.optional:
        # An optional TERMINATE would have no defined outcome when it "fails".
        problems.append("a TERMINATE task cannot be optional")
    return problems


def _check_wait(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    params = site.task.input_parameters
    if not _blank(params.get("duration")) and not _blank(params.get("until")):
        return ["inputParameters has both 'duration' and 'until'; give only one"]
    return []


def _check_dynamic(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    # As Conductor's WorkflowTaskTypeConstraint: the parameter naming the task is required.
    if _blank(site.task.dynamic_task_name_param):
        return ["dynamicTaskNameParam is missing; it names the input parameter holding the task name"]
    return []


def _check_exclusive_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    task = site.task
    # Conductor accepts an empty joinOn, and then joins only a defaultExclusiveJoinTask;
    # with neither there is nothing the join could ever complete on.
    if not task.join_on and not task.default_exclusive_join_task:
        return ["joinOn is empty; list the tasks it joins (or give defaultExclusiveJoinTask)"]
    problems = [f"joinOn names unknown task '{ref}'" for ref in task.join_on if ref not in known_refs]
    problems.extend(
        f"defaultExclusiveJoinTask names unknown task '{ref}'"
        for ref in task.default_exclusive_join_task
        if ref not in known_refs
    )
    return problems


def _check_start_workflow(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    request = site.task.input_parameters.get("startWorkflow")
    if request is None:
        return ["inputParameters.startWorkflow is missing; it holds the StartWorkflowRequest"]
    if _is_expression(request):
        return []
    if not isinstance(request, dict):
        return ["inputParameters.startWorkflow must be a StartWorkflowRequest map or a ${...} expression"]
    if _blank(request.get("name")) and not isinstance(request.get("workflowDef"), dict | str):
        return ["inputParameters.startWorkflow.name is missing"]
    return []


def _check_http(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    # As Conductor's WorkflowTaskTypeConstraint: the request is in inputParameters.http_request
    # or in the TaskDef's inputTemplate; Podium also reads a top-level `uri`.
    params = site.task.input_parameters
    task_def = site.task.task_definition or task_defs.get(site.task.name)
    template = task_def.input_template if task_def is not None else {}
    if "http_request" in params or "uri" in params or "http_request" in template or "uri" in template:
        return []
    return ["inputParameters.http_request is missing; it holds the request (uri, method, headers, body)"]


def _check_event(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[str]:
    # As Conductor's WorkflowTaskTypeConstraint. Which providers a sink may name is only
    # known once it is resolved: an unsupported one fails the task when it runs.
    if _blank(site.task.sink):
        return ["sink is missing; use 'conductor' or 'conductor:<name>'"]
    return []


_CHECKS = {
    "FORK_JOIN": _check_fork_join,
    "FORK_JOIN_DYNAMIC": _check_fork_join_dynamic,
    "JOIN": _check_join,
    "SWITCH": _check_switch,
    "DECISION": _check_decision,
    "DO_WHILE": _check_do_while,
    "SUB_WORKFLOW": _check_sub_workflow,
    "INLINE": _check_inline,
    "LAMBDA": _check_lambda,
    "JSON_JQ_TRANSFORM": _check_jq,
    "TERMINATE": _check_terminate,
    "WAIT": _check_wait,
    "DYNAMIC": _check_dynamic,
    "EXCLUSIVE_JOIN": _check_exclusive_join,
    "START_WORKFLOW": _check_start_workflow,
    "HTTP": _check_http,
    "EVENT": _check_event,
}
