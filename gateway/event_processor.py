"""The event processor: runs event handlers on the messages of the event bus.

Messages reach the bus (the Redis stream `podium:events`) from EVENT tasks, written by
the shard in the checkpoint of the step that ran the task, and from
`POST /api/events/{event}`. Every gateway actor runs one processor; they read the
stream as one Redis consumer group, so each message goes to one of them, and more
gateways share the work.

For each message, as Conductor's DefaultEventProcessor and SimpleActionProcessor do:
the active handlers whose `event` is the message's event name are taken in name order;
a handler whose `condition` is false for the payload is skipped (evaluated with its
`evaluatorType`, `javascript` when absent, over the payload with stringified JSON
expanded); each action of the others runs in order, `${...}` in its fields resolved
over the payload (`${workflowInstanceId}`, `${order.id}`). Then the message is
acknowledged and removed from the stream.

Delivery is at least once. A processor that dies after reading a message and before
acknowledging it leaves the message pending in the group; after
`PODIUM_EVENT_REDELIVERY_MS` (30 s) without an acknowledgement any processor claims it
(XAUTOCLAIM) and handles it again from its first action, so the actions are made
idempotent where Podium can: start_workflow starts with the idempotency key
`event:<stream entry id>:<handler>:<action index>` (strategy RETURN_EXISTING), so a
replay finds the workflow the first attempt started; complete_task and fail_task on a
task that has already ended, and terminate_workflow on an ended workflow, change
nothing. update_workflow_variables sets the same values again (with appendArray it
appends them again). An action that cannot be done (an unknown workflow or task, a
definition that is not registered) is logged and the message is still acknowledged;
any other failure (Redis or a shard unreachable) leaves it pending for a later claim,
up to MAX_DELIVERIES deliveries.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import socket
import time
from typing import Any

import orjson
from pydantic import ValidationError
from redis.exceptions import ResponseError

from actors.shard import Answer, HandedOver, Outcome, Refused
from actors.workflow import events as ev
from actors.workflow.graph import base_reference, iteration_of
from cluster.store import EventMessage, Store
from definitions.evaluators import EvaluationError, evaluate
from definitions.expressions import resolve
from definitions.models import (
    CONDITION_EVALUATORS,
    TERMINAL_TASK_STATUSES,
    EventAction,
    EventHandler,
    StartWorkflowRequest,
    TaskResult,
    TaskStatus,
)
from gateway.api.tasks import record_result
from gateway.api.workflows import start_workflow
from gateway.context import GatewayContext
from gateway.errors import ApiError

log = logging.getLogger("podium.events")

Json = dict[str, Any]
# Messages read (or claimed) at a time.
BATCH = 32
# A message delivered this many times without being acknowledged is given up (logged).
MAX_DELIVERIES = 10
DEFAULT_EVALUATOR = "javascript"
# Output keys Conductor adds to what an action produces.
MESSAGE_ID_KEY = "conductor.event.messageId"
EVENT_NAME_KEY = "conductor.event.name"


class ActionFailed(Exception):
    """An action that cannot be carried out, and will not be by trying again."""


class HandlersFailed(Exception):
    """Some handler's action on a broker message failed: the message is delivered again."""


def consumer_name() -> str:
    """This process's name in the consumer group; a restarted gateway is a new consumer."""
    return f"gateway-{socket.gethostname()}-{os.getpid()}"


def expand_inline_json(value: Any) -> Any:
    """Strings holding a JSON object or array, at any depth, replaced by what they hold
    (Conductor's JsonUtils.expand); other strings stay as they are."""
    if isinstance(value, dict):
        return {key: expand_inline_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_inline_json(item) for item in value]
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return expand_inline_json(orjson.loads(value))
        except orjson.JSONDecodeError:
            return value
    return value


def over_payload(template: Any, payload: Any) -> Any:
    """Resolve `${...}` in `template` against the payload's root (Conductor's
    ParametersUtils.replace over the message): `${a.b}` is the payload's `a.b`."""
    return resolve(template, lambda name: payload.get(name) if isinstance(payload, dict) else None)


def truthy(result: Any) -> bool:
    """Conductor's ScriptEvaluator.toBoolean: a boolean, or a number above 0."""
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float):
        return result > 0
    return False


def condition_holds(handler: EventHandler, payload: Json) -> bool:
    """An absent condition holds; an evaluatorType Podium does not know means javascript."""
    condition = handler.condition
    if condition is None or not condition.strip():
        return True
    evaluator = handler.evaluator_type if handler.evaluator_type in CONDITION_EVALUATORS else None
    return truthy(evaluate(evaluator or DEFAULT_EVALUATOR, condition, expand_inline_json(payload)))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


class EventProcessor:
    def __init__(self, context: GatewayContext, consumer: str, redelivery_ms: int) -> None:
        self.context = context
        self.store: Store = context.store
        self.consumer = consumer
        self.redelivery_ms = redelivery_ms
        # Look for messages to claim twice per redelivery period (at most every 5 s).
        self.claim_interval = min(redelivery_ms / 2, 5000) / 1000
        self.block_ms = max(int(min(2000, redelivery_ms / 2)), 10)
        self.handled = 0

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        await self._ensure_group()
        next_claim = 0.0
        while True:
            try:
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + self.claim_interval
                    claimed = await self.store.claim_stale_events(self.consumer, self.redelivery_ms, BATCH)
                    await self._handle_all(claimed, redelivered=True)
                await self._handle_all(await self.store.read_events(self.consumer, BATCH, self.block_ms))
            except asyncio.CancelledError:
                raise
            except ResponseError as error:
                if "NOGROUP" in str(error):  # the stream was deleted: start over
                    await self._ensure_group()
                else:
                    log.exception("event processor: reading the event bus failed")
                    await asyncio.sleep(1)
            except Exception:
                log.exception("event processor: reading the event bus failed")
                await asyncio.sleep(1)

    async def _ensure_group(self) -> None:
        while True:
            try:
                await self.store.ensure_event_group()
                return
            except Exception as error:
                log.warning("event processor: cannot create the consumer group yet: %s", error)
                await asyncio.sleep(1)

    async def _handle_all(self, messages: list[EventMessage], redelivered: bool = False) -> None:
        for message in messages:
            try:
                await self.handle(message, redelivered)
            except Exception:
                # Left unacknowledged: claimed and handled again after the redelivery time.
                log.exception(
                    "event processor: message %s (%s) failed; it is handled again in %d ms",
                    message.entry_id,
                    message.event,
                    self.redelivery_ms,
                )

    # -- one message --------------------------------------------------------------------

    async def handle(self, message: EventMessage, redelivered: bool = False) -> None:
        """Run every matching handler's actions on one message, then acknowledge it."""
        if redelivered:
            deliveries = await self.store.event_deliveries(message.entry_id)
            if deliveries > MAX_DELIVERIES:
                log.error(
                    "event processor: giving up message %s (%s, id %s) after %d deliveries",
                    message.entry_id,
                    message.event,
                    message.message_id,
                    deliveries - 1,
                )
                await self.store.ack_event(message.entry_id)
                return
            log.info("event processor: handling message %s (%s) again", message.entry_id, message.event)
        await self.run_handlers(message)
        await self.store.ack_event(message.entry_id)
        self.handled += 1

    async def run_handlers(self, message: EventMessage, strict: bool = False) -> None:
        """Run every matching handler's actions on one message (of the event bus, or of a
        broker: gateway/brokers/consumers.py). An action that cannot be done is logged; with
        `strict` (broker messages, which the broker delivers again) the remaining handlers
        still run and then HandlersFailed is raised."""
        try:
            payload = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            log.warning("event processor: message %s (%s) has no JSON object payload", message.entry_id, message.event)
            return
        failed = [
            handler.name
            for handler in await self.handlers_for(message.event)
            if not await self._run_handler(handler, message, payload)
        ]
        if failed and strict:
            raise HandlersFailed(f"message {message.entry_id}: an action of {', '.join(failed)} failed")

    async def handlers_for(self, event: str) -> list[EventHandler]:
        handlers = []
        for stored in await self.store.list_event_handlers():
            if stored.get("event") != event or not stored.get("active"):
                continue
            try:
                handlers.append(EventHandler.model_validate(stored))
            except ValidationError as error:
                log.warning("event processor: stored event handler %r is invalid: %s", stored.get("name"), error)
        return handlers

    async def _run_handler(self, handler: EventHandler, message: EventMessage, payload: Json) -> bool:
        """False when one of the handler's actions could not be done."""
        try:
            holds = await asyncio.to_thread(condition_holds, handler, payload)
        except EvaluationError as error:
            log.warning(
                "event handler %r: condition on message %s failed, handler skipped: %s",
                handler.name,
                message.entry_id,
                error,
            )
            return True
        if not holds:
            log.debug("event handler %r: condition false for message %s", handler.name, message.entry_id)
            return True
        done = True
        for index, action in enumerate(handler.actions):
            try:
                output = await self.run_action(handler, index, action, message, payload)
            except ActionFailed as failure:
                log.warning(
                    "event handler %r: action %d (%s) on message %s failed: %s",
                    handler.name,
                    index,
                    action.action,
                    message.entry_id,
                    failure,
                )
                done = False
            else:
                log.debug("event handler %r: action %d (%s) done: %s", handler.name, index, action.action, output)
        return done

    async def run_action(
        self, handler: EventHandler, index: int, action: EventAction, message: EventMessage, payload: Json
    ) -> Json:
        """Carry out one action; ActionFailed when it cannot be done at all."""
        data = expand_inline_json(copy.deepcopy(payload)) if action.expand_inline_json else payload
        try:
            match action.action:
                case "start_workflow":
                    return await self._start_workflow(handler, index, action, message, data)
                case "complete_task" | "fail_task":
                    return await self._update_task(action, message, data)
                case "terminate_workflow":
                    return await self._terminate(handler, action, data)
                case "update_workflow_variables":
                    return await self._update_variables(action, data)
        except ApiError as error:
            if error.status >= 500:
                raise
            raise ActionFailed(error.message) from None
        raise ActionFailed(f"action '{action.action}' is not supported")

    # -- actions --------------------------------------------------------------------------

    async def _start_workflow(
        self, handler: EventHandler, index: int, action: EventAction, message: EventMessage, data: Json
    ) -> Json:
        params = action.start_workflow
        assert params is not None
        workflow_input = over_payload(params.input, data)
        workflow_input[MESSAGE_ID_KEY] = message.message_id
        workflow_input[EVENT_NAME_KEY] = message.event
        task_to_domain = params.task_to_domain
        if task_to_domain is None:
            # As Conductor: without its own, the new workflow takes the payload's taskToDomain.
            given = data.get("taskToDomain")
            if isinstance(given, dict) and all(isinstance(v, str) for v in given.values()):
                task_to_domain = given
        try:
            request = StartWorkflowRequest(
                name=params.name,
                version=params.version,
                correlation_id=_text(over_payload(params.correlation_id, data)),
                input=workflow_input,
                task_to_domain=task_to_domain or {},
                # A replay of this message finds the workflow its first handling started.
                idempotency_key=f"event:{message.entry_id}:{handler.name}:{index}",
                idempotency_strategy="RETURN_EXISTING",
            )
        except ValidationError as error:
            raise ActionFailed(f"invalid start request: {error}") from None
        workflow_id = await start_workflow(self.context, request)
        if await self.store.get_workflow(workflow_id, include_tasks=False) is None:
            # The key names a workflow that was never started: a processor died between
            # claiming the key and starting it (claims happen only after the redelivery time).
            assert request.idempotency_key
            await self.store.release_idempotency_key(request.name, request.idempotency_key, workflow_id)
            workflow_id = await start_workflow(self.context, request)
        return {"workflowId": workflow_id}

    async def _update_task(self, action: EventAction, message: EventMessage, data: Json) -> Json:
        details = action.complete_task if action.action == "complete_task" else action.fail_task
        assert details is not None
        targets = {
            "workflowId": details.workflow_id,
            "taskId": details.task_id,
            "taskRefName": details.task_ref_name,
            "reasonForIncompletion": details.reason_for_incompletion,
        }
        # As Conductor: the task's output is the resolved output plus the resolved target.
        resolved = over_payload({**targets, **details.output}, data)
        workflow_id, task_id = _text(resolved.get("workflowId")), _text(resolved.get("taskId"))
        reference = _text(resolved.get("taskRefName"))
        task = await self._find_task(workflow_id, task_id, reference)
        output = {key: value for key, value in resolved.items() if key not in targets or value is not None}
        output[MESSAGE_ID_KEY] = message.message_id
        output[EVENT_NAME_KEY] = message.event
        failing = action.action == "fail_task"
        result = TaskResult(
            workflow_instance_id=task["workflowInstanceId"],
            task_id=task["taskId"],
            status=TaskStatus.FAILED if failing else TaskStatus.COMPLETED,
            output_data=output,
            reason_for_incompletion=_text(resolved.get("reasonForIncompletion")) if failing else None,
        )
        await record_result(self.context, result)
        return {"workflowId": task["workflowInstanceId"], "taskId": task["taskId"]}

    async def _find_task(self, workflow_id: str | None, task_id: str | None, reference: str | None) -> Json:
        """The task by its id, else by workflow and reference name: the latest attempt, and
        in a loop the latest iteration (Conductor's SimpleActionProcessor)."""
        missing = f"No task found with taskId: {task_id}, reference name: {reference}, workflowId: {workflow_id}"
        if task_id:
            found = await self.store.get_task(task_id)
            if found is None:
                raise ActionFailed(missing)
            return found
        if not workflow_id or not reference:
            raise ActionFailed(missing)
        workflow = await self.store.get_workflow(workflow_id, include_tasks=True)
        if workflow is None:
            raise ActionFailed(f"No workflow found with ID: {workflow_id}")
        candidates = [
            task
            for task in workflow["tasks"]
            if task["referenceTaskName"] == reference or base_reference(task["referenceTaskName"]) == reference
        ]
        if not candidates:
            raise ActionFailed(missing)
        # The latest iteration, then its latest attempt; one still running wins over one that ended.
        return max(
            candidates,
            key=lambda t: (t["status"] not in TERMINAL_TASK_STATUSES, iteration_of(t["referenceTaskName"]), t["seq"]),
        )

    async def _terminate(self, handler: EventHandler, action: EventAction, data: Json) -> Json:
        params = action.terminate_workflow
        assert params is not None
        workflow_id = _text(over_payload(params.workflow_id, data))
        reason = _text(over_payload(params.termination_reason, data))
        if not workflow_id:
            raise ActionFailed("terminate_workflow.workflowId resolved to nothing")
        event = ev.Terminate(reason=reason or f"Terminated by event handler {handler.name}")
        outcome = await self._deliver(workflow_id, event)
        # An ended workflow stays as it is: a replayed message must change nothing.
        return {"workflowId": workflow_id, "terminated": outcome is not Outcome.IGNORED}

    async def _update_variables(self, action: EventAction, data: Json) -> Json:
        params = action.update_workflow_variables
        assert params is not None
        workflow_id = _text(over_payload(params.workflow_id, data))
        if not workflow_id:
            raise ActionFailed("update_workflow_variables.workflowId resolved to nothing")
        variables = over_payload(params.variables, data)
        outcome = await self._deliver(workflow_id, ev.UpdateVariables(variables, bool(params.append_array)))
        if outcome is Outcome.IGNORED:
            raise ActionFailed(f"workflow {workflow_id} has ended; its variables are not changed")
        return {"workflowId": workflow_id}

    async def _deliver(self, workflow_id: str, event: ev.Event) -> Outcome:
        """An event handler's action fails (it is logged, the handler goes on) where the API
        would answer an error."""
        answer: Answer = await self.context.router.deliver(workflow_id, event)
        if isinstance(answer, Refused):
            raise ActionFailed(answer.message)
        if answer in (Outcome.NOT_FOUND, Outcome.TASK_NOT_FOUND):
            raise ActionFailed(f"No workflow found with ID: {workflow_id}")
        return Outcome.OK if isinstance(answer, HandedOver) else answer
