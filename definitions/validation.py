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

The checks every task shares (names, unique reference names, where loops nest) are
here. What a task of one type must carry is its operator's ``check_definition``
(actors/workflow/operators/): this module knows no task type, so the caller passes
those rules in (:class:`TaskTypeRules`); ``actors.workflow.definition_checks`` binds
them to the operator registry.

Scripts and jq queries are not run or compiled here: validation must stay cheap and
side-effect free, and an expression may only become a script after ``${...}``
substitution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from definitions.models import TaskDef, WorkflowDef, WorkflowTask

__all__ = [
    "DefinitionError",
    "Finding",
    "Findings",
    "Review",
    "TaskSite",
    "TaskTypeRules",
    "blank",
    "error",
    "is_expression",
    "pydantic_summary",
    "required",
    "review_workflow_def",
    "warning",
]


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


# A check's finding: whether Conductor refuses it too (an error), and the message.
Finding = tuple[bool, str]


def error(message: str) -> Finding:
    """A finding Conductor refuses too (its WorkflowTaskTypeConstraint and bean constraints)."""
    return (True, message)


def warning(message: str) -> Finding:
    """Podium's finding about a definition Conductor accepts; what it guards against fails at run time."""
    return (False, message)


@dataclass(frozen=True)
class TaskSite:
    """One task of the tree with what the checks need to know about where it sits."""

    task: WorkflowTask
    path: str
    siblings: list[WorkflowTask]
    index: int
    enclosing_loop: str | None

    @property
    def next_sibling(self) -> WorkflowTask | None:
        following = self.index + 1
        return self.siblings[following] if following < len(self.siblings) else None


class TaskTypeRules(Protocol):
    """What validation needs to know about task types (the operator registry answers it)."""

    def implemented(self) -> frozenset[str]:
        """The types the engine runs itself; any other type is work for a worker."""
        ...

    def is_loop(self, task_type: str) -> bool:
        """Whether a task of this type repeats its body (what lies inside is nested in a loop)."""
        ...

    def check(self, site: TaskSite, review: Review) -> list[Finding]:
        """What this task's type requires of it, without the task's label."""
        ...


@dataclass(frozen=True)
class Review:
    """What a type's check may consult besides its own task."""

    known_refs: frozenset[str]
    task_defs: Mapping[str, TaskDef]
    rules: TaskTypeRules
    # The types the engine runs, asked of the rules once per review rather than per task.
    implemented: frozenset[str]

    @property
    def supported(self) -> str:
        return ", ".join(sorted(self.implemented))

    def nested(self, definition: WorkflowDef) -> Findings:
        """Review an inline sub-workflow: its own reference-name namespace, the same rules."""
        return review_workflow_def(definition, self.rules, self.task_defs)


def review_workflow_def(
    wf: WorkflowDef, rules: TaskTypeRules, task_defs: Mapping[str, TaskDef] | None = None
) -> Findings:
    """Every problem found in ``wf``, split into errors (refused) and warnings.

    ``task_defs`` (registered task definitions by name) is optional: with it, a task
    whose input comes from its TaskDef's inputTemplate is accepted, as Conductor does.
    """
    errors: list[str] = []
    warnings: list[str] = []
    if not wf.name or not wf.name.strip():
        errors.append("workflow name is empty")
    if not wf.tasks:
        errors.append(f"workflow '{wf.name}' has no tasks")
        return Findings(errors, warnings)

    sites = list(_walk(wf.tasks, "tasks", None, rules))
    ref_counts = Counter(s.task.task_reference_name for s in sites if s.task.task_reference_name)
    for ref, count in sorted(ref_counts.items()):
        if count > 1:
            errors.append(f"task '{ref}': taskReferenceName is used by {count} tasks; it must be unique")

    review = Review(frozenset(ref_counts), task_defs or {}, rules, rules.implemented())
    for site in sites:
        for refused, message in _check_task(site, review):
            (errors if refused else warnings).append(message)
    return Findings(errors, warnings)


def _walk(tasks: list[WorkflowTask], path: str, enclosing_loop: str | None, rules: TaskTypeRules) -> Iterator[TaskSite]:
    """Depth-first over the nested tree, stopping at inline sub-workflows.

    An inline sub-workflow is a separate execution with its own reference-name
    namespace, so it is validated on its own by its task's check.
    """
    for i, task in enumerate(tasks):
        here = f"{path}[{i}]"
        yield TaskSite(task, here, tasks, i, enclosing_loop)
        for case, branch in task.decision_cases.items():
            yield from _walk(branch, f"{here}.decisionCases.{case}", enclosing_loop, rules)
        yield from _walk(task.default_case, f"{here}.defaultCase", enclosing_loop, rules)
        for b, branch in enumerate(task.fork_tasks):
            yield from _walk(branch, f"{here}.forkTasks[{b}]", enclosing_loop, rules)
        if task.loop_over:
            # Only a loop's body is nested in it; a stray loopOver on another type is
            # ignored by Conductor, so it must not make its children look nested.
            inner = (task.task_reference_name or here) if rules.is_loop(task.type) else enclosing_loop
            yield from _walk(task.loop_over, f"{here}.loopOver", inner, rules)


def _label(site: TaskSite) -> str:
    task = site.task
    if task.task_reference_name:
        return f"task '{task.task_reference_name}' ({task.type})"
    # Without a reference name the JSON path is the only handle an author can search for.
    named = f", name '{task.name}'" if task.name else ""
    return f"task at {site.path} ({task.type}{named})"


def required(value: Any, message: str) -> list[Finding]:
    """A field Conductor requires: refused when absent; when present but empty, Podium's
    warning (the task fails when it runs)."""
    if value is None:
        return [error(message)]
    if blank(value):
        return [warning(message)]
    return []


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_expression(value: Any) -> bool:
    """A ``${...}`` reference: its value is only known once the workflow runs."""
    return isinstance(value, str) and "${" in value


def pydantic_summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors())


def _check_task(site: TaskSite, review: Review) -> list[Finding]:
    task = site.task
    label = _label(site)
    findings: list[Finding] = []

    # Conductor's @NotEmpty on WorkflowTask.name and taskReferenceName.
    if blank(task.task_reference_name):
        findings.append(error(f"{label}: taskReferenceName is missing"))
    if blank(task.name):
        findings.append(error(f"{label}: name is missing"))

    if blank(task.type):
        findings.append(error(f"{label}: type is empty; supported types: {review.supported}"))
        return findings
    if task.type not in review.implemented:
        # Conductor registers any type (a module may provide it) and maps an unknown one
        # to a worker task when it runs; Podium does the same, so it is only a warning.
        findings.append(
            warning(
                f"{label}: unknown type '{task.type}'; it runs as a worker task polled as '{task.name}' "
                f"(types Podium runs itself: {review.supported})"
            )
        )
        return findings
    findings.extend((refused, f"{label}: {problem}") for refused, problem in review.rules.check(site, review))
    return findings
