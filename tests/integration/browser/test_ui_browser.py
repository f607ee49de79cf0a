"""The web UI in a real browser (Debian's chromium through Playwright) against the
session Podium: search, the execution page, actions, the workbench and the definition
and queue pages. Every wait is on page state (Playwright's auto-waiting `expect`), and
each test leaves screenshots of what it saw in docs/ui/.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.integration.browser.conftest import screenshot
from tests.integration.client import PodiumClient

pytestmark = pytest.mark.integration
Json = dict[str, Any]


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


def node(page: Page, ref: str) -> Any:
    return page.locator(f".graph-node[data-ref='{ref}']")


def orders_workflow(name: str, uid: str) -> Json:
    """A worker task, a fork of two inline branches, its join and a second worker task."""
    return {
        "name": name,
        "version": 1,
        "inputParameters": ["orderId"],
        "tasks": [
            {
                "name": f"pick_{uid}",
                "taskReferenceName": "pick",
                "type": "SIMPLE",
                "inputParameters": {"order": "${workflow.input.orderId}"},
            },
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [
                    [{"name": "notify", "taskReferenceName": "notify", "type": "NOOP"}],
                    [
                        {
                            "name": "price",
                            "taskReferenceName": "price",
                            "type": "INLINE",
                            "inputParameters": {"evaluatorType": "graaljs", "expression": "3 * 7"},
                        }
                    ],
                ],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["notify", "price"]},
            {"name": f"pack_{uid}", "taskReferenceName": "pack", "type": "SIMPLE"},
        ],
    }


def test_find_an_execution_by_correlation_id_see_its_graph_and_read_a_task_output(
    page: Page, client: PodiumClient, uid: str
) -> None:
    name = f"ui_orders_{uid}"
    client.register(orders_workflow(name, uid))
    workflow_id = client.start(name, {"orderId": uid}, correlationId=f"order-{uid}")
    client.complete(client.take(f"pick_{uid}"), {"picked": ["socks", "shoes"], "bin": "B-17"})
    client.wait(workflow_id, {"RUNNING"})

    page.goto("/executions")
    page.get_by_label("Correlation id").fill(f"order-{uid}")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name="executions")
    expect(results.get_by_role("row")).to_have_count(2)  # the header and the one match
    expect(page.get_by_test_id("total-hits")).to_have_text("1–1 of 1")  # noqa: RUF001 (the page's own text)
    screenshot(page, "executions")

    results.get_by_role("link", name=workflow_id).click()
    expect(page).to_have_url(re.compile(f"/execution/{workflow_id}$"))
    expect(node(page, "pick")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "notify")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "price")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "join")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "pack")).to_have_attribute("data-status", re.compile("SCHEDULED|IN_PROGRESS"))
    screenshot(page, "execution")

    node(page, "pick").click()
    panel = page.get_by_role("complementary", name="task panel")
    expect(panel.get_by_role("heading", name="pick")).to_be_visible()
    panel.get_by_role("tab", name="Output").click()
    expect(panel.get_by_test_id("json-task-output")).to_contain_text('"bin": "B-17"')
    expect(panel.get_by_test_id("json-task-output")).to_contain_text('"socks"')
    screenshot(page, "execution-task")

    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_role("img", name="task timeline").locator("[data-task-id]")).to_have_count(
        len(client.workflow(workflow_id)["tasks"])
    )
    screenshot(page, "execution-timeline")

    # Live refresh: the page follows the execution to its end without a reload.
    client.complete(client.take(f"pack_{uid}"), {"parcel": 1})
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("COMPLETED")


def test_retry_a_failed_workflow_from_the_ui_and_see_it_complete(page: Page, client: PodiumClient, uid: str) -> None:
    task_type = f"flaky_{uid}"
    name = f"ui_retry_{uid}"
    client.register(
        {"name": name, "version": 1, "tasks": [{"name": task_type, "taskReferenceName": "charge", "type": "SIMPLE"}]},
        [{"name": task_type, "retryCount": 0, "timeoutSeconds": 0, "responseTimeoutSeconds": 600}],
    )
    workflow_id = client.start(name, {})
    client.complete(client.take(task_type), {"error": "card declined"}, status="FAILED")
    client.wait(workflow_id, {"FAILED"})

    page.goto(f"/execution/{workflow_id}")
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("FAILED")
    expect(node(page, "charge")).to_have_attribute("data-status", "FAILED")
    screenshot(page, "execution-failed")

    page.get_by_role("button", name="Retry", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Retry the failed tasks of {workflow_id}?")
    dialog.get_by_role("button", name="Retry").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("RUNNING")

    client.complete(client.take(task_type), {"charged": True})
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("COMPLETED")
    expect(node(page, "charge")).to_have_attribute("data-status", "COMPLETED")
    expect(node(page, "charge")).to_contain_text("×2")  # noqa: RUF001 (the failed attempt and its retry)
    screenshot(page, "execution-retried")


def test_a_refused_action_shows_the_servers_message(page: Page, client: PodiumClient, uid: str) -> None:
    name = f"ui_refused_{uid}"
    client.register(
        {
            "name": name,
            "version": 1,
            "tasks": [{"name": f"never_{uid}", "taskReferenceName": "wait_here", "type": "SIMPLE"}],
        }
    )
    workflow_id = client.start(name, {})
    page.goto(f"/execution/{workflow_id}")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    # Freeze the page's view, then end the workflow behind its back: Pause is now refused.
    page.get_by_label("Live refresh (2 s)").uncheck()
    client.ok("DELETE", f"/workflow/{workflow_id}", params={"reason": "ended elsewhere"})

    page.get_by_role("button", name="Pause").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Pause").click()
    expect(dialog.get_by_role("alert")).to_contain_text(workflow_id)
    expect(dialog.get_by_role("alert")).to_contain_text("TERMINATED")
    screenshot(page, "execution-refused")
    dialog.get_by_role("button", name="Cancel").click()
    assert client.workflow(workflow_id)["status"] == "TERMINATED"


def test_create_a_workflow_in_the_editor_see_a_validation_error_fix_it_save_and_run_it(
    page: Page, client: PodiumClient, uid: str
) -> None:
    name = f"ui_greeter_{uid}"
    greet: Json = {
        "name": "greet",
        "taskReferenceName": "greet",
        "type": "JSON_JQ_TRANSFORM",
        "inputParameters": {"who": "${workflow.input.who}"},
    }
    definition: Json = {
        "name": name,
        "version": 1,
        "inputParameters": ["who"],
        "tasks": [greet],
        "outputParameters": {"greeting": "${greet.output.result}"},
    }
    page.goto("/workbench")
    editor = page.get_by_test_id("json-editor").locator(".cm-content")
    editor.fill(json.dumps(definition))

    validation = page.get_by_label("validation")
    expect(validation).to_contain_text("task 'greet' (JSON_JQ_TRANSFORM): inputParameters.queryExpression is missing")
    expect(node(page, "greet")).to_have_class(re.compile("invalid"))
    expect(node(page, "greet")).to_contain_text("queryExpression is missing")
    expect(page.get_by_role("button", name="Save as new version")).to_be_disabled()
    screenshot(page, "workbench-invalid")

    greet["inputParameters"]["queryExpression"] = '"Hello " + .who'
    editor.fill(json.dumps(definition))
    expect(validation).to_have_text("Valid.")
    expect(node(page, "greet")).not_to_have_class(re.compile("invalid"))
    # The palette appends a task; the graph is redrawn with it.
    page.get_by_label("palette").get_by_role("button", name="NOOP", exact=True).click()
    expect(node(page, "noop_1")).to_be_visible()
    expect(validation).to_have_text("Valid.")
    screenshot(page, "workbench")

    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved {name} version 1")
    stored = client.ok("GET", f"/metadata/workflow/{name}", params={"version": 1})
    assert [t["taskReferenceName"] for t in stored["tasks"]] == ["greet", "noop_1"]

    run = page.get_by_role("form", name="run")
    run.get_by_label("who").fill("Ada")
    run.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile("/execution/[^/]+$"))
    expect(page.get_by_role("heading", level=1).locator(".status")).to_have_text("COMPLETED")
    workflow_id = page.get_by_test_id("workflow-id").inner_text()
    assert client.workflow(workflow_id)["output"] == {"greeting": "Hello Ada"}

    # Saving again makes version 2, never overwriting version 1.
    page.goto(f"/workbench?name={name}&version=1")
    expect(validation).to_have_text("Valid.")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved {name} version 2")


def test_definition_handler_and_queue_pages_show_what_is_stored(page: Page, client: PodiumClient, uid: str) -> None:
    task_type = f"ui_resize_{uid}"
    name = f"ui_images_{uid}"
    client.register(
        orders_workflow(name, uid) | {"description": "Resize images"},
        [
            {
                "name": task_type,
                "description": "Resizes one image",
                "retryCount": 2,
                "timeoutSeconds": 60,
                "responseTimeoutSeconds": 30,
            }
        ],
    )
    handler = f"ui_on_upload_{uid}"
    client.ok(
        "POST",
        "/event",
        json={
            "name": handler,
            "event": f"conductor:uploads_{uid}",
            "active": True,
            "actions": [{"action": "start_workflow", "start_workflow": {"name": name, "input": {"orderId": "${id}"}}}],
        },
    )
    client.poll(task_type, count=1, workerid=f"worker-{uid}")

    page.goto("/workflowDefs")
    page.get_by_role("table", name="workflow definitions").get_by_role("link", name=name, exact=True).click()
    expect(page).to_have_url(re.compile(f"/workflowDef/{name}/1$"))
    expect(node(page, "fork")).to_be_visible()
    expect(node(page, "join")).to_be_visible()
    screenshot(page, "workflow-def")
    page.get_by_role("tab", name="JSON").click()
    expect(page.get_by_test_id("json-workflow-definition")).to_contain_text('"description": "Resize images"')
    page.goto("/workflowDefs")
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    screenshot(page, "workflow-defs")

    page.goto("/taskDefs")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=task_type, exact=True))
    expect(row).to_contain_text("Resizes one image")
    screenshot(page, "task-defs")
    row.get_by_role("link", name=task_type, exact=True).click()
    expect(page.get_by_test_id("json-task-definition")).to_contain_text('"responseTimeoutSeconds": 30')
    screenshot(page, "task-def")

    page.goto("/eventHandlerDefs")
    page.get_by_role("button", name=handler).click()
    expect(page.get_by_test_id("json-event-handler")).to_contain_text(f"conductor:uploads_{uid}")
    screenshot(page, "event-handlers")

    page.goto(f"/taskQueue/{task_type}")
    expect(page.get_by_role("table", name="pollers")).to_contain_text(f"worker-{uid}")
    expect(page.get_by_test_id("queue-size")).to_contain_text("0")
    screenshot(page, "task-queue")


def test_search_pages_through_executions_on_the_server(page: Page, client: PodiumClient, uid: str) -> None:
    name = f"ui_many_{uid}"
    client.register({"name": name, "version": 1, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    for i in range(30):
        client.start(name, {"i": i})

    page.goto(f"/executions?workflowType={name}")
    expect(page.get_by_test_id("total-hits")).to_have_text("1–25 of 30")  # noqa: RUF001 (the page's own text)
    expect(page.get_by_role("table", name="executions").get_by_role("row")).to_have_count(26)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_test_id("total-hits")).to_have_text("26–30 of 30")  # noqa: RUF001 (the page's own text)
    expect(page.get_by_role("table", name="executions").get_by_role("row")).to_have_count(6)
    expect(page).to_have_url(re.compile("start=25"))


def test_every_conductor_ui_route_serves_the_app(page: Page, client: PodiumClient) -> None:
    for path in ("/", "/executions", "/workflowDefs", "/taskDefs", "/eventHandlerDefs", "/taskQueue", "/workbench"):
        page.goto(path)
        expect(page.get_by_role("navigation").get_by_text("Podium")).to_be_visible()
    expect(page.get_by_role("link", name="OpenAPI")).to_have_attribute("href", "/api-docs")
