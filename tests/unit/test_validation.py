"""Static checks of workflow definitions: the walk in definitions/validation.py with each
type's rules from its operator's `check_definition` (actors/workflow/definition_checks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.workflow.definition_checks import (
    DefinitionError,
    Findings,
    check_workflow_def,
    review_workflow_def,
    validate_workflow_def,
)
from actors.workflow.operators.base import implemented_task_types
from definitions import evaluators
from definitions.models import TaskDef, WorkflowDef

IMPLEMENTED_TASK_TYPES = implemented_task_types()


def simple(ref: str, name: str | None = None) -> dict[str, Any]:
    return {"name": name or ref, "taskReferenceName": ref, "type": "SIMPLE"}


def fork(ref: str, *branches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN", "forkTasks": list(branches)}


def join(ref: str, *on: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "JOIN", "joinOn": list(on)}


def switch(ref: str, cases: dict[str, list[dict[str, Any]]], **extra: Any) -> dict[str, Any]:
    task = {
        "name": ref,
        "taskReferenceName": ref,
        "type": "SWITCH",
        "evaluatorType": "value-param",
        "expression": "case",
        "decisionCases": cases,
    }
    task.update(extra)
    return task


def do_while(ref: str, *body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    task = {
        "name": ref,
        "taskReferenceName": ref,
        "type": "DO_WHILE",
        "loopCondition": f"$.{ref}['iteration'] < 3",
        "loopOver": list(body),
    }
    task.update(extra)
    return task


def wf(*tasks: dict[str, Any], name: str = "wf") -> WorkflowDef:
    return WorkflowDef.model_validate({"name": name, "tasks": list(tasks)})


def review(*tasks: dict[str, Any]) -> Findings:
    return review_workflow_def(wf(*tasks))


def errors_of(*tasks: dict[str, Any]) -> list[str]:
    """What registration refuses (Conductor refuses it too)."""
    return review(*tasks).errors


def warnings_of(*tasks: dict[str, Any]) -> list[str]:
    """Podium's findings about a definition Conductor accepts."""
    return review(*tasks).warnings


def only_error(*tasks: dict[str, Any]) -> str:
    findings = review(*tasks)
    assert len(findings.errors) == 1 and not findings.warnings, findings
    return findings.errors[0]


def only_warning(*tasks: dict[str, Any]) -> str:
    findings = review(*tasks)
    assert len(findings.warnings) == 1 and not findings.errors, findings
    return findings.warnings[0]


# --- constants -----------------------------------------------------------------------


def test_implemented_types() -> None:
    assert {"HTTP", "EVENT"} <= IMPLEMENTED_TASK_TYPES
    assert {"DYNAMIC", "EXCLUSIVE_JOIN", "START_WORKFLOW"} <= IMPLEMENTED_TASK_TYPES
    assert {"WAIT", "HUMAN", "NOOP", "SET_VARIABLE"} <= IMPLEMENTED_TASK_TYPES


# --- workflow level ------------------------------------------------------------------


def test_valid_sequence_has_no_errors() -> None:
    assert errors_of(simple("a"), simple("b")) == []


def test_empty_workflow_name() -> None:
    assert "workflow name is empty" in validate_workflow_def(wf(simple("a"), name="  "))


def test_no_tasks() -> None:
    assert validate_workflow_def(wf(name="empty")) == ["workflow 'empty' has no tasks"]


def test_check_raises_definition_error_with_every_error() -> None:
    definition = wf({"name": "x", "taskReferenceName": "", "type": "SIMPLE"}, simple("a"), simple("a"))
    with pytest.raises(DefinitionError) as caught:
        check_workflow_def(definition)
    error = caught.value
    assert isinstance(error, ValueError)
    assert len(error.errors) == 2
    assert str(error) == "; ".join(error.errors)


def test_check_passes_silently_when_valid() -> None:
    check_workflow_def(wf(simple("a")))


# --- names and reference names -------------------------------------------------------


def test_missing_reference_name_points_at_the_json_path() -> None:
    error = only_error(simple("a"), {"name": "encode", "type": "SIMPLE"})
    assert error == "task at tasks[1] (SIMPLE, name 'encode'): taskReferenceName is missing"


def test_missing_name() -> None:
    assert only_error({"taskReferenceName": "r1", "type": "SIMPLE"}) == "task 'r1' (SIMPLE): name is missing"


def test_missing_reference_name_inside_a_fork_branch() -> None:
    error = only_error(fork("f", [simple("a")], [{"name": "n", "type": "SIMPLE"}]), join("j", "a"))
    assert "tasks[0].forkTasks[1][0]" in error


@pytest.mark.parametrize(
    "tasks",
    [
        pytest.param([simple("dup"), simple("dup")], id="top-level"),
        pytest.param([switch("s", {"x": [simple("dup")]}), simple("dup")], id="switch-case"),
        pytest.param(
            [switch("s", {"x": [simple("a")]}, defaultCase=[simple("dup")]), simple("dup")],
            id="default-case",
        ),
        pytest.param([fork("f", [simple("dup")], [simple("dup")]), join("j")], id="fork-branches"),
        pytest.param([do_while("loop", simple("dup")), simple("dup")], id="loop-over"),
        pytest.param([do_while("dup", simple("dup"))], id="loop-and-body"),
    ],
)
def test_duplicate_reference_names_anywhere_in_the_tree(tasks: list[dict[str, Any]]) -> None:
    errors = errors_of(*tasks)
    assert any(e.startswith("task 'dup'") and "unique" in e for e in errors), errors


def test_inline_sub_workflow_has_its_own_reference_namespace() -> None:
    inline = {"name": "child", "tasks": [simple("a")]}
    sub = {
        "name": "sub",
        "taskReferenceName": "sub",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "child", "workflowDefinition": inline},
    }
    assert errors_of(simple("a"), sub) == []


# --- types ---------------------------------------------------------------------------


def test_unknown_type_is_a_warning_listing_supported_types() -> None:
    # Conductor registers any type and runs an unknown one as a worker task.
    warning = only_warning({"name": "u", "taskReferenceName": "u", "type": "USER_TASK"})
    assert warning.startswith("task 'u' (USER_TASK): unknown type 'USER_TASK'; it runs as a worker task polled as 'u'")
    for supported in IMPLEMENTED_TASK_TYPES:
        assert supported in warning


def test_empty_type() -> None:
    assert "type is empty" in only_error({"name": "u", "taskReferenceName": "u", "type": ""})


def test_a_type_conductor_has_but_podium_does_not_run_is_unknown() -> None:
    warning = only_warning({"name": "k", "taskReferenceName": "k", "type": "KAFKA_PUBLISH"})
    assert warning.startswith("task 'k' (KAFKA_PUBLISH): unknown type 'KAFKA_PUBLISH'")


@pytest.mark.parametrize("sink", ["conductor", "conductor:orders", "${workflow.input.sink}", "sqs:queue"])
def test_event_needs_only_a_sink(sink: str) -> None:
    # Which providers work is only known once the sink is resolved: the task fails then.
    assert errors_of({"name": "e", "taskReferenceName": "x", "type": "EVENT", "sink": sink}) == []


def test_event_without_a_sink() -> None:
    task: dict[str, Any] = {"name": "e", "taskReferenceName": "x", "type": "EVENT"}
    assert only_error(task) == "task 'x' (EVENT): sink is missing; use 'conductor' or 'conductor:<name>'"


@pytest.mark.parametrize("sink", ["", "  "])
def test_event_with_a_blank_sink_is_a_warning(sink: str) -> None:
    # Conductor refuses only a null sink; a blank one fails the task when it runs.
    task: dict[str, Any] = {"name": "e", "taskReferenceName": "x", "type": "EVENT", "sink": sink}
    assert only_warning(task) == "task 'x' (EVENT): sink is missing; use 'conductor' or 'conductor:<name>'"


def test_http_needs_a_request() -> None:
    error = only_error({"name": "h", "taskReferenceName": "x", "type": "HTTP"})
    assert "inputParameters.http_request is missing" in error


def test_set_variable_accepts_anything() -> None:
    task = {"name": "s", "taskReferenceName": "s", "type": "SET_VARIABLE", "inputParameters": {"a": [1]}}
    assert errors_of(task, {"name": "e", "taskReferenceName": "e", "type": "SET_VARIABLE"}) == []


def test_noop_wait_and_human_are_accepted() -> None:
    tasks = [{"name": t.lower(), "taskReferenceName": t.lower(), "type": t} for t in ("NOOP", "WAIT", "HUMAN")]
    assert errors_of(*tasks) == []


def test_wait_with_both_duration_and_until() -> None:
    task = {
        "name": "w",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"duration": "10s", "until": "2030-01-01 00:00"},
    }
    assert "both 'duration' and 'until'" in only_error(task)


# --- FORK_JOIN / JOIN ----------------------------------------------------------------


def test_fork_join_followed_by_join_is_valid() -> None:
    assert errors_of(fork("f", [simple("a")], [simple("b")]), join("j", "a", "b")) == []


def test_fork_without_branches() -> None:
    errors = errors_of(fork("f"), join("j"))
    assert errors == ["task 'f' (FORK_JOIN): forkTasks is empty; a FORK_JOIN needs at least one branch"]


def test_fork_with_an_empty_branch() -> None:
    assert "fork branch 1 is empty" in only_warning(fork("f", [simple("a")], []), join("j", "a"))


NO_JOIN = "task 'fork1' (FORK_JOIN): no JOIN follows it; the fork fails when it runs"


def test_fork_as_last_task_is_accepted_with_a_warning() -> None:
    # conductor-python's kitchensink ends with a fork; Conductor registers it.
    assert only_warning(fork("fork1", [simple("a")])) == NO_JOIN


def test_fork_join_must_be_immediately_followed_by_join() -> None:
    assert only_warning(fork("fork1", [simple("a")]), simple("between"), join("j", "a")) == NO_JOIN


def test_join_in_another_list_does_not_count() -> None:
    assert warnings_of(switch("s", {"x": [fork("fork1", [simple("a")])]}), join("j", "a")) == [NO_JOIN]


def test_nested_forks_each_with_their_join() -> None:
    inner = [fork("inner", [simple("a")], [simple("b")]), join("inner_join", "a", "b")]
    outer = fork("outer", inner, [simple("c")])
    assert errors_of(outer, join("outer_join", "inner_join", "c")) == []


def test_join_on_unknown_reference() -> None:
    warning = only_warning(fork("f", [simple("a")]), join("j", "a", "ghost"))
    assert warning == "task 'j' (JOIN): joinOn names unknown task 'ghost'; the join waits for it"


def test_join_on_may_name_a_task_nested_anywhere() -> None:
    branch = [switch("s", {"x": [simple("deep")]})]
    assert errors_of(fork("f", branch), join("j", "deep")) == []


# --- FORK_JOIN_DYNAMIC ---------------------------------------------------------------


def dyn_fork(ref: str, **extra: Any) -> dict[str, Any]:
    task = {"name": ref, "taskReferenceName": ref, "type": "FORK_JOIN_DYNAMIC"}
    task.update(extra)
    return task


def test_dynamic_fork_classic_form() -> None:
    task = dyn_fork(
        "df",
        dynamicForkTasksParam="dynamicTasks",
        dynamicForkTasksInputParamName="dynamicTasksInput",
        inputParameters={"dynamicTasks": "${x.output.tasks}", "dynamicTasksInput": "${x.output.inputs}"},
    )
    assert errors_of(task, join("j")) == []


@pytest.mark.parametrize("target", ["forkTaskName", "forkTaskWorkflow"])
def test_dynamic_fork_newer_form_needs_no_tasks_param(target: str) -> None:
    task = dyn_fork("df", inputParameters={target: "worker", "forkTaskInputs": [{"a": 1}]})
    assert errors_of(task, join("j")) == []


def test_dynamic_fork_without_tasks_param() -> None:
    errors = errors_of(dyn_fork("df"), join("j"))
    assert len(errors) == 2
    assert "dynamicForkTasksParam is missing" in errors[0]
    assert errors[1] == "task 'df' (FORK_JOIN_DYNAMIC): dynamicForkTasksInputParamName is missing"


def test_dynamic_fork_classic_form_needs_the_input_param_name_as_in_conductor() -> None:
    error = only_error(dyn_fork("df", dynamicForkTasksParam="t"), join("j"))
    assert error == "task 'df' (FORK_JOIN_DYNAMIC): dynamicForkTasksInputParamName is missing"


def test_dynamic_fork_legacy_param_alone_is_accepted() -> None:
    assert review(dyn_fork("df", dynamicForkJoinTasksParam="legacy"), join("j")) == Findings([], [])


def test_dynamic_fork_legacy_and_classic_params_together_are_refused() -> None:
    task = dyn_fork("df", dynamicForkJoinTasksParam="legacy", dynamicForkTasksParam="t")
    assert "can be used, not both" in only_error(task, join("j"))


def test_dynamic_fork_inputs_alone_are_accepted_with_a_warning() -> None:
    # Conductor accepts forkTaskInputs on its own; the fork then fails when it runs.
    warning = only_warning(dyn_fork("df", inputParameters={"forkTaskInputs": []}), join("j"))
    assert "forkTaskInputs without forkTaskName or forkTaskWorkflow" in warning


def test_dynamic_fork_without_join() -> None:
    task = dyn_fork("df", dynamicForkTasksParam="t", dynamicForkTasksInputParamName="i")
    assert only_warning(task, simple("a")) == (
        "task 'df' (FORK_JOIN_DYNAMIC): no JOIN follows it; the fork fails when it runs"
    )


# --- SWITCH / DECISION ---------------------------------------------------------------


def test_switch_valid_with_each_evaluator() -> None:
    for evaluator in ("value-param", "javascript", "graaljs"):
        assert errors_of(switch("s", {"a": [simple("x")]}, evaluatorType=evaluator)) == []


def test_switch_with_only_a_default_case_is_refused_as_in_conductor() -> None:
    # WorkflowTaskTypeConstraint: "decisionCases should have atleast one task".
    error = only_error(switch("s", {}, defaultCase=[simple("x")]))
    assert error == "task 's' (SWITCH): decisionCases is empty; a SWITCH needs at least one case"


CASES = {"a": [simple("x")]}


def test_switch_without_evaluator_type() -> None:
    assert only_error(switch("s", CASES, evaluatorType=None)) == "task 's' (SWITCH): evaluatorType is missing"


def test_switch_without_expression() -> None:
    assert only_error(switch("s", CASES, expression=None)) == "task 's' (SWITCH): expression is missing"
    assert only_warning(switch("s", CASES, expression="")) == "task 's' (SWITCH): expression is empty"


def test_switch_with_unknown_evaluator_is_accepted_with_a_warning() -> None:
    # Conductor looks the evaluator up when the task runs, and fails the task then.
    warning = only_warning(switch("s", CASES, evaluatorType="python"))
    assert warning.startswith("task 's' (SWITCH): evaluatorType 'python' is not one of")


def decision(ref: str, **extra: Any) -> dict[str, Any]:
    task = {"name": ref, "taskReferenceName": ref, "type": "DECISION", "decisionCases": {"a": [simple("x")]}}
    task.update(extra)
    return task


def test_decision_with_case_value_param_or_case_expression() -> None:
    assert errors_of(decision("d", caseValueParam="case")) == []
    assert errors_of(decision("d", caseExpression="$.a > 1 ? 'a' : 'b'")) == []


def test_decision_without_case_value_param_or_expression() -> None:
    error = only_error(decision("d"))
    assert error == "task 'd' (DECISION): caseValueParam or caseExpression is required"


def test_decision_without_cases() -> None:
    error = only_error(decision("d", caseValueParam="case", decisionCases={}))
    assert "decisionCases is empty" in error


# --- DO_WHILE ------------------------------------------------------------------------


def test_do_while_valid() -> None:
    assert errors_of(do_while("loop", simple("a"))) == []


def test_do_while_without_loop_condition() -> None:
    error = only_error(do_while("loop", simple("a"), loopCondition=None))
    assert error == "task 'loop' (DO_WHILE): loopCondition is missing"


def test_do_while_over_items_may_leave_the_condition_empty() -> None:
    task = do_while("loop", simple("a"), loopCondition="", inputParameters={"items": [1, 2]})
    assert errors_of(task) == []


def test_do_while_blank_condition_without_items() -> None:
    # Conductor only refuses a missing condition; an empty one runs the body once.
    assert only_error(do_while("loop", simple("a"), loopCondition=None)).endswith("loopCondition is missing")
    warning = only_warning(do_while("loop", simple("a"), loopCondition=" "))
    assert warning == "task 'loop' (DO_WHILE): loopCondition is empty; the body runs once"


def test_do_while_with_empty_loop_over() -> None:
    assert only_error(do_while("loop")) == "task 'loop' (DO_WHILE): loopOver is empty"


def test_do_while_nested_directly() -> None:
    error = only_error(do_while("outer", do_while("inner", simple("a"))))
    assert error.startswith("task 'inner' (DO_WHILE): nested inside the loopOver of DO_WHILE 'outer'")


def test_do_while_nested_through_a_switch() -> None:
    body = switch("s", {"x": [do_while("inner", simple("a"))]})
    assert "DO_WHILE 'outer'" in only_error(do_while("outer", body))


def test_sibling_and_forked_do_whiles_are_not_nested() -> None:
    branches = fork("f", [do_while("l1", simple("a"))], [do_while("l2", simple("b"))])
    assert errors_of(do_while("l0", simple("c")), branches, join("j", "l1", "l2")) == []


# --- SUB_WORKFLOW --------------------------------------------------------------------


def sub(ref: str, param: dict[str, Any] | None) -> dict[str, Any]:
    task: dict[str, Any] = {"name": ref, "taskReferenceName": ref, "type": "SUB_WORKFLOW"}
    if param is not None:
        task["subWorkflowParam"] = param
    return task


def test_sub_workflow_by_name() -> None:
    assert errors_of(sub("s", {"name": "child", "version": 1})) == []


def test_sub_workflow_name_may_be_an_expression() -> None:
    assert errors_of(sub("s", {"name": "${workflow.input.child}"})) == []


def test_sub_workflow_without_param() -> None:
    assert only_error(sub("s", None)) == "task 's' (SUB_WORKFLOW): subWorkflowParam is missing"


def test_sub_workflow_without_name_or_definition() -> None:
    assert "needs a name or a workflowDefinition" in only_error(sub("s", {"version": 1}))


def test_inline_definition_without_name_borrows_the_param_name() -> None:
    assert errors_of(sub("s", {"workflowDefinition": {"name": "c", "tasks": [simple("a")]}})) == []
    assert errors_of(sub("s", {"name": "c", "workflowDefinition": {"tasks": [simple("a")]}})) == []


def test_inline_definition_is_validated_recursively() -> None:
    inline = {"name": "child", "tasks": [fork("child_fork", [simple("a")]), terminate("t")]}
    findings = review(sub("parent", {"name": "child", "workflowDefinition": inline}))
    assert findings.warnings == [
        "task 'parent' (SUB_WORKFLOW): inline workflowDefinition: task 'child_fork' (FORK_JOIN): "
        "no JOIN follows it; the fork fails when it runs"
    ]
    assert findings.errors == [
        "task 'parent' (SUB_WORKFLOW): inline workflowDefinition: task 't' (TERMINATE): "
        "inputParameters.terminationStatus is missing; use one of COMPLETED, FAILED, TERMINATED"
    ]


def test_inline_definitions_nest() -> None:
    grandchild = {"name": "gc", "tasks": [{"name": "h", "taskReferenceName": "h", "type": "NOPE"}]}
    child = {"name": "c", "tasks": [sub("inner", {"name": "gc", "workflowDefinition": grandchild})]}
    warning = only_warning(sub("outer", {"name": "c", "workflowDefinition": child}))
    assert warning.startswith(
        "task 'outer' (SUB_WORKFLOW): inline workflowDefinition: "
        "task 'inner' (SUB_WORKFLOW): inline workflowDefinition: task 'h' (NOPE): unknown type"
    )


def test_inline_definition_that_does_not_parse() -> None:
    error = only_error(sub("s", {"name": "c", "workflowDefinition": {"name": "c", "tasks": "nope"}}))
    assert error.startswith("task 's' (SUB_WORKFLOW): inline workflowDefinition does not parse")


def test_inline_definition_given_as_an_expression_is_not_checked() -> None:
    assert errors_of(sub("s", {"name": "c", "workflowDefinition": "${workflow.input.def}"})) == []


def test_inline_definition_given_as_a_model() -> None:
    definition = wf(sub("s", {"name": "child"}))
    param = definition.tasks[0].sub_workflow_param
    assert param is not None
    param.workflow_definition = wf(fork("f", [simple("a")]), name="child")
    assert validate_workflow_def(definition) == [
        "task 's' (SUB_WORKFLOW): inline workflowDefinition: task 'f' (FORK_JOIN): "
        "no JOIN follows it; the fork fails when it runs"
    ]


# --- INLINE / LAMBDA / JSON_JQ_TRANSFORM ---------------------------------------------


def inline(ref: str, **params: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "INLINE", "inputParameters": params}


def test_inline_valid() -> None:
    assert errors_of(inline("i", evaluatorType="graaljs", expression="$.a + 1", a=1)) == []
    assert errors_of(inline("v", evaluatorType="value-param", expression="a", a=1)) == []


# Conductor checks nothing about INLINE at registration: these are warnings.


def test_inline_without_expression() -> None:
    warning = only_warning(inline("i", evaluatorType="javascript"))
    assert warning == "task 'i' (INLINE): inputParameters.expression is missing; the task fails when it runs"


def test_inline_without_evaluator_type() -> None:
    warning = only_warning(inline("i", expression="1"))
    assert warning == "task 'i' (INLINE): inputParameters.evaluatorType is missing"


def test_inline_with_unknown_evaluator_type() -> None:
    assert "'python' is not one of" in only_warning(inline("i", evaluatorType="python", expression="1"))


def test_inline_evaluator_type_from_an_expression_is_accepted() -> None:
    assert errors_of(inline("i", evaluatorType="${workflow.input.lang}", expression="1")) == []


def test_lambda() -> None:
    ok = {
        "name": "l",
        "taskReferenceName": "l",
        "type": "LAMBDA",
        "inputParameters": {"scriptExpression": "return 1;"},
    }
    legacy = {"name": "m", "taskReferenceName": "m", "type": "LAMBDA", "scriptExpression": "return 1;"}
    assert errors_of(ok, legacy) == []
    missing = {"name": "l", "taskReferenceName": "l", "type": "LAMBDA", "inputParameters": {"a": 1}}
    assert only_warning(missing) == (
        "task 'l' (LAMBDA): inputParameters.scriptExpression is missing; the task fails when it runs"
    )


def jq_task(ref: str, **extra: Any) -> dict[str, Any]:
    task = {"name": ref, "taskReferenceName": ref, "type": "JSON_JQ_TRANSFORM"}
    task.update(extra)
    return task


def test_jq_with_query() -> None:
    assert errors_of(jq_task("q", inputParameters={"queryExpression": ".a"})) == []


def test_jq_without_query() -> None:
    error = only_error(jq_task("q", inputParameters={"a": 1}))
    assert error == "task 'q' (JSON_JQ_TRANSFORM): inputParameters.queryExpression is missing"


def test_jq_query_from_embedded_task_definition() -> None:
    task = jq_task("q", taskDefinition={"name": "q", "inputTemplate": {"queryExpression": "."}})
    assert errors_of(task) == []


def test_jq_query_from_registered_task_definition() -> None:
    definition = wf(jq_task("q", name="registered_jq"))
    registered = {"registered_jq": TaskDef(name="registered_jq", input_template={"queryExpression": "."})}
    assert validate_workflow_def(definition) != []
    assert validate_workflow_def(definition, registered) == []


# --- TERMINATE -----------------------------------------------------------------------


def terminate(ref: str, **extra: Any) -> dict[str, Any]:
    task = {"name": ref, "taskReferenceName": ref, "type": "TERMINATE"}
    task.update(extra)
    return task


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "TERMINATED"])
def test_terminate_statuses(status: str) -> None:
    assert errors_of(terminate("t", inputParameters={"terminationStatus": status})) == []


def test_terminate_without_status() -> None:
    assert "terminationStatus is missing" in only_error(terminate("t", inputParameters={"x": 1}))


def test_terminate_with_unknown_status() -> None:
    error = only_error(terminate("t", inputParameters={"terminationStatus": "DONE"}))
    assert error.startswith("task 't' (TERMINATE): inputParameters.terminationStatus 'DONE' is not one of")


def test_terminate_cannot_be_optional() -> None:
    task = terminate("t", inputParameters={"terminationStatus": "FAILED"}, optional=True)
    assert "cannot be optional" in only_error(task)


# --- cross-cutting -------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    findings = review(
        fork("f", [simple("a")]),
        switch("s", CASES, evaluatorType=None),
        terminate("t"),
        {"name": "h", "taskReferenceName": "h", "type": "HTTP"},
    )
    assert [e.split("'")[1] for e in findings.errors] == ["s", "t", "h"]
    assert [w.split("'")[1] for w in findings.warnings] == ["f"]
    assert validate_workflow_def(wf(fork("f", [simple("a")]), terminate("t"))) == [
        *errors_of(terminate("t")),
        *warnings_of(fork("f", [simple("a")])),
    ], "validate_workflow_def lists errors, then warnings"


def test_scripts_are_not_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("validation ran a script")

    monkeypatch.setattr(evaluators, "evaluate", refuse)
    monkeypatch.setattr(evaluators, "evaluate_jq", refuse)
    monkeypatch.setattr(evaluators, "_evaluate_js", refuse)
    tasks = [
        switch("s", {"a": [simple("s1")]}, evaluatorType="javascript", expression="while (true) {}"),
        do_while("loop", simple("y"), loopCondition="while (true) {}"),
        inline("i", evaluatorType="javascript", expression="throw new Error('ran')"),
        jq_task("q", inputParameters={"queryExpression": 'error("ran")'}),
        decision("d", caseExpression="while (true) {}"),
    ]
    assert errors_of(*tasks) == []
