"""Workflow definition checks with each task type's rules taken from its operator.

`definitions.validation` walks a definition and checks what every task shares; this
binds it to the operator registry, so what a SWITCH or a JOIN must carry is said once,
in its operator's `check_definition`.
"""

from __future__ import annotations

from collections.abc import Mapping

from actors.workflow.operators.base import implemented_task_types, operator_for
from definitions import validation
from definitions.models import TaskDef, WorkflowDef
from definitions.validation import DefinitionError, Finding, Findings, Review, TaskSite

__all__ = ["DefinitionError", "Findings", "check_workflow_def", "review_workflow_def", "validate_workflow_def"]


class OperatorRules:
    """`TaskTypeRules` answered by the operator registry."""

    def implemented(self) -> frozenset[str]:
        return implemented_task_types()

    def is_loop(self, task_type: str) -> bool:
        return operator_for(task_type).is_loop

    def check(self, site: TaskSite, review: Review) -> list[Finding]:
        return operator_for(site.task.type).check_definition(site, review)


OPERATOR_RULES = OperatorRules()


def review_workflow_def(wf: WorkflowDef, task_defs: Mapping[str, TaskDef] | None = None) -> Findings:
    """Every problem found in ``wf``, split into errors (registration refuses them, as
    Conductor does) and warnings (Podium's findings about a definition Conductor accepts)."""
    return validation.review_workflow_def(wf, OPERATOR_RULES, task_defs)


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
