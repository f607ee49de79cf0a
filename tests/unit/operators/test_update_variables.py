"""UpdateVariables: an event handler's update_workflow_variables action, applied by the machine.

The given variables are merged into `workflow.variables` (each one set, the others kept);
with appendArray a variable that already holds a list gets the new value appended (a
list's items one by one) instead of replaced. An ended workflow is left as it is.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow import events as ev
from actors.workflow.operators.event import merged_variables
from tests.unit.machine_harness import Run
from tests.unit.operators.support import simple, workflow


def waiting_run(**variables: Any) -> Run:
    return Run(
        workflow(simple("a"), simple("b", inputParameters={"seen": "${workflow.variables}"}), variables=variables)
    )


def test_variables_are_merged_and_later_tasks_see_them() -> None:
    run = waiting_run(keep=1, change="old")

    produced = run.send(ev.UpdateVariables({"change": "new", "added": [1]}))

    assert produced == []
    assert run.state.workflow["variables"] == {"keep": 1, "change": "new", "added": [1]}
    assert run.state.meta_dirty
    run.complete("a")
    assert run.task("b")["inputData"]["seen"] == {"keep": 1, "change": "new", "added": [1]}


def test_append_array_appends_to_list_variables() -> None:
    run = waiting_run(items=["a"], tags=["x"], count=1)

    run.send(ev.UpdateVariables({"items": "b", "tags": ["y", "z"], "count": 2, "fresh": ["n"]}, append_array=True))

    assert run.state.workflow["variables"] == {"items": ["a", "b"], "tags": ["x", "y", "z"], "count": 2, "fresh": ["n"]}


def test_without_append_array_lists_are_replaced() -> None:
    run = waiting_run(items=["a"])

    run.send(ev.UpdateVariables({"items": ["b"]}))

    assert run.state.workflow["variables"] == {"items": ["b"]}


def test_an_update_stamps_the_workflow_update_time() -> None:
    run = waiting_run()
    run.now += 5_000

    run.send(ev.UpdateVariables({"x": 1}))

    assert run.state.workflow["updateTime"] == run.now


def test_a_paused_workflow_takes_the_update() -> None:
    run = waiting_run()
    run.send(ev.Pause())

    run.send(ev.UpdateVariables({"x": 1}))

    assert run.state.workflow["variables"] == {"x": 1}
    assert run.status == "PAUSED"


def test_an_ended_workflow_is_left_as_it_is() -> None:
    run = waiting_run(x=0)
    run.send(ev.Terminate("stop"))
    run.state.meta_dirty = False

    produced = run.send(ev.UpdateVariables({"x": 1}))

    assert produced == []
    assert run.state.workflow["variables"] == {"x": 0}
    assert not run.state.meta_dirty


@pytest.mark.parametrize(
    ("current", "update", "append", "expected"),
    [
        ({}, {"a": 1}, False, {"a": 1}),
        ({"a": [1]}, {"a": [2, 3]}, True, {"a": [1, 2, 3]}),
        ({"a": [1]}, {"a": {"k": 1}}, True, {"a": [1, {"k": 1}]}),
        ({"a": "text"}, {"a": ["x"]}, True, {"a": ["x"]}),
        ({"a": [1]}, {}, True, {"a": [1]}),
    ],
)
def test_merged_variables(current: dict[str, Any], update: dict[str, Any], append: bool, expected: Any) -> None:
    before = {key: list(value) if isinstance(value, list) else value for key, value in current.items()}
    assert merged_variables(current, update, append) == expected
    assert current == before  # the current variables are not changed in place
