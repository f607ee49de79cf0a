"""taskToDomain: which domain queue a worker task goes to (Conductor's setTaskDomains and
getActiveDomain in WorkflowExecutorOps)."""

from __future__ import annotations

from actors.workflow import commands as cmd
from tests.unit.machine_harness import Run
from tests.unit.operators.support import of_type

DEFINITION = {
    "name": "domains",
    "tasks": [
        {"name": "pay", "taskReferenceName": "pay", "type": "SIMPLE"},
        {"name": "note", "taskReferenceName": "note", "type": "NOOP"},
    ],
}


def domain_of_first_task(run: Run) -> str | None:
    [dispatch] = of_type(run.commands, cmd.DispatchTask)
    domain: str | None = dispatch.task.get("domain")
    return domain


def test_a_single_domain_is_used_as_given() -> None:
    assert domain_of_first_task(Run(DEFINITION, task_to_domain={"pay": "blue"})) == "blue"


def test_the_task_entry_overrides_the_wildcard() -> None:
    run = Run(DEFINITION, task_to_domain={"*": "green", "pay": "blue"})
    assert domain_of_first_task(run) == "blue"
    assert domain_of_first_task(Run(DEFINITION, task_to_domain={"*": "green"})) == "green"


def test_a_list_picks_the_first_domain_with_a_polling_worker() -> None:
    run = Run(DEFINITION, task_to_domain={"pay": "blue,green,red"}, polling={("pay", "green"), ("pay", "red")})
    assert domain_of_first_task(run) == "green"


def test_with_no_polling_worker_the_last_domain_is_used() -> None:
    assert domain_of_first_task(Run(DEFINITION, task_to_domain={"pay": "blue,green"})) == "green"


def test_no_domain_last_means_the_plain_queue_when_nobody_polls() -> None:
    assert domain_of_first_task(Run(DEFINITION, task_to_domain={"pay": "blue,NO_DOMAIN"})) is None
    assert domain_of_first_task(Run(DEFINITION, task_to_domain={"pay": "NO_DOMAIN"})) is None
    # A polling worker still wins over the NO_DOMAIN fallback.
    run = Run(DEFINITION, task_to_domain={"pay": "blue,NO_DOMAIN"}, polling={("pay", "blue")})
    assert domain_of_first_task(run) == "blue"


def test_system_tasks_never_get_a_domain() -> None:
    run = Run(DEFINITION, task_to_domain={"*": "green"})
    run.complete("pay")
    assert "domain" not in run.task("note")
