"""Every operator end to end: through the HTTP gateway, on a real Redis and a real Ray.

Where one of Conductor's own test definitions (the shared corpus) fits, the test
registers it unchanged except for names: the workflow's name and the names of its
worker tasks get a per-test suffix, so tests sharing the session's Podium never poll
each other's tasks. Assertions follow the Groovy specs that ship with those
definitions in conductor-oss/conductor (test-harness/src/test/groovy/).
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest

from tests.conductor_corpus import read
from tests.integration.client import PodiumClient, eventually

Json = dict[str, Any]
DEADLINE_SECONDS = 30.0


# -- the shared Conductor definitions -----------------------------------------------------


def shared_definition(name: str) -> Json:
    definition: Json = read(f"workflows/{name}.json")
    return definition


def _rename_worker_tasks(tasks: list[Json], suffix: str) -> None:
    for task in tasks:
        if task.get("type", "SIMPLE") == "SIMPLE":
            task["name"] = f"{task['name']}_{suffix}"
            if isinstance(task.get("taskDefinition"), dict):
                task["taskDefinition"]["name"] = task["name"]
        for branch in (task.get("decisionCases") or {}).values():
            _rename_worker_tasks(branch, suffix)
        _rename_worker_tasks(task.get("defaultCase") or [], suffix)
        for branch in task.get("forkTasks") or []:
            _rename_worker_tasks(branch, suffix)
        _rename_worker_tasks(task.get("loopOver") or [], suffix)
        params = task.get("subWorkflowParam") or {}
        inline = params.get("workflowDefinition")
        if isinstance(inline, dict):
            inline["name"] = params["name"] = f"{inline['name']}_{suffix}"
            _rename_worker_tasks(inline["tasks"], suffix)


def suffixed(definition: Json, suffix: str) -> Json:
    """A copy named `<name>_<suffix>` whose worker task types carry the suffix too."""
    renamed = copy.deepcopy(definition)
    renamed["name"] = f"{renamed['name']}_{suffix}"
    _rename_worker_tasks(renamed["tasks"], suffix)
    return renamed


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]




def take(client: PodiumClient, task_type: str, count: int = 1) -> list[Json]:
    """Poll `task_type` (each poll long-polls briefly) until exactly `count` tasks came."""
    taken: list[Json] = []
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(taken) < count:
        taken.extend(client.poll(task_type, count - len(taken)))
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(taken)} of {count} '{task_type}' tasks to poll")
    assert len(taken) == count, f"polled {len(taken)} '{task_type}' tasks, expected {count}"
    return taken




def refs(workflow: Json) -> list[str]:
    return [task["referenceTaskName"] for task in workflow["tasks"]]


def statuses(workflow: Json) -> dict[str, str]:
    return {task["referenceTaskName"]: task["status"] for task in workflow["tasks"]}


def task_of(workflow: Json, reference: str) -> Json:
    [task] = [task for task in workflow["tasks"] if task["referenceTaskName"] == reference]
    return task


def existing_workflow(client: PodiumClient, workflow_id: str) -> Json:
    """A workflow started by a message (a sub workflow): wait until it exists."""

    def fetch() -> Json:
        response = client.request("GET", f"/workflow/{workflow_id}")
        return response.json() if response.status_code == 200 else {"status": f"HTTP {response.status_code}"}

    return eventually(fetch, lambda w: "workflowId" in w, f"workflow {workflow_id} to exist")


def register(client: PodiumClient, definition: Json) -> str:
    client.register(definition)
    return str(definition["name"])


# -- SIMPLE ------------------------------------------------------------------------------


def test_simple_tasks_with_an_external_worker(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("simple_workflow_1_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1 value", "param2": "p2 value"}, correlationId=f"corr-{uid}")

    task1 = client.take(f"integration_task_1_{uid}")
    assert task1["referenceTaskName"] == "t1"
    assert task1["workflowInstanceId"] == workflow_id
    assert task1["status"] == "IN_PROGRESS"
    # ${CPEWF_TASK_ID} is the task's own id, as in Conductor; a JSON null stays null.
    assert task1["inputData"] == {"p1": "p1 value", "p2": "p2 value", "p3": task1["taskId"], "someNullKey": None}
    running = eventually(
        lambda: client.workflow(workflow_id),
        lambda w: task_of(w, "t1")["status"] == "IN_PROGRESS",
        "t1 to be IN_PROGRESS after its poll",
    )
    assert running["status"] == "RUNNING"
    assert refs(running) == ["t1"]
    assert client.poll(f"integration_task_1_{uid}") == []

    client.complete(task1, {"op": "task1 done"})
    task2 = client.take(f"integration_task_2_{uid}")
    assert task2["referenceTaskName"] == "t2"
    assert task2["inputData"] == {"tp1": "p1 value", "tp2": "task1 done", "tp3": task2["taskId"]}
    client.complete(task2, {"uuid": "u-42"})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["correlationId"] == f"corr-{uid}"
    assert refs(workflow) == ["t1", "t2"]
    assert statuses(workflow) == {"t1": "COMPLETED", "t2": "COMPLETED"}
    assert [task["taskType"] for task in workflow["tasks"]] == [
        f"integration_task_1_{uid}",
        f"integration_task_2_{uid}",
    ]
    assert task_of(workflow, "t1")["outputData"] == {"op": "task1 done"}
    assert workflow["output"] == {"o1": "p1 value", "o2": "u-42", "o3": "task1 done"}
    assert client.ok("GET", f"/tasks/{task2['taskId']}")["outputData"] == {"uuid": "u-42"}


def test_simple_tasks_on_python_actor_workers(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"python_workers_{uid}",
            "tasks": [
                {"name": "py_add", "taskReferenceName": "add", "inputParameters": {"a": "${workflow.input.x}", "b": 5}},
                {
                    "name": "py_echo",
                    "taskReferenceName": "echo",
                    "inputParameters": {"total": "${add.output.sum}", "label": "sum of ${workflow.input.x} and 5"},
                },
            ],
            "outputParameters": {"total": "${add.output.sum}", "echoed": "${echo.output.echo}"},
        },
    )
    workflow = client.wait(client.start(name, {"x": 37}))
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["add", "echo"]
    assert statuses(workflow) == {"add": "COMPLETED", "echo": "COMPLETED"}
    assert task_of(workflow, "add")["inputData"] == {"a": 37, "b": 5}
    assert task_of(workflow, "add")["outputData"] == {"sum": 42}
    echo = task_of(workflow, "echo")
    assert echo["inputData"] == {"total": 42, "label": "sum of 37 and 5"}
    assert echo["outputData"]["echo"] == {"total": 42, "label": "sum of 37 and 5"}
    assert isinstance(echo["outputData"]["pid"], int)
    assert workflow["output"] == {"total": 42, "echoed": {"total": 42, "label": "sum of 37 and 5"}}


# -- SWITCH and DECISION -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "case_refs"),
    [("c", ["t1", "t2"]), ("anything else", ["t5"])],
    ids=["matching-case", "default-case"],
)
def test_switch_with_value_param(client: PodiumClient, uid: str, case: str, case_refs: list[str]) -> None:
    name = register(client, suffixed(shared_definition("simple_switch_task_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1", "param2": "p2", "case": case})

    started = client.workflow(workflow_id)
    switch = task_of(started, "switchTask")
    assert switch["taskType"] == "SWITCH"
    assert switch["status"] == "COMPLETED"
    assert switch["inputData"] == {"case": case}
    assert switch["outputData"]["evaluationResult"] == [case]
    assert refs(started) == ["switchTask", case_refs[0]]

    for reference in [*case_refs, "t20"]:
        task = client.take(f"integration_task_{reference[1:]}_{uid}")
        assert task["referenceTaskName"] == reference
        assert task["inputData"] == {"p1": "p1", "p2": "p2"}
        client.complete(task, {"done": reference})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["switchTask", *case_refs, "t20"]
    assert set(statuses(workflow).values()) == {"COMPLETED"}


@pytest.mark.parametrize(("amount", "size"), [(500, "big"), (5, "small")])
def test_switch_with_javascript(client: PodiumClient, uid: str, amount: int, size: str) -> None:
    name = register(
        client,
        {
            "name": f"switch_js_{uid}",
            "tasks": [
                {
                    "name": "size_switch",
                    "taskReferenceName": "size",
                    "type": "SWITCH",
                    "evaluatorType": "javascript",
                    "expression": "$.amount > 100 ? 'big' : 'small'",
                    "inputParameters": {"amount": "${workflow.input.amount}"},
                    "decisionCases": {
                        "big": [
                            {
                                "name": "set_big",
                                "taskReferenceName": "set_big",
                                "type": "SET_VARIABLE",
                                "inputParameters": {"size": "big"},
                            }
                        ],
                        "small": [
                            {
                                "name": "set_small",
                                "taskReferenceName": "set_small",
                                "type": "SET_VARIABLE",
                                "inputParameters": {"size": "small"},
                            }
                        ],
                    },
                },
                {"name": "after", "taskReferenceName": "after", "type": "NOOP"},
            ],
            "outputParameters": {"size": "${workflow.variables.size}"},
        },
    )
    workflow = client.wait(client.start(name, {"amount": amount}))
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["size", f"set_{size}", "after"]
    assert task_of(workflow, "size")["inputData"] == {"amount": amount}
    assert task_of(workflow, "size")["outputData"]["evaluationResult"] == [size]
    assert workflow["variables"] == {"size": size}
    assert workflow["output"] == {"size": size}


@pytest.mark.parametrize(
    ("case", "case_refs"),
    [("c", ["t1", "t2"]), ("nope", ["t5"])],
    ids=["matching-case", "default-case"],
)
def test_decision(client: PodiumClient, uid: str, case: str, case_refs: list[str]) -> None:
    name = register(client, suffixed(shared_definition("simple_decision_task_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1", "param2": "p2", "case": case})

    started = client.workflow(workflow_id)
    decision = task_of(started, "decisionTask")
    assert decision["taskType"] == "DECISION"
    assert decision["status"] == "COMPLETED"
    assert decision["outputData"] == {"caseOutput": [case]}
    assert refs(started) == ["decisionTask", case_refs[0]]

    for reference in [*case_refs, "t20"]:
        task = client.take(f"integration_task_{reference[1:]}_{uid}")
        assert task["referenceTaskName"] == reference
        client.complete(task)

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["decisionTask", *case_refs, "t20"]


# -- FORK_JOIN, JOIN and FORK_JOIN_DYNAMIC -----------------------------------------------


def test_fork_join_waits_for_its_join_on(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("fork_join_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1", "param2": "p2"})

    started = client.workflow(workflow_id)
    assert refs(started) == ["fanouttask", "t1", "t2", "fanouttask_join"]
    assert [task["taskType"] for task in started["tasks"]] == [
        "FORK",
        f"integration_task_1_{uid}",
        f"integration_task_2_{uid}",
        "JOIN",
    ]
    assert statuses(started) == {
        "fanouttask": "COMPLETED",
        "t1": "SCHEDULED",
        "t2": "SCHEDULED",
        "fanouttask_join": "IN_PROGRESS",
    }
    assert task_of(started, "fanouttask_join")["inputData"] == {"joinOn": ["t3", "t2"]}

    task1 = client.take(f"integration_task_1_{uid}")
    # These inputs are not ${...} expressions: they pass through as the text they are.
    assert task1["inputData"] == {"p1": "workflow.input.param1", "p2": "workflow.input.param2"}
    task2 = client.take(f"integration_task_2_{uid}")
    assert task2["inputData"] == {"tp1": "workflow.input.param1"}

    client.complete(task2, {"branch": 2})
    client.complete(task1, {"branch": 1})
    task3 = client.take(f"integration_task_3_{uid}")
    assert task3["referenceTaskName"] == "t3"
    waiting = client.workflow(workflow_id)
    assert task_of(waiting, "fanouttask_join")["status"] == "IN_PROGRESS"
    assert client.poll(f"integration_task_4_{uid}") == []

    client.complete(task3, {"branch": 3})
    task4 = client.take(f"integration_task_4_{uid}")
    joined = client.workflow(workflow_id)
    join = task_of(joined, "fanouttask_join")
    assert join["status"] == "COMPLETED"
    assert join["outputData"] == {"t3": {"branch": 3}, "t2": {"branch": 2}}
    client.complete(task4, {"last": True})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["fanouttask", "t1", "t2", "fanouttask_join", "t3", "t4"]
    assert set(statuses(workflow).values()) == {"COMPLETED"}
    assert workflow["output"] == {"last": True}


def test_fork_join_dynamic_with_dynamic_tasks_param(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("dynamic_fork_join_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1", "param2": "p2"})

    first = client.take(f"integration_task_1_{uid}")
    assert first["referenceTaskName"] == "dt1"
    dynamic_tasks = [
        {"name": f"dyn_a_{uid}", "taskReferenceName": "xdt1", "type": "SIMPLE"},
        {
            "name": f"dyn_b_{uid}",
            "taskReferenceName": "xdt2",
            "type": "SIMPLE",
            "inputParameters": {"p": "${dt1.output.seed}"},
        },
    ]
    client.complete(
        first,
        {"seed": 7, "dynamicTasks": dynamic_tasks, "dynamicTasksInput": {"xdt1": {"k1": "v1"}, "xdt2": {"k2": "v2"}}},
    )

    branch_a = client.take(f"dyn_a_{uid}")
    branch_b = client.take(f"dyn_b_{uid}")
    assert (branch_a["referenceTaskName"], branch_a["inputData"]) == ("xdt1", {"k1": "v1"})
    assert (branch_b["referenceTaskName"], branch_b["inputData"]) == ("xdt2", {"p": 7, "k2": "v2"})
    forked = client.workflow(workflow_id)
    assert refs(forked) == ["dt1", "dynamicfanouttask", "xdt1", "xdt2", "dynamicfanouttask_join"]
    assert task_of(forked, "dynamicfanouttask")["taskType"] == "FORK"
    assert task_of(forked, "dynamicfanouttask_join")["inputData"] == {"joinOn": ["xdt1", "xdt2"]}

    client.complete(branch_b, {"out": "b"})
    assert task_of(client.workflow(workflow_id), "dynamicfanouttask_join")["status"] == "IN_PROGRESS"
    client.complete(branch_a, {"out": "a"})
    last = client.take(f"integration_task_4_{uid}")
    assert last["referenceTaskName"] == "task4"
    join = task_of(client.workflow(workflow_id), "dynamicfanouttask_join")
    assert join["status"] == "COMPLETED"
    assert join["outputData"] == {"xdt1": {"out": "a"}, "xdt2": {"out": "b"}}
    client.complete(last)

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert set(statuses(workflow).values()) == {"COMPLETED"}


def test_fork_join_dynamic_over_fork_task_inputs_on_python_workers(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"dynamic_fork_inputs_{uid}",
            "tasks": [
                {
                    "name": "fan_out",
                    "taskReferenceName": "fan_out",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {"forkTaskName": "py_add", "forkTaskInputs": "${workflow.input.pairs}"},
                },
                {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
            ],
            "outputParameters": {"sums": "${fan_in.output}"},
        },
    )
    workflow = client.wait(client.start(name, {"pairs": [{"a": 1, "b": 2}, {"a": 10, "b": 20}]}))
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["fan_out", "_py_add_0", "_py_add_1", "fan_in"]
    assert task_of(workflow, "_py_add_0")["inputData"] == {"a": 1, "b": 2, "__index": 0}
    assert task_of(workflow, "_py_add_1")["inputData"] == {"a": 10, "b": 20, "__index": 1}
    assert task_of(workflow, "fan_in")["inputData"] == {"joinOn": ["_py_add_0", "_py_add_1"]}
    assert workflow["output"] == {"sums": {"_py_add_0": {"sum": 3}, "_py_add_1": {"sum": 30}}}


# -- DO_WHILE ----------------------------------------------------------------------------


def test_do_while_runs_three_iterations(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("do_while_integration_test"), uid))
    workflow_id = client.start(name, {"loop": 3})

    for iteration in (1, 2, 3):
        first = client.take(f"integration_task_0_{uid}")
        assert first["referenceTaskName"] == f"integration_task_0__{iteration}"
        assert first["iteration"] == iteration
        client.complete(first, {"step": 0, "iteration": iteration})
        branch1 = client.take(f"integration_task_1_{uid}")
        branch2 = client.take(f"integration_task_2_{uid}")
        assert branch1["referenceTaskName"] == f"integration_task_1__{iteration}"
        assert branch2["referenceTaskName"] == f"integration_task_2__{iteration}"
        client.complete(branch1, {"step": 1, "iteration": iteration})
        client.complete(branch2, {"step": 2, "iteration": iteration})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    body = ["integration_task_0", "fork", "integration_task_1", "integration_task_2", "join"]
    assert refs(workflow) == ["loopTask", *(f"{ref}__{i}" for i in (1, 2, 3) for ref in body)]
    assert set(statuses(workflow).values()) == {"COMPLETED"}
    assert [task["iteration"] for task in workflow["tasks"][1:]] == [i for i in (1, 2, 3) for _ in body]
    loop = task_of(workflow, "loopTask")
    assert loop["taskType"] == "DO_WHILE"
    assert loop["inputData"] == {"value": 3}
    assert loop["outputData"]["iteration"] == 3
    for iteration in (1, 2, 3):
        outputs = loop["outputData"][str(iteration)]
        assert outputs["integration_task_0"] == {"step": 0, "iteration": iteration}
        # Inside a loop the JOIN's output is keyed by the iteration's reference names.
        assert outputs["join"] == {
            f"integration_task_1__{iteration}": {"step": 1, "iteration": iteration},
            f"integration_task_2__{iteration}": {"step": 2, "iteration": iteration},
        }
    assert task_of(workflow, "join__2")["inputData"] == {"joinOn": ["integration_task_1", "integration_task_2"]}


# -- SUB_WORKFLOW ------------------------------------------------------------------------


def test_sub_workflow_by_name_and_version(client: PodiumClient, uid: str) -> None:
    child_name = register(client, suffixed(shared_definition("simple_one_task_sub_workflow_integration_test"), uid))
    parent_name = register(client, suffixed(shared_definition("workflow_with_sub_workflow_1_integration_test"), uid))
    parent_id = client.start(parent_name, {"param1": "p1", "param2": "p2", "subwf": child_name, "nextSubwf": "leaf"})

    client.complete(client.take(f"integration_task_1_{uid}"), {"op": "t1 done"})
    running = eventually(
        lambda: client.workflow(parent_id), lambda w: "t2" in refs(w), "the SUB_WORKFLOW task to start"
    )
    sub_task = task_of(running, "t2")
    assert sub_task["taskType"] == "SUB_WORKFLOW"
    assert sub_task["status"] == "IN_PROGRESS"
    assert sub_task["inputData"] == {"param1": "p1", "param2": "p2", "subwf": "leaf"}
    child_id = sub_task["subWorkflowId"]

    child = existing_workflow(client, child_id)
    assert child["workflowName"] == child_name
    assert child["workflowVersion"] == 1
    assert child["parentWorkflowId"] == parent_id
    assert child["parentWorkflowTaskId"] == sub_task["taskId"]
    assert child["input"] == {"param1": "p1", "param2": "p2", "subwf": "leaf"}

    child_task = client.take(f"simple_task_in_sub_wf_{uid}")
    assert child_task["workflowInstanceId"] == child_id
    client.complete(child_task, {"childResult": 99})

    child = client.wait(child_id)
    assert child["status"] == "COMPLETED"
    assert child["output"] == {"childResult": 99}
    parent = client.wait(parent_id)
    assert parent["status"] == "COMPLETED"
    assert refs(parent) == ["t1", "t2"]
    finished = task_of(parent, "t2")
    assert finished["status"] == "COMPLETED"
    assert finished["subWorkflowId"] == child_id
    assert finished["outputData"] == {"subWorkflowId": child_id, "childResult": 99}


def test_sub_workflow_with_an_inline_definition(client: PodiumClient, uid: str) -> None:
    definition = suffixed(shared_definition("simple_workflow_with_sub_workflow_inline_def_integration_test"), uid)
    name = register(client, definition)
    child_name = definition["tasks"][1]["subWorkflowParam"]["workflowDefinition"]["name"]
    parent_id = client.start(name, {"param1": "p1", "param2": "p2"})

    client.complete(client.take(f"integration_task_1_{uid}"), {"op": "resize", "imageType": "png"})
    child_task = client.take(f"integration_task_3_{uid}")
    assert child_task["referenceTaskName"] == "t3"
    assert child_task["inputData"] == {"p1": "png"}
    child_id = child_task["workflowInstanceId"]
    assert child_id != parent_id

    parent = client.workflow(parent_id)
    sub_task = task_of(parent, "swt")
    assert sub_task["subWorkflowId"] == child_id
    assert sub_task["inputData"] == {"op": "resize", "imageType": "png"}
    child = client.workflow(child_id)
    assert child["workflowName"] == child_name
    assert child["parentWorkflowId"] == parent_id
    assert child["parentWorkflowTaskId"] == sub_task["taskId"]
    assert child["input"] == {"op": "resize", "imageType": "png"}

    client.complete(child_task, {"op": "child done"})
    assert client.wait(child_id)["output"] == {"op": "child done"}
    last = client.take(f"integration_task_2_{uid}")
    assert last["inputData"] == {"op": "resize"}
    client.complete(last)

    parent = client.wait(parent_id)
    assert parent["status"] == "COMPLETED"
    assert refs(parent) == ["t1", "swt", "t2"]
    assert task_of(parent, "swt")["outputData"] == {"subWorkflowId": child_id, "op": "child done"}
    assert parent["output"] == {"o3": "resize"}


# -- inline operators --------------------------------------------------------------------


def test_set_variable_is_visible_in_the_workflow(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("set_variable_workflow_integration_test"), uid))
    workflow_id = client.start(name, {"var": "var_test_value"})
    client.complete(client.take(f"simple_{uid}"))

    # The WAIT without duration holds the workflow open: the variable is visible meanwhile.
    waiting = eventually(lambda: client.workflow(workflow_id), lambda w: "wait0" in refs(w), "the WAIT task to start")
    assert waiting["status"] == "RUNNING"
    assert waiting["variables"] == {"var": "var_test_value"}
    assert statuses(waiting) == {"simple": "COMPLETED", "set_variable_1": "COMPLETED", "wait0": "IN_PROGRESS"}
    assert task_of(waiting, "set_variable_1")["inputData"] == {"var": "var_test_value"}
    status = client.ok("GET", f"/workflow/{workflow_id}/status", params={"includeVariables": "true"})
    assert status["variables"] == {"var": "var_test_value"}

    client.ok("POST", f"/tasks/{workflow_id}/wait0/COMPLETED", json={})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {"variables": {"var": "var_test_value"}}


def test_inline_javascript(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"inline_{uid}",
            "tasks": [
                {
                    "name": "inline",
                    "taskReferenceName": "calc",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "function f() { return {doubled: $.value * 2, tags: $.tags.concat(['x'])} } f();",
                        "value": "${workflow.input.value}",
                        "tags": ["a"],
                    },
                },
                {
                    "name": "inline_after",
                    "taskReferenceName": "after",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "graaljs",
                        "expression": "$.n + 1",
                        "n": "${calc.output.result.doubled}",
                    },
                },
            ],
        },
    )
    workflow = client.wait(client.start(name, {"value": 21}))
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["calc", "after"]
    assert task_of(workflow, "calc")["inputData"]["value"] == 21
    assert task_of(workflow, "calc")["outputData"] == {"result": {"doubled": 42, "tags": ["a", "x"]}}
    assert task_of(workflow, "after")["outputData"] == {"result": 43}
    assert workflow["output"] == {"result": 43}


@pytest.mark.parametrize(("a", "expected"), [(1, True), (2, False)])
def test_lambda(client: PodiumClient, uid: str, a: int, expected: bool) -> None:
    name = register(client, suffixed(shared_definition("simple_lambda_workflow_integration_test"), uid))
    workflow = client.wait(client.start(name, {"a": a}))
    assert workflow["status"] == "COMPLETED"
    [task] = workflow["tasks"]
    assert (task["taskType"], task["referenceTaskName"], task["status"]) == ("LAMBDA", "lambda0", "COMPLETED")
    assert task["inputData"]["input"] == {"a": a}
    assert task["outputData"] == {"result": {"testvalue": expected}}
    assert workflow["output"] == {"result": {"testvalue": expected}}


def test_json_jq_transform(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("simple_json_jq_transform_integration_test"), uid))
    workflow_input = {"in1": {"array": ["a", "b"]}, "in2": {"array": ["c", "d"]}}
    workflow = client.wait(client.start(name, workflow_input))
    assert workflow["status"] == "COMPLETED"
    [task] = workflow["tasks"]
    assert (task["taskType"], task["referenceTaskName"], task["status"]) == ("JSON_JQ_TRANSFORM", "jq_1", "COMPLETED")
    assert task["inputData"] == {
        "input": workflow_input,
        "queryExpression": ".input as $_ | { out: ($_.in1.array + $_.in2.array) }",
    }
    assert task["outputData"] == {
        "result": {"out": ["a", "b", "c", "d"]},
        "resultList": [{"out": ["a", "b", "c", "d"]}],
    }


def test_terminate_with_completed_status(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("terminate_task_completed_workflow_integration_test"), uid))
    workflow = client.wait(client.start(name, {"a": 1}))
    assert workflow["status"] == "COMPLETED"
    # t2 after the TERMINATE never runs; the output is the TERMINATE's workflowOutput.
    assert refs(workflow) == ["lambda0", "terminate0"]
    assert [task["taskType"] for task in workflow["tasks"]] == ["LAMBDA", "TERMINATE"]
    assert statuses(workflow) == {"lambda0": "COMPLETED", "terminate0": "COMPLETED"}
    assert [task["seq"] for task in workflow["tasks"]] == [1, 2]
    assert workflow["output"] == {"result": {"testvalue": True}}
    terminate_id = task_of(workflow, "terminate0")["taskId"]
    assert workflow["reasonForIncompletion"] == f"Workflow is COMPLETED by TERMINATE task: {terminate_id}"
    assert client.poll(f"integration_task_2_{uid}") == []


def test_terminate_with_failed_status(client: PodiumClient, uid: str) -> None:
    definition = suffixed(shared_definition("terminate_task_failed_workflow_integration"), uid)
    failure_name = register(client, suffixed(shared_definition("failure_workflow_for_terminate_task_workflow"), uid))
    definition["failureWorkflow"] = failure_name
    name = register(client, definition)
    workflow = client.wait(client.start(name, {"a": 1}))
    assert workflow["status"] == "FAILED"
    assert workflow["reasonForIncompletion"] == "Early exit in terminate"
    assert refs(workflow) == ["lambda0", "terminate0"]
    assert statuses(workflow) == {"lambda0": "COMPLETED", "terminate0": "COMPLETED"}
    assert task_of(workflow, "terminate0")["inputData"] == {
        "terminationStatus": "FAILED",
        "terminationReason": "Early exit in terminate",
        "workflowOutput": {"result": {"testvalue": True}},
    }
    # As in LambdaAndTerminateTaskSpec: the failureWorkflow runs, linked both ways.
    failure_id = workflow["output"]["conductor.failure_workflow"]
    assert workflow["output"] == {"result": {"testvalue": True}, "conductor.failure_workflow": failure_id}
    failure = client.wait(failure_id)
    assert failure["status"] == "COMPLETED"
    assert failure["input"]["workflowId"] == workflow["workflowId"]
    assert [task["taskType"] for task in failure["tasks"]] == ["LAMBDA"]


def test_terminate_in_a_decision_branch_with_a_text_output(client: PodiumClient, uid: str) -> None:
    name = register(client, suffixed(shared_definition("decision_and_terminate_integration_test"), uid))
    workflow_id = client.start(name, {"param1": "p1", "param2": "p2", "case": "two"})
    client.complete(client.take(f"integration_task_1_{uid}"), {"op": "task1 completed"})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "FAILED"
    assert refs(workflow) == ["t1", "decision", "terminate0"]
    assert workflow["output"] == {"output": "task1 completed"}
    terminate_id = task_of(workflow, "terminate0")["taskId"]
    assert workflow["reasonForIncompletion"] == f"Workflow is FAILED by TERMINATE task: {terminate_id}"


def test_noop(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"noop_{uid}",
            "tasks": [
                {"name": "noop", "taskReferenceName": "nothing", "type": "NOOP", "inputParameters": {"x": 1}},
                {"name": "py_add", "taskReferenceName": "add", "inputParameters": {"a": 1, "b": 1}},
            ],
        },
    )
    workflow = client.wait(client.start(name))
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["nothing", "add"]
    noop = task_of(workflow, "nothing")
    assert (noop["taskType"], noop["status"], noop["inputData"], noop["outputData"]) == (
        "NOOP",
        "COMPLETED",
        {"x": 1},
        {},
    )
    assert workflow["output"] == {"sum": 2}


# -- WAIT and HUMAN ----------------------------------------------------------------------


def test_wait_with_a_duration_completes_by_itself(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"wait_duration_{uid}",
            "tasks": [
                {
                    "name": "pause_a_second",
                    "taskReferenceName": "wait0",
                    "type": "WAIT",
                    "inputParameters": {"duration": "1s"},
                },
                {
                    "name": "then",
                    "taskReferenceName": "then",
                    "type": "SET_VARIABLE",
                    "inputParameters": {"waited": True},
                },
            ],
        },
    )
    workflow_id = client.start(name)
    started = client.workflow(workflow_id)
    assert started["status"] == "RUNNING"
    assert statuses(started) == {"wait0": "IN_PROGRESS"}

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["wait0", "then"]
    wait = task_of(workflow, "wait0")
    assert wait["status"] == "COMPLETED"
    assert wait["inputData"] == {"duration": "1s"}
    # The timer fires at its due time, never before it.
    assert wait["endTime"] >= wait["waitTimeout"] >= wait["startTime"] + 1000
    assert workflow["variables"] == {"waited": True}


def test_human_task_completed_through_the_api(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"human_{uid}",
            "tasks": [
                {
                    "name": "approval",
                    "taskReferenceName": "approve",
                    "type": "HUMAN",
                    "inputParameters": {"doc": "${workflow.input.doc}"},
                },
                {
                    "name": "record",
                    "taskReferenceName": "record",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "$.approved ? 'approved by ' + $.by : 'rejected'",
                        "approved": "${approve.output.approved}",
                        "by": "${approve.output.by}",
                    },
                },
            ],
            "outputParameters": {"decision": "${record.output.result}"},
        },
    )
    workflow_id = client.start(name, {"doc": "contract.pdf"})
    waiting = client.workflow(workflow_id)
    assert statuses(waiting) == {"approve": "IN_PROGRESS"}
    assert task_of(waiting, "approve")["taskType"] == "HUMAN"
    assert task_of(waiting, "approve")["inputData"] == {"doc": "contract.pdf"}

    task_id = client.ok("POST", f"/tasks/{workflow_id}/approve/COMPLETED", json={"approved": True, "by": "ada"})
    assert task_id == task_of(waiting, "approve")["taskId"]
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert refs(workflow) == ["approve", "record"]
    assert task_of(workflow, "approve")["outputData"] == {"approved": True, "by": "ada"}
    assert workflow["output"] == {"decision": "approved by ada"}


# -- the workflow API --------------------------------------------------------------------


def two_step_definition(name: str, uid: str) -> Json:
    return {
        "name": name,
        "tasks": [
            {"name": f"step_one_{uid}", "taskReferenceName": "one", "inputParameters": {"n": "${workflow.input.n}"}},
            {"name": f"step_two_{uid}", "taskReferenceName": "two", "inputParameters": {"prev": "${one.output.v}"}},
        ],
        "outputParameters": {"result": "${two.output.v}"},
    }


def queue_size(client: PodiumClient, task_type: str) -> int:
    return int(client.ok("GET", "/tasks/queue/sizes", params={"taskType": task_type})[task_type])


def test_a_paused_workflow_schedules_nothing_until_resumed(client: PodiumClient, uid: str) -> None:
    name = register(client, two_step_definition(f"pausable_{uid}", uid))
    workflow_id = client.start(name, {"n": 1})
    first = client.take(f"step_one_{uid}")

    client.ok("PUT", f"/workflow/{workflow_id}/pause")
    assert client.workflow(workflow_id)["status"] == "PAUSED"
    client.complete(first, {"v": "from one"})
    paused = client.workflow(workflow_id)
    assert paused["status"] == "PAUSED"
    assert statuses(paused) == {"one": "COMPLETED"}
    assert queue_size(client, f"step_two_{uid}") == 0
    assert client.poll(f"step_two_{uid}") == []
    assert client.request("PUT", f"/workflow/{workflow_id}/pause").status_code == 409

    client.ok("PUT", f"/workflow/{workflow_id}/resume")
    resumed = client.workflow(workflow_id)
    assert resumed["status"] == "RUNNING"
    assert statuses(resumed) == {"one": "COMPLETED", "two": "SCHEDULED"}
    second = client.take(f"step_two_{uid}")
    assert second["inputData"] == {"prev": "from one"}
    client.complete(second, {"v": "from two"})

    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {"result": "from two"}
    assert client.request("PUT", f"/workflow/{workflow_id}/resume").status_code == 409


def test_terminate_with_a_reason(client: PodiumClient, uid: str) -> None:
    name = register(client, two_step_definition(f"terminable_{uid}", uid))
    workflow_id = client.start(name, {"n": 1})
    polled = client.take(f"step_one_{uid}")

    client.ok("DELETE", f"/workflow/{workflow_id}", params={"reason": "no longer needed"})
    workflow = client.workflow(workflow_id)
    assert workflow["status"] == "TERMINATED"
    assert workflow["reasonForIncompletion"] == "no longer needed"
    assert statuses(workflow) == {"one": "CANCELED"}
    assert workflow_id not in client.ok("GET", f"/workflow/running/{name}")

    # A late result for the canceled task changes nothing; terminating again is a conflict.
    client.complete(polled, {"v": "too late"})
    after = client.workflow(workflow_id)
    assert after["status"] == "TERMINATED"
    assert statuses(after) == {"one": "CANCELED"}
    assert client.poll(f"step_two_{uid}") == []
    assert client.request("DELETE", f"/workflow/{workflow_id}").status_code == 409


def test_terminate_drops_a_queued_task(client: PodiumClient, uid: str) -> None:
    name = register(client, two_step_definition(f"terminable_queued_{uid}", uid))
    workflow_id = client.start(name, {"n": 1})
    assert queue_size(client, f"step_one_{uid}") == 1
    client.ok("DELETE", f"/workflow/{workflow_id}", params={"reason": "stop"})
    assert queue_size(client, f"step_one_{uid}") == 0
    assert client.poll(f"step_one_{uid}") == []


@pytest.mark.parametrize("finished", [True, False], ids=["finished", "running"])
def test_remove(client: PodiumClient, uid: str, finished: bool) -> None:
    name = register(client, two_step_definition(f"removable_{uid}", uid))
    workflow_id = client.start(name, {"n": 1}, correlationId=f"corr-{uid}")
    first = client.take(f"step_one_{uid}")
    if finished:
        client.complete(first, {"v": 1})
        client.complete(client.take(f"step_two_{uid}"), {"v": 2})
        assert client.wait(workflow_id)["status"] == "COMPLETED"
    else:
        assert client.ok("GET", f"/workflow/running/{name}") == [workflow_id]

    client.ok("DELETE", f"/workflow/{workflow_id}/remove")
    assert client.request("GET", f"/workflow/{workflow_id}").status_code == 404
    assert client.request("GET", f"/tasks/{first['taskId']}").status_code == 404
    assert client.ok("GET", f"/workflow/running/{name}") == []
    correlated = client.ok("GET", f"/workflow/{name}/correlated/corr-{uid}", params={"includeClosed": "true"})
    assert correlated == []
    assert client.request("DELETE", f"/workflow/{workflow_id}/remove").status_code == 404
    assert queue_size(client, f"step_two_{uid}") == 0


def test_running_workflows_by_name(client: PodiumClient, uid: str) -> None:
    name = register(client, two_step_definition(f"running_{uid}", uid))
    assert client.ok("GET", f"/workflow/running/{name}") == []
    first_id = client.start(name, {"n": 1})
    second_id = client.start(name, {"n": 2})
    assert sorted(client.ok("GET", f"/workflow/running/{name}")) == sorted([first_id, second_id])

    client.ok("PUT", f"/workflow/{second_id}/pause")
    assert sorted(client.ok("GET", f"/workflow/running/{name}")) == sorted([first_id, second_id])
    client.ok("DELETE", f"/workflow/{first_id}")
    assert client.ok("GET", f"/workflow/running/{name}") == [second_id]


def test_workflows_by_correlation_id(client: PodiumClient, uid: str) -> None:
    name = register(client, two_step_definition(f"correlated_{uid}", uid))
    order = f"order-{uid}"
    first_id = client.start(name, {"n": 1}, correlationId=order)
    second_id = client.start(name, {"n": 2}, correlationId=order)
    other_id = client.start(name, {"n": 3}, correlationId=f"other-{uid}")
    client.ok("DELETE", f"/workflow/{first_id}", params={"reason": "cancelled order"})

    def correlated(**params: str) -> list[Json]:
        return list(client.ok("GET", f"/workflow/{name}/correlated/{order}", params=params))

    open_only = correlated()
    assert [w["workflowId"] for w in open_only] == [second_id]
    assert open_only[0]["correlationId"] == order
    assert open_only[0]["input"] == {"n": 2}
    assert "tasks" not in open_only[0]

    with_closed = {w["workflowId"]: w for w in correlated(includeClosed="true", includeTasks="true")}
    assert set(with_closed) == {first_id, second_id}
    assert other_id not in with_closed
    assert with_closed[first_id]["status"] == "TERMINATED"
    assert statuses(with_closed[first_id]) == {"one": "CANCELED"}
    assert statuses(with_closed[second_id]) == {"one": "SCHEDULED"}
    assert [w["workflowId"] for w in client.ok("GET", f"/workflow/{name}/correlated/other-{uid}")] == [other_id]


def test_workflow_output_parameters(client: PodiumClient, uid: str) -> None:
    name = register(
        client,
        {
            "name": f"outputs_{uid}",
            "tasks": [{"name": f"produce_{uid}", "taskReferenceName": "produce", "inputParameters": {}}],
            "outputParameters": {
                "constant": "fixed",
                "number": 7,
                "who": "${workflow.input.name}",
                "secondId": "${produce.output.items[1].id}",
                "sentence": "Hello ${workflow.input.name}, you have ${produce.output.total} items",
                "whole": "${produce.output}",
                "nested": {"list": ["${workflow.input.name}", "${produce.output.total}"]},
                "missing": "${produce.output.nothing}",
            },
        },
    )
    workflow_id = client.start(name, {"name": "Ada"})
    items = [{"id": "a"}, {"id": "b"}]
    client.complete(client.take(f"produce_{uid}"), {"items": items, "total": 2})
    workflow = client.wait(workflow_id)
    assert workflow["status"] == "COMPLETED"
    assert workflow["output"] == {
        "constant": "fixed",
        "number": 7,
        "who": "Ada",
        "secondId": "b",
        "sentence": "Hello Ada, you have 2 items",
        "whole": {"items": items, "total": 2},
        "nested": {"list": ["Ada", 2]},
        "missing": None,
    }
