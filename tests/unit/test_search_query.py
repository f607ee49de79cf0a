"""Search queries: parsing Conductor's syntax, planning, matching, sorting, result shapes."""

from __future__ import annotations

import pytest

from actors.workflow import events as ev
from cluster.search import (
    ID,
    SET,
    TASKS,
    WORKFLOWS,
    Condition,
    QueryError,
    iso_time,
    matches,
    parse_query,
    parse_sort,
    plan_of,
    sort_summaries,
    task_summary,
    tokenize,
    workflow_summary,
)
from cluster.store import Indexed, IndexWrites, Store
from tests.unit.machine_harness import Run

# -- parsing -------------------------------------------------------------------------------


def test_the_issue_example_parses_into_three_conditions() -> None:
    query = "workflowType IN (a,b) AND status = 'FAILED' AND startTime > 1700000000000"
    assert parse_query(query, WORKFLOWS) == [
        Condition("workflowType", "IN", ("a", "b")),
        Condition("status", "=", ("FAILED",)),
        Condition("startTime", ">", (1700000000000,)),
    ]


@pytest.mark.parametrize("text", [None, "", "   "])
def test_an_empty_query_has_no_conditions(text: str | None) -> None:
    assert parse_query(text, WORKFLOWS) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status=FAILED", Condition("status", "=", ("FAILED",))),
        ('status = "FAILED"', Condition("status", "=", ("FAILED",))),
        ("workflowType = my-flow.v2", Condition("workflowType", "=", ("my-flow.v2",))),
        ("correlationId = 'it''s'", None),
        ("correlationId = 'a b\\'c'", Condition("correlationId", "=", ("a b'c",))),
        ("status != RUNNING", Condition("status", "!=", ("RUNNING",))),
        ("startTime>=5", Condition("startTime", ">=", (5,))),
        ("startTime<='7'", Condition("startTime", "<=", (7,))),
        ("startTime BETWEEN 1 AND 9", Condition("startTime", "BETWEEN", (1, 9))),
        ("workflowType STARTS_WITH 'ord'", Condition("workflowType", "STARTS_WITH", ("ord",))),
        ("workflowType in ( 'a' , b )", Condition("workflowType", "IN", ("a", "b"))),
        ("version = 3", Condition("version", "=", (3,))),
    ],
)
def test_each_operator_and_value_form(text: str, expected: Condition | None) -> None:
    if expected is None:  # two adjacent strings are not one value
        with pytest.raises(QueryError, match="expected AND"):
            parse_query(text, WORKFLOWS)
        return
    assert parse_query(text, WORKFLOWS) == [expected]


def test_parentheses_group_conjunctions() -> None:
    assert parse_query("(status = RUNNING AND (workflowType = a)) AND version = 1", WORKFLOWS) == [
        Condition("status", "=", ("RUNNING",)),
        Condition("workflowType", "=", ("a",)),
        Condition("version", "=", (1,)),
    ]


def test_keywords_are_case_insensitive() -> None:
    assert parse_query("status in (RUNNING) and version = 1", WORKFLOWS) == [
        Condition("status", "IN", ("RUNNING",)),
        Condition("version", "=", (1,)),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("bogus = 1", "Unknown workflow search field 'bogus'"),
        ("status = 'NOPE'", "Unknown workflow status 'NOPE'"),
        ("status = RUNNING OR status = FAILED", "OR (position 17) is not supported"),
        ("status =", "expected a value for 'status', found the end of the query"),
        ("status RUNNING", "expected an operator"),
        ("status = 'RUNNING", "not closed"),
        ("workflowType IN (a, b", "expected ',' or ')' in the IN list"),
        ("workflowType IN a", "expected '(' after IN"),
        ("startTime > yesterday", "'startTime' takes an integer"),
        ("workflowType > 3", "Operator > needs a numeric field"),
        ("version STARTS_WITH 1", "STARTS_WITH needs a text field"),
        ("startTime BETWEEN 1 9", "expected AND between the two bounds"),
        ("status = RUNNING status = FAILED", "expected AND or the end of the query"),
        ("(status = RUNNING", "expected ')'"),
        ("status ! RUNNING", "'!' must be followed by '='"),
        ("status IS NULL", "Operator IS"),
        ("= 3", "expected a field name"),
    ],
)
def test_malformed_queries_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(text, WORKFLOWS)
    assert fragment in str(raised.value)


def test_task_queries_have_their_own_fields() -> None:
    assert parse_query("taskType = work AND status = IN_PROGRESS AND updateTime < 10", TASKS) == [
        Condition("taskType", "=", ("work",)),
        Condition("status", "=", ("IN_PROGRESS",)),
        Condition("updateTime", "<", (10,)),
    ]
    with pytest.raises(QueryError, match="Unknown task status 'PAUSED'"):
        parse_query("status = PAUSED", TASKS)
    with pytest.raises(QueryError, match="Unknown task search field 'workflowName'"):
        parse_query("workflowName = x", TASKS)


def test_tokens_keep_their_positions() -> None:
    assert [(t.kind, t.text, t.at) for t in tokenize("a!=b")] == [
        ("word", "a", 0),
        ("op", "!=", 1),
        ("word", "b", 3),
        ("end", "", 4),
    ]


# -- sorting -------------------------------------------------------------------------------


def test_sort_forms() -> None:
    assert parse_sort(None, WORKFLOWS) == [("startTime", True)]
    assert parse_sort("startTime:ASC", WORKFLOWS) == [("startTime", False)]
    assert parse_sort("startTime:desc", WORKFLOWS) == [("startTime", True)]
    assert parse_sort("workflowType", WORKFLOWS) == [("workflowType", False)]
    assert parse_sort("status:DESC|startTime:ASC", WORKFLOWS) == [("status", True), ("startTime", False)]
    assert parse_sort(None, TASKS) == [("updateTime", True)]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("nope:ASC", "Unknown workflow search field 'nope'"), ("startTime:UP", "ASC or DESC"), (":ASC", "Malformed")],
)
def test_bad_sorts_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        parse_sort(text, WORKFLOWS)


def test_summaries_sort_by_each_key_with_missing_values_first() -> None:
    rows = [
        {"workflowId": "c", "status": "RUNNING", "correlationId": None, "startTime": 3},
        {"workflowId": "a", "status": "FAILED", "correlationId": "x", "startTime": 1},
        {"workflowId": "b", "status": "RUNNING", "correlationId": "y", "startTime": 2},
    ]
    by = [r["workflowId"] for r in sort_summaries(rows, [("status", False), ("startTime", True)], "workflowId")]
    assert by == ["a", "c", "b"]
    by = [r["workflowId"] for r in sort_summaries(rows, [("correlationId", False)], "workflowId")]
    assert by == ["c", "a", "b"]


# -- planning and matching ---------------------------------------------------------------


def test_plan_sends_each_condition_where_it_is_answered() -> None:
    conditions = parse_query(
        "workflowType IN (a,b) AND status = FAILED AND startTime > 10 AND startTime <= 20 AND version = 2 "
        "AND workflowId = w1 AND status != RUNNING",
        WORKFLOWS,
    )
    plan = plan_of(WORKFLOWS, conditions, "*")
    assert plan.groups == [
        [("workflowType", "a"), ("workflowType", "b")],
        [("status", "FAILED")],
        [("workflowId", "w1")],
    ]
    assert plan.bounds() == ("(10", "20")
    assert [c.field for c in plan.residual] == ["version", "status"]
    assert WORKFLOWS.fields["workflowType"].index == SET and WORKFLOWS.fields["workflowId"].index == ID


def test_free_text_is_an_id_a_correlation_id_or_a_type() -> None:
    assert plan_of(WORKFLOWS, [], "order-7").groups == [
        [("workflowId", "order-7"), ("correlationId", "order-7"), ("workflowType", "order-7")]
    ]
    assert plan_of(TASKS, [], "t1").groups == [[("taskId", "t1"), ("workflowId", "t1"), ("taskType", "t1")]]
    assert plan_of(WORKFLOWS, [], "*").groups == []
    assert plan_of(WORKFLOWS, [], "").groups == []


def test_range_bounds_keep_the_tightest() -> None:
    query = "startTime > 5 AND startTime >= 7 AND startTime BETWEEN 1 AND 9"
    plan = plan_of(WORKFLOWS, parse_query(query, WORKFLOWS), None)
    assert plan.bounds() == ("7", "9")
    assert plan.in_bounds(7) and plan.in_bounds(9) and not plan.in_bounds(6)
    equal = plan_of(WORKFLOWS, parse_query("startTime = 4", WORKFLOWS), None)
    assert equal.bounds() == ("4", "4")
    assert plan_of(WORKFLOWS, [], None).bounds() == ("-inf", "+inf")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("version = 2", True),
        ("version != 2", False),
        ("version IN (1,2)", True),
        ("endTime > 99", True),
        ("endTime < 100", False),
        ("endTime BETWEEN 200 AND 50", True),
        ("correlationId STARTS_WITH 'ord'", True),
        ("correlationId STARTS_WITH 'x'", False),
    ],
)
def test_residual_conditions_match_summaries(query: str, expected: bool) -> None:
    summary = {"version": 2, "endTime": 100, "correlationId": "order-1"}
    [condition] = parse_query(query, WORKFLOWS)
    assert matches(condition, summary) is expected


def test_a_missing_value_never_compares() -> None:
    [condition] = parse_query("endTime > 1", WORKFLOWS)
    assert not matches(condition, {"endTime": None})


# -- result shapes ---------------------------------------------------------------------------


def test_times_are_conductors_utc_text() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(1700000000123) == "2023-11-14T22:13:20.123Z"


def test_workflow_summary_has_conductors_fields() -> None:
    workflow = {
        "workflowId": "w",
        "workflowName": "orders",
        "workflowVersion": 3,
        "status": "FAILED",
        "createTime": 1000,
        "startTime": 1000,
        "updateTime": 1500,
        "endTime": 1600,
        "input": {"a": 1},
        "output": {},
        "reasonForIncompletion": "boom",
        "failedReferenceTaskNames": ["x", "y"],
        "failedTaskNames": ["tx"],
        "priority": 5,
        "correlationId": "c",
    }
    summary = workflow_summary(workflow)
    assert summary["workflowType"] == "orders" and summary["version"] == 3
    assert summary["startTime"] == "1970-01-01T00:00:01.000Z"
    assert summary["endTime"] == "1970-01-01T00:00:01.600Z"
    assert summary["executionTime"] == 600
    assert summary["input"] == '{"a":1}'
    assert summary["failedReferenceTaskNames"] == "x,y"
    assert summary["failedTaskNames"] == ["tx"]
    assert summary["parentWorkflowId"] == ""
    running = workflow_summary({**workflow, "status": "RUNNING", "endTime": 0})
    assert "endTime" not in running and running["executionTime"] == 0


def test_task_summary_has_conductors_fields() -> None:
    task = {
        "taskId": "t",
        "taskType": "work",
        "taskDefName": "work",
        "workflowInstanceId": "w",
        "workflowType": "orders",
        "status": "COMPLETED",
        "scheduledTime": 1000,
        "startTime": 1200,
        "endTime": 1700,
        "updateTime": 1700,
        "inputData": {"i": 1},
        "outputData": {"o": 2},
        "workflowPriority": 1,
    }
    summary = task_summary(task)
    assert summary["workflowId"] == "w" and summary["taskId"] == "t"
    assert summary["queueWaitTime"] == 200 and summary["executionTime"] == 500
    assert summary["input"] == '{"i":1}' and summary["output"] == '{"o":2}'
    assert summary["scheduledTime"] == "1970-01-01T00:00:01.000Z"


# -- index writes on the step path ----------------------------------------------------------


def _index_writes(run: Run, indexed: Indexed | None) -> tuple[IndexWrites, Indexed]:
    """The index writes a checkpoint of the run's current state would make."""
    checkpoint = Store("redis://127.0.0.1:1/0", 4).checkpoint()  # never connects: nothing is sent
    indexed = checkpoint.index(run.state, indexed)
    run.state.dirty_task_ids = set()
    run.state.meta_dirty = False
    return checkpoint.index_writes, indexed


def _keys_written(writes: IndexWrites) -> set[tuple[str, str]]:
    """(operation, key) pairs: r for ZREM, z for ZADD, h for HSET, d for HDEL."""
    groups = {"r": writes.zrem, "z": writes.zadd, "h": writes.hset, "d": writes.hdel}
    return {(op, key) for op, group in groups.items() for key in group}


def test_index_entries_are_written_only_when_a_status_changes() -> None:
    run = Run({"name": "flow", "version": 1, "tasks": [{"name": "work", "taskReferenceName": "w"}]}, correlation_id="c")
    writes, indexed = _index_writes(run, None)
    written = _keys_written(writes)
    assert ("z", "podium:{ix}:wf:status:RUNNING") in written
    assert ("z", "podium:{ix}:wf:corr:c") in written
    assert ("z", "podium:{ix}:task:status:SCHEDULED") in written
    task_id = run.state.tasks[0]["taskId"]

    run.send(ev.TaskPolled(task_id, "worker"))
    writes, indexed = _index_writes(run, indexed)
    assert _keys_written(writes) == {
        ("r", "podium:{ix}:task:status:SCHEDULED"),
        ("z", "podium:{ix}:task:type:work"),
        ("z", "podium:{ix}:task:status:IN_PROGRESS"),
    }
    assert writes.zadd["podium:{ix}:task:status:IN_PROGRESS"] == [str(run.now), task_id]

    # A worker's progress report: the task changed, its status did not, nor the workflow's.
    run.send(ev.TaskUpdate(task_id, "IN_PROGRESS", output_data={"progress": 50}))
    assert run.state.dirty_task_ids and run.state.meta_dirty
    writes, indexed = _index_writes(run, indexed)
    assert not writes

    run.send(ev.TaskUpdate(task_id, "COMPLETED"))
    writes, indexed = _index_writes(run, indexed)
    written = _keys_written(writes)
    assert ("r", "podium:{ix}:wf:status:RUNNING") in written
    assert ("z", "podium:{ix}:wf:status:COMPLETED") in written
    assert ("r", "podium:{ix}:task:status:IN_PROGRESS") in written
    assert ("z", "podium:{ix}:task:status:COMPLETED") in written


def test_an_execution_loaded_from_its_checkpoint_is_known_to_be_indexed() -> None:
    run = Run({"name": "flow", "version": 1, "tasks": [{"name": "work", "taskReferenceName": "w"}]})
    _index_writes(run, None)
    writes, _ = _index_writes(run, Indexed.of(run.state))
    assert not writes


def test_a_status_change_moves_only_the_status_entry_and_the_summary() -> None:
    run = Run({"name": "flow", "version": 1, "tasks": [{"name": "work", "taskReferenceName": "w"}]}, correlation_id="c")
    _, indexed = _index_writes(run, None)
    run.send(ev.Pause())
    writes, _ = _index_writes(run, indexed)
    assert _keys_written(writes) == {
        ("r", "podium:{ix}:wf:status:RUNNING"),
        ("z", "podium:{ix}:wf:status:PAUSED"),
        ("h", "podium:{ix}:wf:sum"),
    }
