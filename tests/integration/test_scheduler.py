"""Workflow schedules end to end: real Redis, real Ray, the gateway's schedule runner.

Time-driven checks wait for the condition (polling the API with a deadline) and assert
on what happened, never on how long it took.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import ray
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.save_schedule_request import SaveScheduleRequest
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_scheduler_client import OrkesSchedulerClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cluster.runtime import Runtime
from cluster.store import Store
from gateway.context import GatewayContext
from gateway.routing import ShardRouter
from gateway.scheduler import ScheduleRunner
from tests.integration.client import PodiumClient, eventually
from tests.integration.conftest import start_podium

Json = dict[str, Any]
EVERY_SECOND = "* * * * * *"


def register_marker(client: PodiumClient) -> str:
    """A workflow that completes at once and keeps the fire time it was started for."""
    name = f"scheduled_{uuid.uuid4().hex[:8]}"
    client.register(
        {
            "name": name,
            "tasks": [
                {
                    "name": "mark",
                    "taskReferenceName": "mark",
                    "type": "SET_VARIABLE",
                    "inputParameters": {"firedFor": "${workflow.input._scheduledTime}"},
                }
            ],
        }
    )
    return name


def save(client: PodiumClient, workflow: str, **fields: Any) -> Json:
    name = fields.pop("name", f"sched_{uuid.uuid4().hex[:8]}")
    body = {
        "name": name,
        "cronExpression": EVERY_SECOND,
        "startWorkflowRequest": {"name": workflow, "correlationId": name, "input": {"from": "test"}},
        **fields,
    }
    saved: Json = client.ok("POST", "/scheduler/schedules", json=body)
    return saved


def fires(client: PodiumClient, schedule: str) -> list[Json]:
    found: Json = client.ok("GET", "/scheduler/search/executions", params={"query": schedule, "size": 10_000})
    assert found["totalHits"] == len(found["results"])
    return list(found["results"])


def await_fires(client: PodiumClient, schedule: str, count: int, after: int = 0, timeout: float = 90) -> list[Json]:
    """Wait until the schedule has `count` fires scheduled after `after` (epoch ms)."""
    return eventually(
        lambda: fires(client, schedule),
        lambda found: len([f for f in found if f["scheduledTime"] > after]) >= count,
        f"{count} fires of {schedule}",
        timeout,
    )


def started_by(client: PodiumClient, workflow: str, schedule: str) -> list[Json]:
    """Every workflow the schedule started (their correlation id is the schedule's name)."""
    found: list[Json] = client.ok(
        "GET", f"/workflow/{workflow}/correlated/{schedule}", params={"includeClosed": "true", "includeTasks": "false"}
    )
    return found


def assert_each_fire_started_one_workflow(client: PodiumClient, workflow: str, schedule: str) -> list[int]:
    """Each fire time: one EXECUTED record, one workflow, and they name each other."""
    records = fires(client, schedule)
    workflows = started_by(client, workflow, schedule)
    per_fire = Counter(w["input"]["_scheduledTime"] for w in workflows)
    doubled = {t: n for t, n in per_fire.items() if n > 1}
    assert not doubled, f"fire times that started more than one workflow: {doubled}"
    assert Counter(r["scheduledTime"] for r in records) == Counter({t: 1 for t in per_fire})
    by_id = {w["workflowId"]: w for w in workflows}
    for record in records:
        assert record["state"] == "EXECUTED", record
        assert by_id[record["workflowId"]]["input"]["_scheduledTime"] == record["scheduledTime"]
    return sorted(per_fire)


def test_the_timer_is_claimed_by_one_and_advanced_only_under_its_claim(redis_url: str) -> None:
    """The store's side of exactly once, on a Redis of the test's own: a due timer goes to
    one claimer; when the claim runs out the next claimer gets the same fire time; an
    advance whose claim was dropped (the schedule was saved meanwhile) leaves the timer
    alone but still records the fire."""

    def record(fire: int) -> Json:
        return {"executionId": f"x-{fire}", "scheduleName": "s", "scheduledTime": fire, "state": "EXECUTED"}

    async def scenario() -> None:
        store = Store(redis_url, 4)
        try:
            await store.save_schedule("s", {"name": "s"}, 1_000)
            assert await store.claim_due_schedules(999, 5_000, 10) == []
            assert await store.claim_due_schedules(1_000, 5_000, 10) == [("s", 1_000)]
            assert await store.claim_due_schedules(4_999, 9_000, 10) == [], "claimed: no one else takes it"
            assert (await store.get_schedule("s") or {})["nextRunTime"] == 1_000
            # The claim ran out: the next claimer fires the same instant, not the claim's end.
            assert await store.claim_due_schedules(5_000, 9_000, 10) == [("s", 1_000)]
            assert await store.advance_schedule("s", 1_000, 2_000, record(1_000)) is True
            assert await store.advance_schedule("s", 1_000, 3_000, record(1_000)) is False, "advanced once"
            assert (await store.get_schedule("s") or {})["nextRunTime"] == 2_000

            assert await store.claim_due_schedules(2_000, 6_000, 10) == [("s", 2_000)]
            await store.save_schedule("s", {"name": "s"}, 7_000)  # saved while being fired
            assert await store.advance_schedule("s", 2_000, 3_000, record(2_000)) is False
            assert (await store.get_schedule("s") or {})["nextRunTime"] == 7_000
            assert [r["scheduledTime"] for r in await store.schedule_runs(["s"])] == [1_000, 2_000]

            await store.save_schedule("s", {"name": "s", "paused": True}, None)
            assert await store.claim_due_schedules(10**12, 10**12 + 1, 10) == []
            assert "nextRunTime" not in (await store.get_schedule("s") or {})
            assert await store.delete_schedule("s") is True
            assert await store.get_schedule("s") is None
            assert len(await store.schedule_runs(None)) == 2, "records outlive their schedule"
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_schedule_every_second_starts_workflows_with_conductors_input(client: PodiumClient) -> None:
    workflow = register_marker(client)
    saved = save(client, workflow, description="every second")
    schedule = saved["name"]
    try:
        assert saved["nextRunTime"] > saved["createTime"] - 1000
        assert saved["zoneId"] == "UTC" and saved["paused"] is False

        found = await_fires(client, schedule, 3)
        record = found[0]
        assert record["scheduleName"] == schedule and record["workflowName"] == workflow
        started = client.wait(record["workflowId"])
        assert started["status"] == "COMPLETED"
        assert started["correlationId"] == schedule
        assert started["input"]["from"] == "test"
        assert started["input"]["_startedByScheduler"] == schedule
        assert started["input"]["_scheduledTime"] == record["scheduledTime"]
        assert started["input"]["_executionId"] == record["executionId"]
        assert started["input"]["_schedulerCron"] == f"{EVERY_SECOND} UTC"
        assert started["variables"]["firedFor"] == record["scheduledTime"]
        # Fires land on whole seconds, newest first.
        times = [f["scheduledTime"] for f in found]
        assert times == sorted(times, reverse=True) and all(t % 1000 == 0 for t in times)

        listed = client.ok("GET", "/scheduler/schedules", params={"workflowName": workflow})
        assert [s["name"] for s in listed] == [schedule]
        assert client.ok("GET", f"/scheduler/schedules/{schedule}")["description"] == "every second"
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{schedule}")


def test_pause_stops_fires_and_resume_starts_them_again(client: PodiumClient) -> None:
    workflow = register_marker(client)
    schedule = save(client, workflow)["name"]
    clock = save(client, workflow)["name"]  # keeps firing: shows time passing while paused
    try:
        await_fires(client, schedule, 2)
        client.ok("PUT", f"/scheduler/schedules/{schedule}/pause", params={"reason": "maintenance"})
        paused_at = int(time.time() * 1000)
        paused = client.ok("GET", f"/scheduler/schedules/{schedule}")
        assert paused["paused"] is True and paused["pausedReason"] == "maintenance"
        assert "nextRunTime" not in paused

        # Three more seconds go by on the other schedule; none of them fires this one.
        await_fires(client, clock, 3, after=paused_at)
        assert [f for f in fires(client, schedule) if f["scheduledTime"] > paused_at] == []

        client.ok("GET", f"/scheduler/schedules/{schedule}/resume")  # Orkes' verb works too
        resumed_at = int(time.time() * 1000)
        resumed = client.ok("GET", f"/scheduler/schedules/{schedule}")
        assert resumed["paused"] is False and "pausedReason" not in resumed
        await_fires(client, schedule, 2, after=resumed_at)
        assert_each_fire_started_one_workflow(client, workflow, schedule)
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{schedule}")
        client.ok("DELETE", f"/scheduler/schedules/{clock}")


def test_racing_runners_start_each_fire_exactly_once(podium: Runtime, client: PodiumClient) -> None:
    """The gateway's runner and two more in this process, one of which gives up its claims
    at once (as a gateway that stalls past its claim does), all fire one schedule: every fire
    time starts one workflow."""
    workflow = register_marker(client)
    schedule = save(client, workflow, runCatchupScheduleInstances=True)["name"]
    settings = podium.settings

    async def race(seconds_of_fires: int) -> None:
        store = Store(podium.redis_url, settings.partitions)
        try:
            context = GatewayContext(settings, store, ShardRouter(store, settings.namespace, settings.lease_ms))
            runners = [ScheduleRunner(context), ScheduleRunner(context, claim_ms=0)]
            first = len(fires(client, schedule))
            deadline = time.monotonic() + 90
            while len(await store.schedule_runs([schedule])) < first + seconds_of_fires:
                assert time.monotonic() < deadline, f"{seconds_of_fires} fires not reached within 90 s"
                await asyncio.gather(*(runner.tick() for runner in runners))
                await asyncio.sleep(0.05)  # the runners' own tick interval, shortened
        finally:
            await store.close()

    try:
        asyncio.run(race(8))
        client.ok("PUT", f"/scheduler/schedules/{schedule}/pause")
        fired = assert_each_fire_started_one_workflow(client, workflow, schedule)
        # Catch-up on: no fire time was skipped between the first and the last.
        assert fired == list(range(fired[0], fired[-1] + 1000, 1000))
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{schedule}")


def test_a_killed_shard_or_gateway_neither_loses_nor_doubles_a_fire(ray_cluster: None, tmp_path: Path) -> None:
    runtime = start_podium(tmp_path / "podium", "podium-sched-crash")
    try:
        with PodiumClient(runtime.api_url) as client:
            workflow = register_marker(client)
            schedule = save(client, workflow, runCatchupScheduleInstances=True)["name"]
            await_fires(client, schedule, 2)

            victim = ray.get(runtime.shards[0].stats.remote())
            os.kill(victim["pid"], signal.SIGKILL)
            killed_at = int(time.time() * 1000)
            await_fires(client, schedule, 3, after=killed_at, timeout=180)
            assert ray.get(runtime.shards[0].stats.remote())["pid"] != victim["pid"], "Ray restarted the shard"

            # The gateway fires schedules: kill it too, whatever fire it is in the middle of.
            gateway_pid = ray.get(runtime.gateway.pid.remote())
            os.kill(gateway_pid, signal.SIGKILL)
            killed_at = int(time.time() * 1000)
            assert ray.get(runtime.gateway.pid.remote()) != gateway_pid, "Ray restarted the gateway"
        # Serving again; on another port, as these tests let each gateway pick a free one.
        address = ray.get(runtime.gateway.address.remote())
        with PodiumClient(f"{address}/api") as client:
            await_fires(client, schedule, 3, after=killed_at, timeout=180)
            client.ok("PUT", f"/scheduler/schedules/{schedule}/pause")
            fired = assert_each_fire_started_one_workflow(client, workflow, schedule)
            assert fired == list(range(fired[0], fired[-1] + 1000, 1000)), "a fire time was lost"
            for started in started_by(client, workflow, schedule):
                assert client.wait(started["workflowId"], timeout=120)["status"] == "COMPLETED"
    finally:
        runtime.stop()


def test_a_fire_whose_workflow_was_removed_is_recorded_failed_and_the_schedule_goes_on(
    client: PodiumClient,
) -> None:
    workflow = register_marker(client)
    schedule = save(client, workflow)["name"]
    try:
        await_fires(client, schedule, 1)
        client.ok("DELETE", f"/metadata/workflow/{workflow}/1")
        removed_at = int(time.time() * 1000)

        def failed() -> list[Json]:
            query = {"query": f"scheduleName IN ({schedule}) AND state IN (FAILED)"}
            found: Json = client.ok("GET", "/scheduler/search/executions", params=query)
            return list(found["results"])

        records = eventually(failed, lambda found: len(found) >= 2, "two FAILED fires", 60)
        for record in records:
            assert record["workflowId"] is None and record["scheduledTime"] > removed_at - 1000
            assert workflow in record["reason"], record["reason"]
        assert client.ok("GET", f"/scheduler/schedules/{schedule}")["nextRunTime"] > records[0]["scheduledTime"]
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{schedule}")


@pytest.mark.parametrize("catch_up", [False, True])
def test_after_downtime_catch_up_decides_whether_missed_instants_fire(
    podium: Runtime, client: PodiumClient, catch_up: bool
) -> None:
    """The timer of an every-second schedule is left ten seconds behind, as after ten
    seconds with no Podium running. Without catch-up the fire that was due runs once, then
    the next instant after now; with it, every missed instant runs, in order."""
    workflow = register_marker(client)
    saved = save(client, workflow, paused=True, runCatchupScheduleInstances=catch_up)
    schedule = saved["name"]
    now = int(time.time() * 1000)
    behind = now - now % 1000 - 10_000

    async def leave_behind() -> None:
        store = Store(podium.redis_url, podium.settings.partitions)
        try:
            await store.save_schedule(schedule, {**saved, "paused": False}, behind)
        finally:
            await store.close()

    try:
        asyncio.run(leave_behind())
        found = await_fires(client, schedule, 12, after=behind - 1)
        client.ok("PUT", f"/scheduler/schedules/{schedule}/pause")
        fired = assert_each_fire_started_one_workflow(client, workflow, schedule)
        assert fired[0] == behind
        missed = [t for t in fired if behind < t <= now]
        if catch_up:
            assert missed == list(range(behind + 1000, now - now % 1000 + 1, 1000))
        else:
            assert missed == [], "missed instants fired without catch-up"
        assert len(found) >= 12
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{schedule}")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"cronExpression": "* * * * *"}, 400, "Cron expression must consist of 6 fields (found 5"),
        ({"cronExpression": "0 0 25 * * *"}, 400, "hour value 25 must be between 0 and 23"),
        ({"zoneId": "Mars/Olympus"}, 400, "Unknown time zone 'Mars/Olympus'"),
        ({"name": ""}, 400, "Schedule name is required"),
        ({"startWorkflowRequest": None}, 400, "startWorkflowRequest is required"),
        (
            {"startWorkflowRequest": {"name": "no_such_workflow_x"}},
            404,
            "No such workflow found by name: no_such_workflow_x",
        ),
        ({"startWorkflowRequest": {"name": "WORKFLOW", "version": 99}}, 404, ", version: 99"),
        ({"scheduleStartTime": 20, "scheduleEndTime": 10}, 400, "scheduleEndTime (10) is before"),
        ({"paused": "sometimes"}, 400, "paused"),
    ],
)
def test_a_schedule_podium_cannot_run_is_refused_and_not_saved(
    client: PodiumClient, body: Json, status: int, message: str
) -> None:
    workflow = register_marker(client)
    name = f"bad_{uuid.uuid4().hex[:8]}"
    request: Json = {"name": name, "cronExpression": EVERY_SECOND, "startWorkflowRequest": {"name": workflow}, **body}
    if request["startWorkflowRequest"] and request["startWorkflowRequest"]["name"] == "WORKFLOW":
        request["startWorkflowRequest"]["name"] = workflow
    response = client.request("POST", "/scheduler/schedules", json=request)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert client.request("GET", f"/scheduler/schedules/{name}").status_code == 404


def test_unknown_schedules_and_bad_queries_are_4xx_naming_the_problem(client: PodiumClient) -> None:
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    for method, path in (
        ("GET", f"/scheduler/schedules/{missing}"),
        ("PUT", f"/scheduler/schedules/{missing}/pause"),
        ("PUT", f"/scheduler/schedules/{missing}/resume"),
    ):
        response = client.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["message"] == f"Schedule '{missing}' not found"
    # As in Conductor: deleting what does not exist is no error.
    assert client.request("DELETE", f"/scheduler/schedules/{missing}").status_code == 204

    workflow = register_marker(client)
    running = save(client, workflow, cronExpression="0 0 0 1 1 *")["name"]
    try:
        # Resuming a schedule that is not paused: Conductor's answer, a 404.
        assert client.request("PUT", f"/scheduler/schedules/{running}/resume").status_code == 404
    finally:
        client.ok("DELETE", f"/scheduler/schedules/{running}")

    bad_cron = client.request("GET", "/scheduler/nextFewSchedules", params={"cronExpression": "0 0 * *"})
    assert bad_cron.status_code == 400 and "6 fields" in bad_cron.json()["message"]
    no_cron = client.request("GET", "/scheduler/nextFewSchedules")
    assert no_cron.status_code == 400 and "cronExpression" in no_cron.json()["message"]
    bad_query = client.request("GET", "/scheduler/search/executions", params={"query": "scheduledTime>soon"})
    assert bad_query.status_code == 400 and "epoch milliseconds" in bad_query.json()["message"]
    not_json = client.request("POST", "/scheduler/schedules", data=b"{not json")
    assert not_json.status_code == 400 and "Malformed JSON" in not_json.json()["message"]


def test_next_few_schedules(client: PodiumClient) -> None:
    times = client.ok("GET", "/scheduler/nextFewSchedules", params={"cronExpression": "0 * * * * *", "limit": 3})
    assert len(times) == 3
    assert all(t % 60_000 == 0 for t in times) and times == sorted(times)
    assert [b - a for a, b in itertools.pairwise(times)] == [60_000, 60_000]
    capped = client.ok("GET", "/scheduler/nextFewSchedules", params={"cronExpression": "0 * * * * *", "limit": 9})
    assert len(capped) == 5


def test_conductor_python_manages_schedules(podium: Runtime, client: PodiumClient) -> None:
    scheduler = OrkesSchedulerClient(Configuration(server_api_url=podium.api_url))
    workflow = register_marker(client)
    name = f"sdk_sched_{uuid.uuid4().hex[:8]}"
    scheduler.save_schedule(
        SaveScheduleRequest(
            name=name,
            cron_expression="0 0 9 ? * MON-FRI",
            zone_id="America/New_York",
            start_workflow_request=StartWorkflowRequest(name=workflow, input={"k": 1}),
            description="weekday mornings",
        )
    )
    try:
        found = scheduler.get_schedule(name)
        assert found is not None
        assert (found.name, found.cron_expression, found.zone_id) == (name, "0 0 9 ? * MON-FRI", "America/New_York")
        assert found.start_workflow_request.name == workflow
        assert name in [s.name for s in scheduler.get_all_schedules(workflow)]

        scheduler.pause_schedule(name, reason="holiday")
        assert scheduler.get_schedule(name).paused is True
        scheduler.resume_schedule(name)
        assert scheduler.get_schedule(name).paused is False

        times = scheduler.get_next_few_schedule_execution_times("0 0 9 ? * MON-FRI", limit=2)
        assert len(times) == 2
    finally:
        scheduler.delete_schedule(name)
    with pytest.raises(ApiException) as missing:
        scheduler.get_schedule(name)
    assert missing.value.status == 404


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["* * * * * *", "0 0 0 L * ?", "0 0 0 ? * 5#3", "UTC", "America/New_York", "Etc/GMT+5"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
SCHEDULE_FIELDS = [
    "name", "cronExpression", "zoneId", "startWorkflowRequest", "paused", "runCatchupScheduleInstances",
    "scheduleStartTime", "scheduleEndTime", "cronSchedules", "description", "createTime",
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_target(client: PodiumClient) -> str:
    name = f"fuzzed_target_{uuid.uuid4().hex[:8]}"
    client.register({"name": name, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    return name


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    replaced=st.dictionaries(st.sampled_from(SCHEDULE_FIELDS), JSON_VALUES, max_size=4),
    query=st.dictionaries(
        st.sampled_from(["cronExpression", "scheduleStartTime", "scheduleEndTime", "limit", "query", "start",
                         "size", "sort", "paused", "freeText"]),
        st.one_of(st.text(max_size=20), st.sampled_from(["99999999999999999999999", "-1", "0 0 0 31 2 ?"])),
        max_size=3,
    ),
)  # fmt: skip
def test_random_schedules_and_queries_never_get_a_5xx(
    client: PodiumClient, fuzz_target: str, replaced: Json, query: dict[str, str]
) -> None:
    workflow = fuzz_target
    body: Json = {
        "name": f"fuzz_{uuid.uuid4().hex[:8]}",
        "cronExpression": "0 0 0 1 1 *",
        "startWorkflowRequest": {"name": workflow},
        **replaced,
    }
    saved = client.request("POST", "/scheduler/schedules", json=body)
    assert saved.status_code < 500, saved.text
    if saved.status_code == 200:
        client.ok("DELETE", f"/scheduler/schedules/{saved.json()['name']}")
    else:
        assert saved.json()["message"]
    for path in ("/scheduler/nextFewSchedules", "/scheduler/search/executions", "/scheduler/schedules/search"):
        answer = client.request("GET", path, params=query)
        assert answer.status_code < 500, (path, query, answer.text)
