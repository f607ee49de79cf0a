"""Every workflow definition from Conductor's own test suites, registered over HTTP.

`POST /api/metadata/workflow` must accept each definition (Conductor accepted them all,
including those with task types Podium does not run itself, which
`/api/metadata/workflow/validate` names in a warning) and give it back on GET.

Files in the corpus hold a definition, a list of them, a start request carrying one as
`workflowDef` (the kitchen-sink ephemeral workflows), task definitions, or something
else entirely (schemas, event handlers, inputs, one empty file); only definitions are
registered, under a unique name each, so the session's other tests never see them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from actors.workflow.operators.base import implemented_task_types
from definitions.models import TaskDef, WorkflowDef
from tests.conductor_corpus import CORPUS, load_task_defs, load_workflow_defs, task_types
from tests.integration.client import PodiumClient

Json = dict[str, Any]
# Fields the server stamps on what it stores.
SERVER_STAMPS = ("createTime", "updateTime")


WORKFLOW_DEFS = load_workflow_defs()
TASK_DEFS = load_task_defs()


def unsupported_types(definition: Json) -> set[str]:
    return task_types(definition) - implemented_task_types()


def unique(definition: Json) -> Json:
    renamed = copy.deepcopy(definition)
    renamed["name"] = f"{definition['name']}__corpus_{uuid.uuid4().hex[:10]}"
    return renamed


def without_stamps(stored: Json) -> Json:
    return {key: value for key, value in stored.items() if key not in SERVER_STAMPS}


def assert_holds(given: Any, stored: Any, where: str) -> None:
    """Everything the author wrote comes back unchanged (nulls may be left out)."""
    if isinstance(given, dict):
        assert isinstance(stored, dict), f"{where}: expected an object, got {stored!r}"
        for key, value in given.items():
            if value is not None:
                assert key in stored, f"{where}.{key} is missing"
                assert_holds(value, stored[key], f"{where}.{key}")
    elif isinstance(given, list):
        assert isinstance(stored, list) and len(stored) == len(given), f"{where}: {stored!r} != {given!r}"
        for index, (item, kept) in enumerate(zip(given, stored, strict=True)):
            assert_holds(item, kept, f"{where}[{index}]")
    else:
        assert stored == given, f"{where}: {stored!r} != {given!r}"


def test_the_corpus_has_what_these_tests_expect() -> None:
    """Guards the parametrisation: an empty or misplaced corpus must fail, not pass."""
    assert CORPUS.is_dir(), f"no Conductor corpus at {CORPUS} (set PODIUM_SHARED_DIR)"
    assert len(WORKFLOW_DEFS) >= 100
    assert len({key for key, _ in WORKFLOW_DEFS}) == len(WORKFLOW_DEFS), "file::name:version must be unique"
    assert any(key.startswith("kitchensink/kitchenSink-ephemeral") for key, _ in WORKFLOW_DEFS)
    assert any(unsupported_types(d) for _, d in WORKFLOW_DEFS), "expected some definitions Podium cannot run yet"
    assert any(not unsupported_types(d) for _, d in WORKFLOW_DEFS)
    assert TASK_DEFS, "expected the task definitions of e2e/tasks_data.json"


@pytest.mark.parametrize("task_def", [d for _, d in TASK_DEFS], ids=[k for k, _ in TASK_DEFS])
def test_task_definition_registers(client: PodiumClient, task_def: Json) -> None:
    renamed = unique(task_def)
    client.ok("POST", "/metadata/taskdefs", json=[renamed])
    stored = client.ok("GET", f"/metadata/taskdefs/{renamed['name']}")
    assert_holds(without_stamps(renamed), stored, renamed["name"])
    assert TaskDef.model_validate(stored) == TaskDef.model_validate(renamed).model_copy(
        update={"create_time": stored.get("createTime")}
    )


@pytest.mark.parametrize("definition", [d for _, d in WORKFLOW_DEFS], ids=[k for k, _ in WORKFLOW_DEFS])
def test_workflow_definition_registers(client: PodiumClient, definition: Json) -> None:
    renamed = unique(definition)
    name, version = renamed["name"], renamed.get("version", 1)
    response = client.request("POST", "/metadata/workflow", json=renamed)

    assert response.status_code == 200, response.text
    stored = client.ok("GET", f"/metadata/workflow/{name}", params={"version": version})
    assert stored["name"] == name
    assert stored["version"] == version
    assert_holds(without_stamps(renamed), stored, name)
    expected = WorkflowDef.model_validate(without_stamps(renamed)).to_wire()
    assert without_stamps(stored) == expected
    assert client.ok("GET", f"/metadata/workflow/{name}")["version"] == version

    # A type Podium does not run registers, as in Conductor, and validation warns about it.
    warnings = client.ok("POST", "/metadata/workflow/validate", json=renamed).get("warnings", [])
    for task_type in sorted(unsupported_types(definition)):
        assert any(f"unknown type '{task_type}'" in warning for warning in warnings), (task_type, warnings)


def test_a_bulk_update_with_one_refused_definition_writes_none(client: PodiumClient) -> None:
    accepted = next(unique(d) for _, d in WORKFLOW_DEFS if not unsupported_types(d))
    refused = unique(accepted)
    # Conductor refuses a reference name used twice (TaskReferenceNameUniqueConstraint).
    refused["tasks"] = [*refused["tasks"], copy.deepcopy(refused["tasks"][0])]
    response = client.request("PUT", "/metadata/workflow", json=[accepted, refused])
    assert response.status_code == 400, response.text
    for definition in (accepted, refused):
        assert client.request("GET", f"/metadata/workflow/{definition['name']}").status_code == 404

    client.ok("PUT", "/metadata/workflow", json=[accepted])
    assert client.ok("GET", f"/metadata/workflow/{accepted['name']}")["name"] == accepted["name"]


def test_registering_the_same_name_again_overwrites_only_when_asked(client: PodiumClient) -> None:
    definition = unique(next(d for _, d in WORKFLOW_DEFS if not unsupported_types(d)))
    client.ok("POST", "/metadata/workflow", json=definition)
    first = client.ok("GET", f"/metadata/workflow/{definition['name']}")
    changed = {**definition, "description": "registered again"}
    refused = client.request("POST", "/metadata/workflow", json=changed)
    assert refused.status_code == 409, refused.text
    version = definition.get("version", 1)
    assert refused.json()["message"] == f"Workflow with {definition['name']}.{version} already exists!"
    assert client.ok("GET", f"/metadata/workflow/{definition['name']}").get("description") == first.get("description")
    client.ok("POST", "/metadata/workflow", json=changed, params={"overwrite": "true"})
    second = client.ok("GET", f"/metadata/workflow/{definition['name']}")
    assert second["description"] == "registered again"
    assert second["createTime"] == first["createTime"]
    assert second["tasks"] == first["tasks"]
