"""Static checks of a workflow definition, run when it is registered or started.

Two kinds of findings:

- **errors** are what Conductor OSS refuses too (its WorkflowTaskTypeConstraint, the
  bean constraints of WorkflowDef and WorkflowTask, TaskReferenceNameUniqueConstraint):
  registration fails with them, as it does in Conductor;
- **warnings** are Podium's own findings about a definition Conductor accepts, such as
  a FORK_JOIN with no JOIN after it. Conductor only finds these when the workflow runs,
  and so does Podium (the task or the workflow fails then); registration goes through
  and `/api/metadata/workflow/validate` reports them.

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
    "Findings",
    "check_workflow_def",
    "review_workflow_def",
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
class Findings:
    """What a review found: `errors` refuse the definition, `warnings` do not."""

    errors: list[str]
    warnings: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.errors, *self.warnings]


# A checker's finding: whether Conductor refuses it too (an error), and the message.
_Finding = tuple[bool, str]


def _error(message: str) -> _Finding:
    return (True, message)


def _warning(message: str) -> _Finding:
    return (False, message)


@dataclass(frozen=True)
class _Site:
    """One task of the tree with what the checks need to know about where it sits."""

    task: WorkflowTask
    path: str
    siblings: list[WorkflowTask]
    index: int
    enclosing_loop: str | None


def review_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> Findings:
    """Every problem found in ``wf``, split into errors (refused) and warnings.

    ``task_defs`` (registered task definitions by name) is optional: with it, an HTTP or
    JSON_JQ_TRANSFORM task whose input comes from its TaskDef's inputTemplate is
    accepted, as Conductor does.
    """
    errors: list[str] = []
    warnings: list[str] = []
    if not wf.name or not wf.name.strip():
        errors.append("workflow name is empty")
    if not wf.tasks:
        errors.append(f"workflow '{wf.name}' has no tasks")
        return Findings(errors, warnings)

    sites = list(_walk(wf.tasks, "tasks", None))
    ref_counts = Counter(s.task.task_reference_name for s in sites if s.task.task_reference_name)
    known_refs = set(ref_counts)

    for ref, count in sorted(ref_counts.items()):
        if count > 1:
            errors.append(f"task '{ref}': taskReferenceName is used by {count} tasks; it must be unique")

    for site in sites:
        for refused, message in _check_task(site, known_refs, task_defs or {}):
            (errors if refused else warnings).append(message)
    return Findings(errors, warnings)


def validate_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> list[str]:
    """Every finding in ``wf``, errors first, then warnings; empty means nothing to report.

    This is the strict reading (what Podium would have an author fix); registration
    refuses only :func:`review_workflow_def`'s errors.
    """
    return review_workflow_def(wf, task_defs).all


def check_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> None:
    """Raise :class:`DefinitionError` listing every error, if ``wf`` has any (warnings pass)."""
    errors = review_workflow_def(wf, task_defs).errors
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


def _check_task(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    label = _label(site)
    findings: list[_Finding] = []

    # Conductor's @NotEmpty on WorkflowTask.name and taskReferenceName.
    if _blank(task.task_reference_name):
        findings.append(_error(f"{label}: taskReferenceName is missing"))
    if _blank(task.name):
        findings.append(_error(f"{label}: name is missing"))

    ttype = task.type
    if _blank(ttype):
        findings.append(_error(f"{label}: type is empty; supported types: {_SUPPORTED_LIST}"))
        return findings
    if ttype not in IMPLEMENTED_TASK_TYPES:
        # Conductor registers any type (a module may provide it) and maps an unknown one
        # to a worker task when it runs; Podium does the same, so it is only a warning.
        findings.append(
            _warning(
                f"{label}: unknown type '{ttype}'; it runs as a worker task polled as '{task.name}' "
                f"(types Podium runs itself: {_SUPPORTED_LIST})"
            )
        )
        return findings

    checker = _CHECKS.get(ttype)
    if checker is not None:
        findings.extend((refused, f"{label}: {problem}") for refused, problem in checker(site, known_refs, task_defs))
    return findings


# Each checker returns findings without the label; _check_task prefixes it.
# Errors follow Conductor's WorkflowTaskTypeConstraint; a check Conductor does not make
# is a warning, and what it guards against fails when the workflow runs.


def _check_fork_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    findings: list[_Finding] = []
    if not site.task.fork_tasks:
        findings.append(_error("forkTasks is empty; a FORK_JOIN needs at least one branch"))
    for b, branch in enumerate(site.task.fork_tasks):
        if not branch:
            findings.append(_warning(f"fork branch {b} is empty; it is skipped"))
    if not _followed_by_join(site):
        findings.append(_warning("no JOIN follows it; the fork fails when it runs"))
    return findings


def _check_fork_join_dynamic(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    findings: list[_Finding] = []
    params = task.input_parameters
    legacy = (task.model_extra or {}).get("dynamicForkJoinTasksParam")
    if "forkTaskInputs" in params:
        # Newer Conductor forks over forkTaskInputs with one task (forkTaskName) or one
        # sub-workflow (forkTaskWorkflow) per input; Conductor asks for nothing more.
        if "forkTaskName" not in params and "forkTaskWorkflow" not in params:
            findings.append(
                _warning("inputParameters.forkTaskInputs without forkTaskName or forkTaskWorkflow; the fork fails")
            )
    elif legacy is not None and (task.dynamic_fork_tasks_param is not None or task.dynamic_fork_tasks_input_param_name):
        findings.append(
            _error(
                "dynamicForkJoinTasksParam or the combination of dynamicForkTasksParam and "
                "dynamicForkTasksInputParamName can be used, not both"
            )
        )
    elif legacy is None:
        if task.dynamic_fork_tasks_param is None:
            findings.append(
                _error(
                    "dynamicForkTasksParam is missing (or give inputParameters.forkTaskName and "
                    "inputParameters.forkTaskInputs)"
                )
            )
        elif _blank(task.dynamic_fork_tasks_param):
            findings.append(_warning("dynamicForkTasksParam is empty"))
        if task.dynamic_fork_tasks_input_param_name is None:
            findings.append(_error("dynamicForkTasksInputParamName is missing"))
    if not _followed_by_join(site):
        findings.append(_warning("no JOIN follows it; the fork fails when it runs"))
    return findings


def _followed_by_join(site: _Site) -> bool:
    nxt = site.index + 1
    return nxt < len(site.siblings) and site.siblings[nxt].type == "JOIN"


def _check_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    return [
        _warning(f"joinOn names unknown task '{ref}'; the join waits for it")
        for ref in site.task.join_on
        if ref not in known_refs
    ]


def _check_switch(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    findings: list[_Finding] = []
    if task.evaluator_type is None:
        findings.append(_error("evaluatorType is missing"))
    elif _blank(task.evaluator_type) or task.evaluator_type not in EVALUATOR_TYPES:
        findings.append(
            _warning(
                f"evaluatorType '{task.evaluator_type}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}; "
                "the task fails when it runs"
            )
        )
    if task.expression is None:
        findings.append(_error("expression is missing"))
    elif _blank(task.expression):
        findings.append(_warning("expression is empty"))
    if not task.decision_cases:
        # Conductor: "decisionCases should have atleast one task for taskType: SWITCH".
        findings.append(_error("decisionCases is empty; a SWITCH needs at least one case"))
    return findings


def _check_decision(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    findings: list[_Finding] = []
    if task.case_value_param is None and task.case_expression is None:
        findings.append(_error("caseValueParam or caseExpression is required"))
    elif _blank(task.case_value_param) and _blank(task.case_expression):
        findings.append(_warning("caseValueParam and caseExpression are empty"))
    if not task.decision_cases:
        findings.append(_error("decisionCases is empty; a DECISION needs at least one case"))
    return findings


def _check_do_while(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    findings: list[_Finding] = []
    if task.loop_condition is None:
        findings.append(_error("loopCondition is missing"))
    elif _blank(task.loop_condition) and "items" not in task.input_parameters:
        # Conductor registers it and, like Podium, then runs the body once.
        findings.append(_warning("loopCondition is empty; the body runs once"))
    if not task.loop_over:
        findings.append(_error("loopOver is empty"))
    # Conductor reads inputParameters.keepLastN as an Integer, unresolved, and has no
    # meaning for less than one iteration kept; Podium then keeps every iteration.
    keep_last_n = task.input_parameters.get("keepLastN")
    if keep_last_n is not None and (
        isinstance(keep_last_n, bool) or not isinstance(keep_last_n, int) or keep_last_n < 1
    ):
        findings.append(
            _warning(
                f"inputParameters.keepLastN must be an integer of at least 1, not {keep_last_n!r}; "
                "every iteration is kept"
            )
        )
    if site.enclosing_loop is not None:
        # Conductor's documentation says nested loops are unsupported; Podium's loop
        # bookkeeping (one iteration suffix per reference name) cannot run them.
        findings.append(
            _error(
                f"nested inside the loopOver of DO_WHILE '{site.enclosing_loop}'; "
                "Conductor does not support a DO_WHILE within another DO_WHILE"
            )
        )
    return findings


def _check_sub_workflow(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    param = site.task.sub_workflow_param
    if param is None:
        return [_error("subWorkflowParam is missing")]
    definition = param.workflow_definition
    if _blank(param.name) and definition is None:
        return [_error("subWorkflowParam needs a name or a workflowDefinition")]
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
            return [_error(f"inline workflowDefinition does not parse: {_pydantic_summary(exc)}")]
    else:
        # Absent, or an expression resolved at run time: nothing to check statically.
        inline = None
    if inline is None:
        return []
    findings = review_workflow_def(inline, task_defs)
    return [_error(f"inline workflowDefinition: {e}") for e in findings.errors] + [
        _warning(f"inline workflowDefinition: {w}") for w in findings.warnings
    ]


def _pydantic_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors())


def _check_inline(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    # Conductor checks nothing about INLINE at registration: these fail the task at run time.
    params = site.task.input_parameters
    findings: list[_Finding] = []
    evaluator = params.get("evaluatorType")
    if _blank(evaluator):
        findings.append(_warning("inputParameters.evaluatorType is missing"))
    elif not _is_expression(evaluator) and evaluator not in EVALUATOR_TYPES:
        findings.append(
            _warning(f"inputParameters.evaluatorType '{evaluator}' is not one of {', '.join(sorted(EVALUATOR_TYPES))}")
        )
    if _blank(params.get("expression")):
        findings.append(_warning("inputParameters.expression is missing; the task fails when it runs"))
    return findings


def _check_lambda(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    # Conductor reads the script from inputParameters; the WorkflowTask field is an
    # older spelling some clients still send. Without one the task fails when it runs.
    if _blank(task.input_parameters.get("scriptExpression")) and _blank(task.script_expression):
        return [_warning("inputParameters.scriptExpression is missing; the task fails when it runs")]
    return []


def _check_jq(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    # As in Conductor, the query may come from the task definition's input template,
    # and only its absence is refused.
    sources = [task.input_parameters]
    sources.extend(d.input_template for d in (task.task_definition, task_defs.get(task.name)) if d is not None)
    present = [source["queryExpression"] for source in sources if "queryExpression" in source]
    if not present:
        return [_error("inputParameters.queryExpression is missing")]
    if all(_blank(query) for query in present):
        return [_warning("inputParameters.queryExpression is empty; the task fails when it runs")]
    return []


def _check_terminate(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    findings: list[_Finding] = []
    status = task.input_parameters.get("terminationStatus")
    allowed = ", ".join(sorted(TERMINATION_STATUSES))
    if _blank(status):
        findings.append(_error(f"inputParameters.terminationStatus is missing; use one of {allowed}"))
    elif status not in TERMINATION_STATUSES:
        findings.append(_error(f"inputParameters.terminationStatus '{status}' is not one of {allowed}"))
    if task.optional:
        # An optional TERMINATE would have no defined outcome when it "fails".
        findings.append(_error("a TERMINATE task cannot be optional"))
    return findings


def _check_wait(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    params = site.task.input_parameters
    if not _blank(params.get("duration")) and not _blank(params.get("until")):
        return [_error("inputParameters has both 'duration' and 'until'; give only one")]
    return []


def _check_dynamic(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    # As Conductor's WorkflowTaskTypeConstraint: the parameter naming the task is required.
    param = site.task.dynamic_task_name_param
    message = "dynamicTaskNameParam is missing; it names the input parameter holding the task name"
    if param is None:
        return [_error(message)]
    if _blank(param):
        return [_warning(message)]
    return []


def _check_exclusive_join(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    task = site.task
    # Conductor checks nothing here. With neither joinOn nor defaultExclusiveJoinTask
    # there is nothing the join could ever complete on: it fails when it runs.
    if not task.join_on and not task.default_exclusive_join_task:
        return [_warning("joinOn is empty; list the tasks it joins (or give defaultExclusiveJoinTask)")]
    findings = [_warning(f"joinOn names unknown task '{ref}'") for ref in task.join_on if ref not in known_refs]
    findings.extend(
        _warning(f"defaultExclusiveJoinTask names unknown task '{ref}'")
        for ref in task.default_exclusive_join_task
        if ref not in known_refs
    )
    return findings


def _check_start_workflow(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    # Conductor checks the request only when the task runs, and fails the task then.
    request = site.task.input_parameters.get("startWorkflow")
    if request is None:
        return [_warning("inputParameters.startWorkflow is missing; it holds the StartWorkflowRequest")]
    if _is_expression(request):
        return []
    if not isinstance(request, dict):
        return [_warning("inputParameters.startWorkflow must be a StartWorkflowRequest map or a ${...} expression")]
    if _blank(request.get("name")) and not isinstance(request.get("workflowDef"), dict | str):
        return [_warning("inputParameters.startWorkflow.name is missing")]
    return []


def _check_http(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    # As Conductor's WorkflowTaskTypeConstraint: the request is in inputParameters.http_request,
    # at the top level of inputParameters (uri or method), or in the TaskDef's inputTemplate.
    params = site.task.input_parameters
    task_def = site.task.task_definition or task_defs.get(site.task.name)
    template = task_def.input_template if task_def is not None else {}
    if any(key in params for key in ("http_request", "uri", "method")) or "http_request" in template:
        return []
    if "uri" in template:
        # Podium reads a top-level uri from the template too; Conductor would refuse this.
        return []
    return [_error("inputParameters.http_request is missing; it holds the request (uri, method, headers, body)")]


def _check_event(site: _Site, known_refs: set[str], task_defs: Mapping[str, TaskDef]) -> list[_Finding]:
    # As Conductor's WorkflowTaskTypeConstraint. Which providers a sink may name is only
    # known once it is resolved: an unsupported one fails the task when it runs.
    sink = site.task.sink
    message = "sink is missing; use 'conductor' or 'conductor:<name>'"
    if sink is None:
        return [_error(message)]
    if _blank(sink):
        return [_warning(message)]
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
