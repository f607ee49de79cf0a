"""What each corpus workflow is started with, and how it should end, in the conformance run.

Keys are `file::name:vN`, as `tests.conductor_corpus.load_workflow_defs` names definitions.

The scenario is the same for every definition (see `test_conformance.py`): every worker
task (SIMPLE, DYNAMIC, forked) is completed by a stub worker with one fixed output, a
WAIT or HUMAN task that waits for an update, or an asyncComplete task that has done its
part, is completed through the API with that output, and HTTP tasks that call the
services Conductor's tests use reach a local stand-in. The expected state is what the
Groovy spec (test-harness/src/test/groovy/) or, for `e2e/`, the Java test
(e2e/src/test/java/) that uses the file shows for that scenario, at commit b54f0d4 of
conductor-oss/conductor. Definitions that no spec starts end COMPLETED unless the
definition itself forces another state; such entries say why.

Expectations assume, as the specs' harness does, that every worker task name has a
TaskDef in Conductor (the test registers one for each; Podium does not need them).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_STATUS = "COMPLETED"


class WF(str):
    """A workflow name in a start input: the test puts the run's renamed copy there."""


class TASK(str):
    """A worker task name in a start input (a DYNAMIC task's name): renamed like the others."""


# -- start inputs, where a spec gives one that matters ------------------------------------

_P = {"param1": "p1 value", "param2": "p2 value"}

INPUTS: dict[str, dict[str, Any]] = {
    # DoWhileSpec: loop counts.
    "workflows/do_while_five_loop_over_integration_test.json::do_while_five_loop_over_integration_test:v1": {"loop": 2},
    "workflows/do_while_system_tasks.json::do_while_system_tasks:v1": {"loop": 2},
    "workflows/do_while_integration_test.json::Do_While_Workflow:v1": {"loop": 1},
    "workflows/do_while_sub_workflow_integration_test.json::Do_While_Sub_Workflow:v1": {"loop": 1},
    "workflows/do_while_multiple_integration_test.json::Do_While_Multiple:v1": {"loop": 2, "loop2": 1},
    "workflows/do_while_as_subtask_integration_test.json::Do_While_SubTask:v1": {"loop": 1},
    "workflows/do_while_iteration_fix_test.json::Do_While_Workflow_Iteration_Fix:v1": {"loop": 2},
    "workflows/do_while_set_variable_fix.json::do_while_Set_variable_fix:v1": {"value": 2},
    "workflows/do_while_with_decision_task.json::DO_While_with_Decision_task:v1": {"list": [1, 2]},
    "workflows/do_while_high_iteration_test.json::do_while_high_iteration_test:v1": {"loop": 500},
    # DecisionTaskSpec / SwitchTaskSpec.
    "workflows/simple_decision_task_integration_test.json::DecisionWorkflow:v1": {**_P, "case": "c"},
    "workflows/simple_switch_task_integration_test.json::SwitchWorkflow:v1": {**_P, "case": "c"},
    "workflows/decision_and_fork_join_integration_test.json::ForkConditionalTest:v1": {**_P, "case": "c"},
    "workflows/switch_and_fork_join_integration_test.json::ForkConditionalTest:v1": {**_P, "case": "c"},
    "workflows/conditional_task_workflow_integration_test.json::ConditionalTaskWF:v1": {
        "param1": "three",
        "param2": "two",
        "finalCase": "notify",
    },
    "workflows/conditional_switch_task_workflow_integration_test.json::ConditionalTaskWF:v1": {
        "param1": "three",
        "param2": "two",
        "finalCase": "notify",
    },
    "workflows/switch_with_no_default_case_integration_test.json::SwitchWithNoDefaultCaseWF:v1": dict(_P),
    # LambdaAndTerminateTaskSpec; the SWITCH twin of the decision workflow takes the same input.
    "workflows/decision_and_terminate_integration_test.json::ConditionalTerminateWorkflow:v1": {
        **_P,
        "case": "two",
    },
    "workflows/switch_and_terminate_integration_test.json::ConditionalTerminateWorkflow:v1": {**_P, "case": "two"},
    "workflows/terminate_task_completed_workflow_integration_test.json::test_terminate_task_wf:v1": {"a": 1},
    "workflows/terminate_task_failed_workflow_integration.json::test_terminate_task_failed_wf:v1": {"a": 1},
    "workflows/terminate_task_parent_workflow.json::test_terminate_task_parent_wf:v1": {"a": 1},
    "workflows/simple_lambda_workflow_integration_test.json::test_lambda_wf:v1": {"a": 1},
    # FailureWorkflowSpec.
    "workflows/test_task_failed_parent_workflow.json::test_task_failed_parent_wf:v1": {"a": 1},
    # ExclusiveJoinSpec "both the decisions, decision_1 and decision_2 are true".
    "workflows/exclusive_join_integration_test.json::ExclusiveJoinTestWorkflow:v1": {
        "decision_1": "true",
        "decision_2": "true",
    },
    # JsonJQTransformSpec.
    "workflows/simple_json_jq_transform_integration_test.json::test_json_jq_transform_wf:v1": {
        "in1": {"array": ["a", "b"]},
        "in2": {"array": ["c", "d"]},
    },
    "workflows/sequential_json_jq_transform_integration_test.json::sequential_json_jq_transform_wf:v1": {
        "method": "POST",
        "body": {"name": "Beary Beariston", "title": "the Brown Bear"},
        "requestTransform": '{name: (.body.name + " you are " + .body.title) }',
        "responseTransform": '{result: "reply: " + .response.body.message}',
    },
    "workflows/json_jq_transform_result_integration_test.json::json_jq_transform_result_wf:v1": {
        "requestedAction": "redeliver"
    },
    # SetVariableTaskSpec / WaitTaskSpec.
    "workflows/simple_set_variable_workflow_integration_test.json::test_set_variable_wf:v1": {"var": "var_test_value"},
    "workflows/set_variable_workflow_integration_test.json::set_variable_workflow_integration_test:v1": {
        "var": "var_test_value"
    },
    # ForkJoinSpec.
    "workflows/nested_fork_join_integration_test.json::FanInOutNestedTest:v1": {**_P, "case": "a"},
    "workflows/nested_fork_join_with_sub_workflow_integration_test.json::FanInOutNestedSubWorkflowTest:v1": {
        **_P,
        "case": "a",
    },
    # SimpleWorkflowSpec "Test simple workflow completion".
    "workflows/simple_workflow_1_integration_test.json::integration_test_wf:v1": dict(_P),
    # Sub workflows named by the input: SubWorkflowSpec, Hierarchical*Spec, NestedForkJoinSubWorkflowSpec.
    "workflows/workflow_with_sub_workflow_1_integration_test.json::integration_test_wf_with_sub_wf:v1": {
        **_P,
        "subwf": WF("sub_workflow"),
    },
    "workflows/hierarchical_fork_join_swf.json::hierarchical_fork_join_swf:v1": {
        **_P,
        "subwf": WF("hierarchical_fork_join_swf"),
        "nextSubwf": WF("integration_test_wf"),
    },
    "workflows/nested_fork_join_swf.json::nested_fork_join_swf:v1": {**_P, "subwf": WF("integration_test_wf")},
    # StartWorkflowSpec "name and version".
    "workflows/workflow_that_starts_another_workflow.json::workflow_that_starts_another_workflow:v1": {
        "startWorkflow": {"name": WF("integration_test_wf"), "input": {"param1": "value1", "param2": "value2"}}
    },
    # e2e Java tests.
    "e2e/sub_workflow_tests.json::integration_test_wf_with_sub_wf:v1": {
        "param1": "p1 value",
        "subwf": WF("sub_workflow"),
    },
    "e2e/do_while_early_script_eval_wf.json::DoWhileEarlyEvalScript:v5": {
        "namespace_id": "namespace_spa_sAPhRsGAGAbYNUSNZN3Jts"
    },
    "e2e/do_while_keep_last_n_fix.json::keep_last_n_example_3:v1": {"batch": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]},
    "e2e/stackoverflower.json::stackoverflower:v1": {"n": 50},
    "e2e/switch_rerun_issue.json::switch_rerun_issue:v2": {"case": "yes"},
    "e2e/switch_rerun_issue_2.json::switch_rerun_issue_2:v1": {"case": "yes"},
    # The kitchen sink: KitchenSinkInitializer starts it with task2Name task_5; the ephemeral
    # start requests carry their own input.
    "kitchensink/kitchensink.json::kitchensink:v1": {"task2Name": TASK("task_5")},
    "kitchensink/kitchenSink-ephemeralWorkflowWithStoredTasks.json::ephemeralKitchenSinkStoredTasks:v1": {
        "task2Name": TASK("task_5")
    },
    "kitchensink/kitchenSink-ephemeralWorkflowWithEphemeralTasks.json::ephemeralKitchenSinkEphemeralTasks:v1": {
        "task2Name": TASK("task_10005")
    },
}


# -- expected terminal states other than COMPLETED, each with where it comes from ----------

EXPECTED: dict[str, tuple[str, str]] = {
    "workflows/decision_and_terminate_integration_test.json::ConditionalTerminateWorkflow:v1": (
        "FAILED",
        "LambdaAndTerminateTaskSpec 'terminate task within a decision branch': case two reaches TERMINATE FAILED",
    ),
    "workflows/switch_and_terminate_integration_test.json::ConditionalTerminateWorkflow:v1": (
        "FAILED",
        "SWITCH twin of the spec above (no spec of its own): case two reaches TERMINATE FAILED",
    ),
    "workflows/terminate_task_failed_workflow_integration.json::test_terminate_task_failed_wf:v1": (
        "FAILED",
        "LambdaAndTerminateTaskSpec / FailureWorkflowSpec: TERMINATE with terminationStatus FAILED",
    ),
    "workflows/test_task_failed_sub_workflow.json::test_task_failed_sub_wf:v1": (
        "FAILED",
        "FailureWorkflowSpec 'task failed in subworkflow': its TERMINATE is FAILED",
    ),
    "workflows/test_task_failed_parent_workflow.json::test_task_failed_parent_wf:v1": (
        "FAILED",
        "FailureWorkflowSpec 'task failed in subworkflow': the child fails, so the parent does",
    ),
    "workflows/terminate_task_terminated_status_test.json::test_terminate_task_terminated:v1": (
        "TERMINATED",
        "no spec; its TERMINATE task has terminationStatus TERMINATED",
    ),
    "workflows/terminate_task_terminated_status_in_do_while_test.json::test_terminate_task_terminated_in_do_while:v1": (
        "TERMINATED",
        "no spec; the first iteration reaches TERMINATE with terminationStatus TERMINATED",
    ),
    "workflows/do_while_timeline_ui_demo.json::do_while_timeline_ui_demo:v1": (
        "FAILED",
        "no spec; INLINE default_case reads $.do_while_switch_ref['iteration'], absent from its own input "
        "(its $), so the script throws (the later jq query's single quotes would fail too)",
    ),
    "workflows/do_while_cleanup_demo.json::do_while_cleanup_demo:v1": (
        "FAILED",
        "no spec; INLINE generate_data reads $.do_while_loop_ref['iteration'], but an INLINE's $ is its "
        "own input, which has no do_while_loop_ref, so the script throws",
    ),
    "e2e/do_while_keep_last_n_fix.json::keep_last_n_example:v1": (
        "FAILED",
        "DoWhileTests registers it, never starts it; OSS iterates over `items` only as the task's "
        "`items` field or `_items` input, so `output.item` is null and the INLINE's `$.urls.length` throws",
    ),
    "e2e/do_while_keep_last_n_fix.json::keep_last_n_example_2:v1": (
        "FAILED",
        "as keep_last_n_example: the INLINE reads `$.urls.length` of a null `output.item`",
    ),
    "e2e/workflow_data.json::this_will_fail:v1": (
        "FAILED",
        "FailureWorkflowTests: the second HTTP task gets 404 from the API tester's /dddd",
    ),
    "e2e/sync_workflows.json::sync_workflow_failed_case:v1": (
        "FAILED",
        "SyncWorkflowExecutionTest: HTTP task http_fail calls the misspelt host cdatfact.ninja",
    ),
    "e2e/workflow_data.json::http_blocked_ip:v1": (
        "FAILED",
        "no test starts it; the HTTP task calls the cloud metadata address (http://2852039166/), "
        "which nothing here serves",
    ),
}


# -- where Podium knowingly differs: explained in docs/differences.md, or a reported bug ----

KNOWN_DIFFERENCES: dict[str, str] = {
    "workflows/do_while_with_decision_task.json::DO_While_with_Decision_task:v1": (
        "differences.md 'JavaScript runs on V8': its INLINE calls the Java method $.list.get(...) on the "
        "input list, which fails on V8 (DoWhileSpec expects COMPLETED)"
    ),
    "workflows/sqs-test-workflow.json::sqs_test_workflow:v1": (
        "differences.md 'Events and event handlers' (Sinks): the conformance run's Podium has no SQS "
        "configured, so its EVENT task with an sqs: sink fails naming PODIUM_SQS_ENDPOINT_URL "
        "(SQSEventQueueE2ESpec expects COMPLETED; test_event_brokers.py publishes to a real SQS API)"
    ),
}


def expected_status(key: str) -> str:
    return EXPECTED[key][0] if key in EXPECTED else DEFAULT_STATUS


# -- what a spec states beyond the terminal state -------------------------------------------


@dataclass(frozen=True)
class Detail:
    """What a Groovy spec states about one run beyond its terminal status.

    `tasks` is the root workflow's task list as (referenceTaskName, status) in `seq` order
    (`ordered=False` compares it as a multiset, where Podium's order knowingly differs);
    `branches` maps a SWITCH or DECISION reference to the case it took; `iterations` maps
    a DO_WHILE reference to its final `iteration`; `output` lists keys of the workflow
    output with their values (other keys are not compared), and `task_outputs` the same
    for the output of the task with that reference (its latest attempt or iteration) and
    `variables` for the workflow's variables. `source` names the spec and
    feature; `note` says how the stub scenario differs from the spec's and what that
    changes in the values.
    """

    source: str
    tasks: tuple[tuple[str, str], ...] | None = None
    ordered: bool = True
    branches: Mapping[str, str] = field(default_factory=dict)
    iterations: Mapping[str, int] = field(default_factory=dict)
    output: Mapping[str, Any] | None = None
    exact_output: bool = False  # the output has no keys but those of `output`
    task_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variables: Mapping[str, Any] | None = None
    note: str = ""


def task_sequence(workflow: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(referenceTaskName, status) of each task, in `seq` order."""
    tasks = sorted(workflow.get("tasks") or [], key=lambda task: task.get("seq", 0))
    return [(str(task.get("referenceTaskName")), str(task.get("status"))) for task in tasks]


def branch_taken(task: Mapping[str, Any]) -> str | None:
    """The case a SWITCH (`evaluationResult`) or DECISION (`caseOutput`) task chose."""
    output = task.get("outputData") or {}
    for key in ("evaluationResult", "caseOutput"):
        chosen = output.get(key)
        if isinstance(chosen, list) and chosen:
            return str(chosen[0])
    return None


def _latest_by_reference(workflow: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    latest: dict[str, Mapping[str, Any]] = {}
    for task in sorted(workflow.get("tasks") or [], key=lambda task: task.get("seq", 0)):
        latest[str(task.get("referenceTaskName"))] = task
    return latest


def _lines(sequence: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{reference} {status}" for reference, status in sequence]


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def mismatches(detail: Detail, workflow: Mapping[str, Any]) -> list[str]:
    """Every way `workflow` differs from what `detail` states, as readable lines; [] if none."""
    problems: list[str] = []
    if detail.tasks is not None:
        actual = task_sequence(workflow)
        expected = list(detail.tasks)
        if detail.ordered:
            differ = actual != expected
        else:
            differ = sorted(actual) != sorted(expected)
            actual, expected = sorted(actual), sorted(expected)
        if differ:
            diff = difflib.unified_diff(_lines(expected), _lines(actual), "expected", "actual", lineterm="", n=1)
            order = "" if detail.ordered else " (in any order)"
            problems.append(f"tasks{order} differ:\n    " + "\n    ".join(diff))
    latest = _latest_by_reference(workflow)
    for reference, case in sorted(detail.branches.items()):
        task = latest.get(reference)
        taken = branch_taken(task) if task is not None else None
        if taken != case:
            seen = "no such task" if task is None else f"took {taken!r}"
            problems.append(f"branch of {reference}: expected {case!r}, {seen}")
    for reference, count in sorted(detail.iterations.items()):
        task = latest.get(reference)
        iteration = (task.get("outputData") or {}).get("iteration") if task is not None else None
        if iteration != count:
            seen = "no such task" if task is None else f"got {iteration!r}"
            problems.append(f"iterations of {reference}: expected {count}, {seen}")
    if detail.output is not None:
        output = workflow.get("output") or {}
        problems.extend(_compare_keys("output", detail.output, output))
        extra = sorted(set(output) - set(detail.output)) if detail.exact_output else []
        if extra:
            problems.append(f"output has keys the spec does not: {extra}")
    if detail.variables is not None:
        problems.extend(_compare_keys("variables", detail.variables, workflow.get("variables")))
    for reference, expected in sorted(detail.task_outputs.items()):
        task = latest.get(reference)
        if task is None:
            problems.append(f"output of {reference}: no such task")
        else:
            problems.extend(_compare_keys(f"{reference}.output", expected, task.get("outputData")))
    return problems


def _compare_keys(where: str, expected: Mapping[str, Any], actual: Any) -> list[str]:
    """Each expected key of `actual` (a JSON object) with its value; others are not looked at."""
    found = actual if isinstance(actual, Mapping) else {}
    problems = []
    for key, value in sorted(expected.items()):
        if key not in found:
            problems.append(f"{where}.{key}: expected {_show(value)}, absent (keys: {sorted(found)})")
        elif found[key] != value:
            problems.append(f"{where}.{key}: expected {_show(value)}, got {_show(found[key])}")
    return problems


def observation(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """What a run showed, in the terms of `Detail` (written beside the summary, to read)."""
    latest = _latest_by_reference(workflow)
    return {
        "status": workflow.get("status"),
        "tasks": _lines(task_sequence(workflow)),
        "branches": {ref: branch_taken(task) for ref, task in latest.items() if branch_taken(task) is not None},
        "iterations": {
            ref: (task.get("outputData") or {}).get("iteration")
            for ref, task in latest.items()
            if task.get("taskType") == "DO_WHILE"
        },
        "output": workflow.get("output"),
        "variables": workflow.get("variables"),
        "task_outputs": {ref: task.get("outputData") for ref, task in latest.items()},
    }


def _done(*references: str) -> tuple[tuple[str, str], ...]:
    """Each reference COMPLETED, in this order."""
    return tuple((reference, "COMPLETED") for reference in references)


# Keys as in INPUTS; the input each run gets is the spec's (INPUTS above). Reference names
# are the definitions' own; the specs name tasks by type, mapped here through the JSON.
# Stub workers answer at once and all alike, so where a spec's workers return values that
# steer the run (or its output), the entry leaves that value out and says so in `note`.
# Several branches of a fork may be completed in one round by the stub, in any order; the
# sequences below are fixed all the same because what a branch schedules next comes after
# the JOIN, which is scheduled with the fork.
DETAILS: dict[str, Detail] = {
    "workflows/simple_workflow_1_integration_test.json::integration_test_wf:v1": Detail(
        source="SimpleWorkflowSpec 'Test simple workflow completion' (tasks, output has o3) and "
        "'Test simple workflow terminal error condition' (output o1 is the input's param1)",
        tasks=_done("t1", "t2"),
        output={"o1": "p1 value", "o3": None},
        note="o3 is t1's output op, 'task1.done' from the spec's worker; the stub gives no op, so it is null",
    ),
    "workflows/fork_join_integration_test.json::FanInOutTest:v1": Detail(
        source="ForkJoinSpec 'Test a simple workflow with fork join success flow'",
        tasks=_done("fanouttask", "t1", "t2", "fanouttask_join", "t3", "t4"),
    ),
    "workflows/simple_switch_task_integration_test.json::SwitchWorkflow:v1": Detail(
        source="SwitchTaskSpec 'Test simple switch workflow' (case c)",
        tasks=_done("switchTask", "t1", "t2", "t20"),
        branches={"switchTask": "c"},
    ),
    "workflows/simple_decision_task_integration_test.json::DecisionWorkflow:v1": Detail(
        source="DecisionTaskSpec 'Test simple decision workflow' (case c)",
        tasks=_done("decisionTask", "t1", "t2", "t20"),
        branches={"decisionTask": "c"},
    ),
    "workflows/switch_and_fork_join_integration_test.json::ForkConditionalTest:v1": Detail(
        source="SwitchTaskSpec 'Test a workflow that has a switch task that leads to a fork join' (case c)",
        tasks=_done("forkTask", "switchTask", "t1", "t10", "joinTask", "t2", "t20"),
        branches={"switchTask": "c"},
    ),
    "workflows/decision_and_fork_join_integration_test.json::ForkConditionalTest:v1": Detail(
        source="DecisionTaskSpec 'Test a workflow that has a decision task that leads to a fork join' (case c)",
        tasks=_done("forkTask", "decisionTask", "t1", "t10", "joinTask", "t2", "t20"),
        branches={"decisionTask": "c"},
    ),
    "workflows/conditional_switch_task_workflow_integration_test.json::ConditionalTaskWF:v1": Detail(
        source="SwitchTaskSpec 'Test three case condition execution of a conditional workflow'",
        tasks=_done("conditional", "t3", "finalCase", "integration_task_4"),
        branches={"conditional": "three", "finalCase": "notify"},
    ),
    "workflows/conditional_task_workflow_integration_test.json::ConditionalTaskWF:v1": Detail(
        source="DecisionTaskSpec 'Test three case condition execution of a conditional workflow'",
        tasks=_done("conditional", "t3", "finalCase", "integration_task_4"),
        branches={"conditional": "three", "finalCase": "notify"},
    ),
    "workflows/switch_with_no_default_case_integration_test.json::SwitchWithNoDefaultCaseWF:v1": Detail(
        source="SwitchTaskSpec 'Test switch with no default case workflow': no case matches, nothing runs in it",
        tasks=_done("switchTask", "t2"),
    ),
    "workflows/do_while_integration_test.json::Do_While_Workflow:v1": Detail(
        source="DoWhileSpec 'Test workflow with a single iteration Do While task' (loop 1)",
        tasks=_done(
            "loopTask", "integration_task_0__1", "fork__1", "integration_task_1__1", "integration_task_2__1", "join__1"
        ),
        iterations={"loopTask": 1},
    ),
    "workflows/do_while_five_loop_over_integration_test.json::do_while_five_loop_over_integration_test:v1": Detail(
        source="DoWhileSpec 'Test workflow with 2 iterations of five tasks' (loop 2)",
        tasks=_done(
            "loopTask",
            *(
                f"{reference}__{iteration}"
                for iteration in (1, 2)
                for reference in (
                    "lambda_locs",
                    "jq_add_location",
                    "integration_task_1",
                    "jq_create_hydrus_input",
                    "integration_task_2",
                )
            ),
            "integration_task_3",
        ),
        iterations={"loopTask": 2},
    ),
    "workflows/do_while_system_tasks.json::do_while_system_tasks:v1": Detail(
        source="DoWhileSpec 'Test workflow with 2 iterations of 3 system tasks' (loop 2)",
        tasks=_done(
            "loopTask",
            *(
                f"{reference}__{iteration}"
                for iteration in (1, 2)
                for reference in ("lambda_locs", "jq_add_location", "jq_create_hydrus_input")
            ),
            "integration_task_1",
        ),
        iterations={"loopTask": 2},
    ),
    "workflows/do_while_multiple_integration_test.json::Do_While_Multiple:v1": Detail(
        source="DoWhileSpec 'Test workflow with multiple Do While tasks with multiple iterations' (loop 2, loop2 1)",
        tasks=_done(
            "loopTask",
            *(
                f"{reference}__{iteration}"
                for iteration in (1, 2)
                for reference in ("integration_task_0", "fork", "integration_task_1", "integration_task_2", "join")
            ),
            "loopTask2",
            "integration_task_3__1",
        ),
        iterations={"loopTask": 2, "loopTask2": 1},
    ),
    "workflows/do_while_sub_workflow_integration_test.json::Do_While_Sub_Workflow:v1": Detail(
        source="DoWhileSpec 'Test workflow with a single iteration Do While task with Sub workflow' (loop 1)",
        tasks=_done(
            "loopTask",
            "integration_task_0__1",
            "fork__1",
            "integration_task_1__1",
            "integration_task_2__1",
            "join__1",
            "st1__1",
        ),
        iterations={"loopTask": 1},
    ),
    "workflows/do_while_as_subtask_integration_test.json::Do_While_SubTask:v1": Detail(
        source="DoWhileSpec 'Test workflow with a iteration Do While task as subtask of a forkjoin task' (loop 1)",
        tasks=_done("fork", "loopTask", "integration_task_2", "join", "integration_task_0__1", "integration_task_1__1"),
        ordered=False,
        iterations={"loopTask": 1},
        note="compared in any order: inside a fork Podium schedules the loop's first body task with the "
        "loop task, before the JOIN (differences.md 'Task order in a few places')",
    ),
    "workflows/do_while_iteration_fix_test.json::Do_While_Workflow_Iteration_Fix:v1": Detail(
        source="DoWhileSpec 'Test workflow with Do While task contains loop over task that use iteration in "
        "script expression' (loop 2)",
        tasks=_done("loopTask", "form_uri__1", "form_uri__2"),
        iterations={"loopTask": 2},
        task_outputs={"form_uri__1": {"result": 0}, "form_uri__2": {"result": 1}},
    ),
    "workflows/do_while_set_variable_fix.json::do_while_Set_variable_fix:v1": Detail(
        source="DoWhileSpec 'Test workflow with Do While task contains set variable task' (value 2)",
        tasks=_done("loopTask", "set_variable__1"),
        iterations={"loopTask": 1},
    ),
    "workflows/do_while_high_iteration_test.json::do_while_high_iteration_test:v1": Detail(
        source="DoWhileSpec 'Test DO_WHILE with 500 LAMBDA iterations completes without StackOverflowError'",
        iterations={"loopTask": 500},
    ),
    "workflows/terminate_task_completed_workflow_integration_test.json::test_terminate_task_wf:v1": Detail(
        source="LambdaAndTerminateTaskSpec 'Test workflow with a terminate task when the status is completed'",
        tasks=_done("lambda0", "terminate0"),
        output={"result": {"testvalue": True}},
        exact_output=True,
    ),
    "workflows/terminate_task_failed_workflow_integration.json::test_terminate_task_failed_wf:v1": Detail(
        source="LambdaAndTerminateTaskSpec 'Test workflow with a terminate task when the status is failed'",
        tasks=_done("lambda0", "terminate0"),
        note="the output's conductor.failure_workflow is an id, so only the tasks are compared",
    ),
    "workflows/decision_and_terminate_integration_test.json::ConditionalTerminateWorkflow:v1": Detail(
        source="LambdaAndTerminateTaskSpec 'Test workflow with a terminate task within a decision branch' (case two)",
        tasks=_done("t1", "decision", "terminate0"),
        branches={"decision": "two"},
        note="the spec's worker answers op 'task1 completed', which becomes the output; the stub has no op, "
        "so the output is not compared",
    ),
    "workflows/simple_lambda_workflow_integration_test.json::test_lambda_wf:v1": Detail(
        source="LambdaAndTerminateTaskSpec 'Test workflow with lambda task'",
        tasks=_done("lambda0"),
        task_outputs={"lambda0": {"result": {"testvalue": True}}},
    ),
    "workflows/simple_set_variable_workflow_integration_test.json::test_set_variable_wf:v1": Detail(
        source="SetVariableTaskSpec 'Test workflow with set variable task'",
        tasks=_done("set_variable_1"),
        variables={"var": "var_test_value"},
        output={"variables": {"var": "var_test_value"}},
        exact_output=True,
    ),
    "workflows/workflow_that_starts_another_workflow.json::workflow_that_starts_another_workflow:v1": Detail(
        source="StartWorkflowSpec 'start another workflow using name and version': one START_WORKFLOW task",
        tasks=_done("st"),
    ),
    "workflows/set_variable_workflow_integration_test.json::set_variable_workflow_integration_test:v1": Detail(
        source="WaitTaskSpec 'Test workflow with set variable task' (its WAIT completed through the API, as "
        "the stub does)",
        tasks=_done("simple", "set_variable_1", "wait0"),
        variables={"var": "var_test_value"},
        output={"variables": {"var": "var_test_value"}},
        exact_output=True,
    ),
    "workflows/wait_workflow_integration_test.json::test_wait_workflow:v1": Detail(
        source="WaitTaskSpec 'Verify that a wait based simple workflow is executed'",
        tasks=_done("wait0", "t1"),
    ),
    "workflows/simple_json_jq_transform_integration_test.json::test_json_jq_transform_wf:v1": Detail(
        source="JsonJQTransformSpec 'Test workflow with json jq transform task succeeds'",
        tasks=_done("jq_1"),
    ),
    "workflows/sequential_json_jq_transform_integration_test.json::sequential_json_jq_transform_wf:v1": Detail(
        source="JsonJQTransformSpec 'Test json jq transform task with nested json object succeeds'",
        tasks=_done("default_variables", "request_transform"),
        task_outputs={"request_transform": {"result": {"name": "Beary Beariston you are the Brown Bear"}}},
    ),
    "workflows/json_jq_transform_result_integration_test.json::json_jq_transform_result_wf:v1": Detail(
        source="JsonJQTransformSpec 'Test json jq transform task with different json object results succeeds'",
        tasks=_done("json_jq_1", "decide_1", "json_jq_2", "decide_2"),
        branches={"decide_1": "CREATE", "decide_2": "true"},
        task_outputs={"json_jq_1": {"result": "CREATE"}},
    ),
    "workflows/exclusive_join_integration_test.json::ExclusiveJoinTestWorkflow:v1": Detail(
        source="ExclusiveJoinSpec 'Test when both the decisions, decision_1 and decision_2 are true'",
        tasks=_done("task1", "decision1", "task2", "decision2", "task3", "exclusiveJoin"),
        branches={"decision1": "true", "decision2": "true"},
        note="the spec's workers answer their own taskReferenceName, which the join's output then shows "
        "(task3); the stub's output is the same for every task, so the join's output is not compared",
    ),
}
