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
        "differences.md 'Events and event handlers' (Sinks): an EVENT task with an sqs: sink fails in "
        "Podium, which publishes to conductor sinks only (SQSEventQueueE2ESpec expects COMPLETED)"
    ),
}


def expected_status(key: str) -> str:
    return EXPECTED[key][0] if key in EXPECTED else DEFAULT_STATUS
