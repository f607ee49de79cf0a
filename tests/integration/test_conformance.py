"""Conformance: every workflow definition of Conductor's corpus, run to a terminal state.

For each definition in ../shared/conductor (workflows/, e2e/, kitchensink/) the test
registers the definition together with the task definitions and the workflows it names
(SUB_WORKFLOW, failureWorkflow, a dynamic fork's forkTaskWorkflow, workflow names given
in its start input), starts it with the input its spec uses (conformance_expectations.INPUTS),
and drives every run at once with stub workers until each is terminal or DRIVE_SECONDS
pass (a run still going then "did not finish"). A file that is a start request carrying
its definition (the kitchen sink's ephemeral workflows) is started as one. It then
compares each run's state with the one the Groovy spec of that file expects for this
scenario (conformance_expectations.EXPECTED, COMPLETED by default).

Names. Each definition gets a copy of itself and of the workflows it names, renamed
`<name>__conf_<run>_<n>` so that copies of equal names in different files never meet;
worker task names get `_<run>`. Names built inside scripts (an INLINE that returns
dynamic fork tasks) cannot be renamed and keep their corpus names.

The stub scenario, the same for every definition:

- Worker tasks. Each round the loop polls, in batches, every worker task type the
  registered definitions name and every other type it sees SCHEDULED in a tracked
  workflow (DYNAMIC and dynamically forked tasks), and completes each task with
  `stub_output`: `{"done": true, "result": "a"}` plus a one-task dynamic fork
  (`dynamicTasks`, and its input as `dynamicTasksInput` and `inputs`, the names the
  corpus reads a worker's fork from). `result: "a"` is what ends the loop of
  do_while_wait_switch_iteration_test (its SWITCH on the WAIT's `result`).
- Tasks that wait for an update: a WAIT or HUMAN without `duration` / `until`, and an
  asyncComplete HTTP task once its response is in, are completed through
  `POST /api/tasks` with the same output. Timed WAITs run out by themselves.
- HTTP tasks that call the services Conductor's tests rely on (STAND_INS) go to a local
  server that answers those paths with 200 and anything else with 404, as the real
  services do; other URLs are left alone (the corpus uses them to fail).
- TaskDefs: every worker task name gets one with retryCount 0, or the corpus's own
  (e2e/tasks_data.json, e2e/cpewf_task_id_dyn_fork_task_def.json), renamed likewise.

Definitions using a task type Podium does not run are listed by type, not run (they
register, as in Conductor, but nothing would ever work on that type). A definition
naming a workflow the corpus does not hold is listed as needing it. The test prints a
summary (`pytest -s`), writes it to a file, and fails for any run that did not reach
its expected state, except those in KNOWN_DIFFERENCES (and then also when such a run
now does reach it, so the list stays honest).

Where a spec states more than the terminal state (conformance_expectations.DETAILS:
the task sequence, the branch a SWITCH took, a DO_WHILE's iteration count, the workflow
output), the run must show exactly that too; a mismatch fails with a diff. What every
run showed is written beside the summary (conformance_observed.json).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from actors.workflow.operators.base import implemented_task_types
from tests.conductor_corpus import corpus_items, is_task_def, is_workflow_def, load_workflow_defs, task_types
from tests.integration import conformance_expectations as spec
from tests.integration.client import TERMINAL, PodiumClient

Json = dict[str, Any]

DRIVE_SECONDS = 75.0  # the longest timer in the corpus is a 30 s WAIT
ROUND_PAUSE_SECONDS = 0.1
POLL_BATCH = 50
THREADS = 8
# Task types Podium runs itself; everything else is a worker's.
SYSTEM_TYPES = frozenset(
    {
        "DECISION", "SWITCH", "FORK", "FORK_JOIN", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN", "DO_WHILE",
        "SUB_WORKFLOW", "START_WORKFLOW", "SET_VARIABLE", "INLINE", "LAMBDA", "JSON_JQ_TRANSFORM", "TERMINATE",
        "NOOP", "WAIT", "HUMAN", "HTTP", "EVENT", "USER_TASK", "BLOCKING_SYSTEM_TASK",
    }
)  # fmt: skip
UNKNOWN_TYPE = re.compile(r"unknown type '([^']+)'")
FAILED_TASK_PREFIX = re.compile(r"^Task \S+ failed with status: \w+ and reason: ")

# Hosts the corpus calls as working services, and the paths on them that answer 200.
STAND_INS: dict[str, set[str]] = {
    "orkes-api-tester.orkesconductor.com": {"/api", "/get"},
    "localhost:9200": {"/conductor/_search"},
    "httpbin-server:8081": {"/api/hello"},
    "datausa.io": {"/api/data"},
}
STUB_DYNAMIC_TASK = "conformance_forked"


# -- the local stand-in for outside HTTP services -------------------------------------------


class _StandInHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        _, host, path = [*self.path.split("?", 1)[0].split("/", 2), "", ""][:3]
        found = f"/{path}" in STAND_INS.get(host, set())
        body = json.dumps({"stub": True, "host": host, "path": f"/{path}"} if found else {"error": "not found"})
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandInHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# -- the corpus, renamed per run ------------------------------------------------------------


@dataclass
class Entry:
    index: int
    key: str
    relative: str
    definition: Json
    start_request: Json | None = None  # the corpus file is a start request carrying the definition


def corpus_entries() -> list[Entry]:
    requests = {
        relative: item
        for relative, item in corpus_items()
        if isinstance(item, dict) and is_workflow_def(item.get("workflowDef"))
    }
    entries = []
    for index, (key, definition) in enumerate(load_workflow_defs()):
        relative = key.split("::", 1)[0]
        entries.append(Entry(index, key, relative, definition, requests.get(relative)))
    return entries


def corpus_task_defs() -> dict[str, Json]:
    return {item["name"]: item for _, item in corpus_items() if is_task_def(item)}


ENTRIES = corpus_entries()
TASK_DEFS = corpus_task_defs()


def _literal(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "${" not in value


@dataclass
class Renamer:
    """Renames one run's definitions: workflows `<name>__conf_<run>_<n>`, worker tasks `<name>_<run>`."""

    run: str
    index: int
    stand_in_url: str
    workflows_named: set[str] = field(default_factory=set)
    tasks_named: set[str] = field(default_factory=set)

    def workflow(self, name: str, referenced: bool = True) -> str:
        if referenced:
            self.workflows_named.add(name)
        return f"{name}__conf_{self.run}_{self.index}"

    def task(self, name: str) -> str:
        self.tasks_named.add(name)
        return task_name(name, self.run)

    def definition(self, definition: Json) -> Json:
        renamed = copy.deepcopy(definition)
        renamed["name"] = self.workflow(renamed["name"], referenced=False)
        if _literal(renamed.get("failureWorkflow")) and not renamed["failureWorkflow"].startswith("$"):
            renamed["failureWorkflow"] = self.workflow(renamed["failureWorkflow"])
        self.tasks(renamed["tasks"])
        return renamed

    def tasks(self, tasks: list[Json]) -> None:
        for task in tasks:
            kind = task.get("type") or "SIMPLE"
            params = task.get("inputParameters") or {}
            if kind == "SIMPLE":
                task["name"] = self.task(task["name"])
                if isinstance(task.get("taskDefinition"), dict):
                    task["taskDefinition"]["name"] = task["name"]
            elif kind == "DYNAMIC":
                param = task.get("dynamicTaskNameParam") or "taskToExecute"
                if _literal(params.get(param)):
                    params[param] = self.task(params[param])
            elif kind == "FORK_JOIN_DYNAMIC":
                if _literal(params.get("forkTaskWorkflow")):
                    params["forkTaskWorkflow"] = self.workflow(params["forkTaskWorkflow"])
                elif _literal(params.get("forkTaskName")) and params.get("forkTaskType") in (None, "SIMPLE"):
                    params["forkTaskName"] = self.task(params["forkTaskName"])
            elif kind == "SUB_WORKFLOW":
                param = task.get("subWorkflowParam") or {}
                inline = param.get("workflowDefinition")
                if isinstance(inline, dict):
                    inline["name"] = param["name"] = self.workflow(inline["name"], referenced=False)
                    self.tasks(inline.get("tasks") or [])
                elif _literal(param.get("name")):
                    param["name"] = self.workflow(param["name"])
            elif kind == "HTTP":
                nested = params.get("http_request")
                request: Json = nested if isinstance(nested, dict) else params
                if "uri" in request:
                    request["uri"] = self.http_uri(request["uri"])
            for branch in (task.get("decisionCases") or {}).values():
                self.tasks(branch)
            self.tasks(task.get("defaultCase") or [])
            for branch in task.get("forkTasks") or []:
                self.tasks(branch)
            self.tasks(task.get("loopOver") or [])

    def http_uri(self, uri: Any) -> Any:
        if not _literal(uri):
            return uri
        parts = urlsplit(uri)
        if parts.netloc not in STAND_INS:
            return uri
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.stand_in_url}/{parts.netloc}{parts.path}{query}"

    def value(self, value: Any) -> Any:
        """A start input with its WF / TASK markers renamed."""
        if isinstance(value, spec.WF):
            return self.workflow(str(value))
        if isinstance(value, spec.TASK):
            return self.task(str(value))
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def task_name(name: str, run: str) -> str:
    return f"{name}_{run}"


def resolve(name: str, relative: str) -> list[tuple[str, Json]]:
    """The corpus definitions a reference to `name` from `relative` means: those of the same
    file, else of a file named after it, else of the same folder, else anywhere; every
    version found in the first file that has one."""
    found = [(entry.relative, entry.definition) for entry in ENTRIES if entry.definition["name"] == name]
    folder = relative.split("/", 1)[0]
    for prefer in (
        lambda path: path == relative,
        lambda path: Path(path).stem == name,
        lambda path: path.split("/", 1)[0] == folder,
        lambda path: True,
    ):
        chosen = [(path, definition) for path, definition in found if prefer(path)]
        if chosen:
            first = chosen[0][0]
            return [(path, definition) for path, definition in chosen if path == first]
    return []


@dataclass
class Plan:
    entry: Entry
    name: str
    version: int
    workflow_input: Json
    main: Json
    others: list[Json]  # the workflows it names, renamed, each version once
    needs: list[str]
    worker_tasks: set[str]


def plan(entry: Entry, run: str, stand_in_url: str) -> Plan:
    renamer = Renamer(run, entry.index, stand_in_url)
    main = renamer.definition(entry.definition)
    workflow_input = renamer.value(spec.INPUTS.get(entry.key, {}))
    others: dict[tuple[str, int], Json] = {}
    needs: list[str] = []
    done: set[str] = set()
    while pending := sorted(renamer.workflows_named - done):
        for name in pending:
            done.add(name)
            if name == entry.definition["name"]:
                continue  # the definition names itself (hierarchical_fork_join_swf)
            resolved = resolve(name, entry.relative)
            if not resolved:
                needs.append(name)
            for _, definition in resolved:
                renamed = renamer.definition(definition)
                others[(renamed["name"], renamed.get("version", 1))] = renamed
    return Plan(
        entry=entry,
        name=main["name"],
        version=main.get("version", 1),
        workflow_input=workflow_input,
        main=main,
        others=list(others.values()),
        needs=needs,
        worker_tasks=renamer.tasks_named,
    )


def task_def_for(name: str, run: str) -> Json:
    if name in TASK_DEFS:
        return {**copy.deepcopy(TASK_DEFS[name]), "name": task_name(name, run)}
    return {"name": task_name(name, run), "retryCount": 0, "ownerEmail": "conformance@podium.test"}


# -- the stub workers ---------------------------------------------------------------------


def stub_output(task: Json, forked_task: str) -> Json:
    """The one output of every stub completion; `forked_task` is the worker task type a
    dynamic fork reading this output forks into (one task, its reference unique per task)."""
    reference = "conformance_fork_" + task["taskId"].replace("-", "")[:12]
    return {
        "done": True,
        "result": "a",
        "dynamicTasks": [{"name": forked_task, "taskReferenceName": reference, "type": "SIMPLE"}],
        "dynamicTasksInput": {reference: {}},
        "inputs": {reference: {}},
    }


def waits_for_update(task: Json) -> bool:
    """A task that ends only through an outside update, and is ready for it."""
    if task.get("status") != "IN_PROGRESS":
        return False
    kind, inputs = task.get("taskType"), task.get("inputData") or {}
    if kind == "WAIT":
        return not inputs.get("duration") and not inputs.get("until")
    if kind == "HUMAN":
        return True
    # An asyncComplete HTTP task that has its response; a plain one ends when it has it.
    return kind == "HTTP" and "response" in (task.get("outputData") or {})


class Driver:
    """One loop for every run: polls worker tasks in batches and completes what waits."""

    def __init__(self, api_url: str, roots: dict[str, str], worker_types: set[str], forked_task: str) -> None:
        self.api_url = api_url
        self.forked_task = forked_task
        self.roots = roots  # workflow id -> corpus key
        self.tracked: set[str] = set(roots)
        self.finished: dict[str, Json] = {}
        self.worker_types = set(worker_types)
        self.completed_by_api: set[str] = set()
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(THREADS)

    def client(self) -> PodiumClient:
        if not hasattr(self.local, "client"):
            self.local.client = PodiumClient(self.api_url)
        client: PodiumClient = self.local.client
        return client

    def run(self, deadline: float) -> dict[str, Json]:
        """Drive until every root is terminal or the deadline; answers the last view of each root."""
        last: dict[str, Json] = {}
        while True:
            active = sorted(self.tracked - set(self.finished))
            for workflow_id, workflow in zip(active, self.pool.map(self.fetch, active), strict=True):
                if workflow is None:
                    continue  # a child that does not exist yet
                last[workflow_id] = workflow
                if workflow["status"] in TERMINAL:
                    self.finished[workflow_id] = workflow
                self.look_at(workflow)
            if all(root in self.finished for root in self.roots) or time.monotonic() > deadline:
                return {root: last.get(root, {"status": "NOT_FOUND"}) for root in self.roots}
            list(self.pool.map(self.work, sorted(self.worker_types)))
            time.sleep(ROUND_PAUSE_SECONDS)

    def fetch(self, workflow_id: str) -> Json | None:
        response = self.client().request("GET", f"/workflow/{workflow_id}")
        return dict(response.json()) if response.status_code == 200 else None

    def look_at(self, workflow: Json) -> None:
        for task in workflow.get("tasks") or []:
            kind = task.get("taskType")
            if task.get("status") == "SCHEDULED" and kind not in SYSTEM_TYPES:
                self.worker_types.add(kind)
            if kind == "SUB_WORKFLOW" and task.get("subWorkflowId"):
                self.tracked.add(task["subWorkflowId"])
            if kind == "START_WORKFLOW" and (task.get("outputData") or {}).get("workflowId"):
                self.tracked.add(task["outputData"]["workflowId"])
            if waits_for_update(task) and task["taskId"] not in self.completed_by_api:
                self.completed_by_api.add(task["taskId"])
                self.pool.submit(self.complete_waiting, task)

    def work(self, task_type: str) -> None:
        for task in self.client().poll(task_type, POLL_BATCH, timeout=0, workerid="conformance-stub"):
            self.complete(task)

    def complete_waiting(self, task: Json) -> None:
        if not self.complete(task):
            self.completed_by_api.discard(task["taskId"])  # seen again next round, tried again

    def complete(self, task: Json) -> bool:
        response = self.client().request(
            "POST",
            "/tasks",
            json={
                "workflowInstanceId": task["workflowInstanceId"],
                "taskId": task["taskId"],
                "status": "COMPLETED",
                "outputData": stub_output(task, self.forked_task),
                "workerId": "conformance-stub",
            },
        )
        return response.status_code < 300

    def close(self) -> None:
        """Terminate what still runs (a run past the deadline, a child left waiting)."""
        for workflow_id in sorted(self.tracked - set(self.finished)):
            self.client().request("DELETE", f"/workflow/{workflow_id}", params={"reason": "conformance run over"})
        self.pool.shutdown(wait=True)


# -- the summary --------------------------------------------------------------------------


@dataclass
class Outcome:
    key: str
    expected: str
    actual: str
    reason: str = ""
    seconds: float = 0.0

    @property
    def reached(self) -> bool:
        return self.actual == self.expected


def summary_text(
    outcomes: list[Outcome],
    unsupported: dict[str, list[str]],
    needs: dict[str, list[str]],
    refused: dict[str, str],
) -> str:
    reached = [o for o in outcomes if o.reached]
    missed = [o for o in outcomes if not o.reached]
    lines = [
        f"Conductor corpus conformance: {len(ENTRIES)} workflow definitions",
        f"ran: {len(outcomes)}",
        f"reached the expected state: {len(reached)}",
        f"did not: {len(missed)}",
    ]
    if outcomes:
        slowest = max(outcomes, key=lambda o: o.seconds)
        lines.insert(2, f"longest run: {slowest.key}, {slowest.seconds:.1f} s")
    for outcome in missed:
        known = " [known difference]" if outcome.key in spec.KNOWN_DIFFERENCES else ""
        reason = f" ({outcome.reason})" if outcome.reason else ""
        lines.append(f"  - {outcome.key}: {outcome.actual}, expected {outcome.expected}{known}{reason}")
    other = [o for o in reached if o.actual != "COMPLETED"]
    if other:
        lines.append(f"reached, as expected, a state other than COMPLETED ({len(other)}):")
        lines.extend(f"  - {o.key}: {o.actual} ({o.reason})" for o in other)
    lines.append(f"unsupported task types ({sum(len(v) for v in unsupported.values())} definitions):")
    lines.extend(f"  - {kind}: {', '.join(sorted(keys))}" for kind, keys in sorted(unsupported.items()))
    if needs:
        lines.append(f"not run, naming workflows the corpus does not hold ({len(needs)}):")
        lines.extend(f"  - {key}: needs {', '.join(names)}" for key, names in sorted(needs.items()))
    if refused:
        lines.append(f"refused for another reason ({len(refused)}):")
        lines.extend(f"  - {key}: {message}" for key, message in sorted(refused.items()))
    return "\n".join(lines) + "\n"


# -- the test -----------------------------------------------------------------------------


def register_all(client: PodiumClient, plans: list[Plan]) -> tuple[list[Plan], dict[str, list[str]], dict[str, str]]:
    """Registers each plan's workflows; answers the plans that can start, the unsupported
    types by definition, and the definitions refused for anything else."""
    ready: list[Plan] = []
    unsupported: dict[str, list[str]] = {}
    refused: dict[str, str] = {}
    for item in plans:
        to_register = item.others + ([] if item.entry.start_request is not None else [item.main])
        # Conductor, and so Podium, registers any task type; one Podium does not run
        # would only wait for a worker that never comes, so such a definition is listed.
        kinds = sorted(set().union(*(task_types(d) for d in [item.main, *item.others])) - implemented_task_types())
        if kinds:
            unsupported[item.entry.key] = kinds
            continue
        problem = ""
        for definition in to_register:
            response = client.request("POST", "/metadata/workflow", json=definition, params={"overwrite": "true"})
            if response.status_code != 200:
                problem = response.json().get("message", response.text) if response.content else response.text
                break
        if not problem:
            ready.append(item)
            continue
        kinds = sorted(set(UNKNOWN_TYPE.findall(problem)))
        if kinds:
            unsupported[item.entry.key] = kinds
        else:
            refused[item.entry.key] = problem
    return ready, unsupported, refused


def start(client: PodiumClient, item: Plan) -> tuple[str | None, str]:
    request: Json = {"name": item.name, "version": item.version, "input": item.workflow_input}
    if item.entry.start_request is not None:
        request["workflowDef"] = item.main  # an ephemeral start, as the corpus file is
    response = client.request("POST", "/workflow", json=request)
    if response.status_code == 200:
        return response.text.strip().strip('"'), ""
    message = response.json().get("message", response.text) if response.content else response.text
    return None, str(message)


def test_every_corpus_workflow_reaches_the_state_its_spec_expects(
    client: PodiumClient, stand_in_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert len(ENTRIES) >= 100, f"expected Conductor's corpus, found {len(ENTRIES)} definitions"
    named = set(spec.INPUTS) | set(spec.EXPECTED) | set(spec.KNOWN_DIFFERENCES) | set(spec.DETAILS)
    stale = named - {e.key for e in ENTRIES}
    assert not stale, f"conformance_expectations names definitions the corpus does not hold: {sorted(stale)}"

    run = uuid.uuid4().hex[:8]
    plans = [plan(entry, run, stand_in_url) for entry in ENTRIES]
    needs = {p.entry.key: p.needs for p in plans if p.needs}
    plans = [p for p in plans if not p.needs]

    worker_tasks = {STUB_DYNAMIC_TASK, *TASK_DEFS}.union(*(p.worker_tasks for p in plans))
    client.ok("POST", "/metadata/taskdefs", json=[task_def_for(name, run) for name in sorted(worker_tasks)])
    ready, unsupported_by_key, refused = register_all(client, plans)

    roots: dict[str, str] = {}
    for item in ready:
        workflow_id, problem = start(client, item)
        if workflow_id is None:
            kinds = sorted(set(UNKNOWN_TYPE.findall(problem)))
            if kinds:
                unsupported_by_key[item.entry.key] = kinds
            else:
                refused[item.entry.key] = f"start refused: {problem}"
        else:
            roots[workflow_id] = item.entry.key

    forked_task = task_name(STUB_DYNAMIC_TASK, run)
    driver = Driver(client.api, roots, {task_name(name, run) for name in worker_tasks}, forked_task)
    try:
        last = driver.run(time.monotonic() + DRIVE_SECONDS)
    finally:
        driver.close()

    outcomes = []
    for workflow_id, key in sorted(roots.items(), key=lambda pair: pair[1]):
        workflow = last[workflow_id]
        status = workflow["status"]
        actual = status if status in TERMINAL else f"did not finish ({status})"
        reason = FAILED_TASK_PREFIX.sub("", workflow.get("reasonForIncompletion") or "")[:160]
        seconds = max(0, (workflow.get("endTime") or 0) - (workflow.get("startTime") or 0)) / 1000
        outcomes.append(
            Outcome(key, spec.expected_status(key), actual, reason if actual != "COMPLETED" else "", seconds)
        )

    # What the specs state beyond the status: task sequence, branches, iterations, output.
    details_checked = 0
    detail_problems: dict[str, list[str]] = {}
    observed: dict[str, Json] = {}
    for workflow_id, key in sorted(roots.items(), key=lambda pair: pair[1]):
        workflow = last[workflow_id]
        observed[key] = spec.observation(workflow)
        detail = spec.DETAILS.get(key)
        if detail is not None and workflow["status"] in TERMINAL:
            details_checked += 1
            problems = spec.mismatches(detail, workflow)
            if problems:
                detail_problems[key] = problems
    not_run = sorted(set(spec.DETAILS) - set(roots.values()))

    unsupported: dict[str, list[str]] = {}
    for key, kinds in unsupported_by_key.items():
        for kind in kinds:
            unsupported.setdefault(kind, []).append(key)
    text = summary_text(outcomes, unsupported, needs, refused)
    text += f"stated details (task sequence, branches, iterations, output) checked: {details_checked}\n"
    for key, problems in sorted(detail_problems.items()):
        text += f"  - {key}:\n" + "".join(f"      {line}\n" for line in "\n".join(problems).splitlines())
    folder = tmp_path_factory.mktemp("conformance")
    summary_file = folder / "conformance_summary.txt"
    summary_file.write_text(text, encoding="utf-8")
    (folder / "conformance_observed.json").write_text(json.dumps(observed, indent=1, sort_keys=True), encoding="utf-8")
    print(f"\n{text}summary written to {summary_file}, what each run showed to {folder / 'conformance_observed.json'}")

    unexpected = [o for o in outcomes if not o.reached and o.key not in spec.KNOWN_DIFFERENCES]
    healed = [o.key for o in outcomes if o.reached and o.key in spec.KNOWN_DIFFERENCES]
    assert not refused, f"definitions refused for a reason other than an unsupported task type: {refused}"
    assert not unexpected, "did not reach the state their spec expects:\n" + "\n".join(
        f"  {o.key}: {o.actual}, expected {o.expected} {o.reason}" for o in unexpected
    )
    assert not healed, f"these now reach their expected state; remove them from KNOWN_DIFFERENCES: {healed}"
    assert not not_run, f"conformance_expectations.DETAILS names definitions that did not run: {not_run}"
    assert not detail_problems, "runs that differ from what their spec states:\n" + "\n".join(
        f"  {key}:\n    " + "\n    ".join(problems) for key, problems in sorted(detail_problems.items())
    )
