"""MessageHandler: messages between executions (children, parents, starts) as events.

A message is written to its receiver's partition inbox in the sender's checkpoint and
acknowledged in the receiver's, so it survives either shard's crash.
"""

from __future__ import annotations

import logging
from typing import Any

from actors import messages
from actors.shard.base import ShardBase
from actors.shard.execution import TurnEffects
from actors.workflow import commands as cmd
from actors.workflow import events as ev
from cluster.store import Checkpoint
from definitions.models import TERMINAL_WORKFLOW_STATUSES

log = logging.getLogger("podium.shard")


class MessageHandler(ShardBase):
    """Inbox messages in and out, part of `ShardCore`."""

    def _message_event(
        self, message: messages.Message, now: int, checkpoint: Checkpoint, effects: TurnEffects
    ) -> ev.Event | None:
        kind = message["kind"]
        workflow_id = message["workflowId"]
        if kind == "child_done":
            return ev.ChildFinished(
                task_id=message["taskId"],
                child_workflow_id=message["childWorkflowId"],
                status=message["status"],
                output=message.get("output") or {},
                reason_for_incompletion=message.get("reasonForIncompletion"),
            )
        if kind == "terminate":
            return ev.Terminate(reason=message.get("reason"))
        if kind == "child_reopened":
            return ev.ChildReopened(task_id=message["taskId"], child_workflow_id=message["childWorkflowId"])
        if kind == "retry":
            return ev.Retry(resume_subworkflow_tasks=True)
        if kind != "start_child":
            log.warning("%s: unknown message kind %r", self.name, kind)
            return None
        existing = self.executions.get(workflow_id)
        has_parent = bool(message.get("parentWorkflowId"))
        if existing is not None:
            # Started before (a redelivery): if it already ended, tell the parent again.
            workflow = existing.state.workflow
            if has_parent and workflow["status"] in TERMINAL_WORKFLOW_STATUSES:
                self._answer_parent(
                    message,
                    workflow["status"],
                    workflow.get("output", {}),
                    workflow.get("reasonForIncompletion"),
                    checkpoint,
                    effects,
                )
            return None
        if message.get("error") or not message.get("definition"):
            reason = message.get("error") or "sub workflow has no definition"
            if has_parent:
                self._answer_parent(message, "FAILED", {}, reason, checkpoint, effects)
            else:
                log.warning("%s: cannot start workflow %s: %s", self.name, workflow_id, reason)
            return None
        try:
            definition = self._definition(message["definition"])
        except ValueError as error:
            message["error"] = f"invalid sub workflow definition: {error}"
            return self._message_event(message, now, checkpoint, effects)
        return ev.start_from_wire(workflow_id, definition, message)

    def _answer_parent(
        self,
        start_message: messages.Message,
        status: str,
        output: dict[str, Any],
        reason: str | None,
        checkpoint: Checkpoint,
        effects: TurnEffects,
    ) -> None:
        """Tell the parent how a child it asked for ended (or why it never started)."""
        notice = cmd.NotifyParent(
            start_message["parentWorkflowId"],
            start_message["parentWorkflowTaskId"],
            start_message["workflowId"],
            status,
            output,
            reason,
        )
        self._post(messages.child_done(notice), checkpoint, effects)

    def _post(self, addressed: tuple[str, str, messages.Message], checkpoint: Checkpoint, effects: TurnEffects) -> None:
        workflow_id, message_id, message = addressed
        checkpoint.post(self.store.partition(workflow_id), message_id, message)
        effects.outbound.append(addressed)
