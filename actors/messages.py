"""Messages between executions (start a child, terminate it, tell the parent).

A message is written to the receiver partition's inbox in the sender's checkpoint, then
delivered over Ray. The receiver removes it in the checkpoint of the step that handled
it, and a periodic sweep redelivers whatever a crash left behind. Handling a message
twice is harmless: each one is idempotent.
"""

from __future__ import annotations

from typing import Any

from actors.workflow import commands as cmd

Message = dict[str, Any]


def _start(
    workflow_id: str,
    command: cmd.StartChild | cmd.StartWorkflow,
    parent_workflow_id: str | None,
    parent_task_id: str | None,
) -> tuple[str, str, Message]:
    message = {
        "kind": "start_child",
        "workflowId": workflow_id,
        "name": command.name,
        "version": command.version,
        "definition": command.definition,
        "input": command.input,
        "correlationId": command.correlation_id,
        "priority": command.priority,
        "taskToDomain": command.task_to_domain,
        "parentWorkflowId": parent_workflow_id,
        "parentWorkflowTaskId": parent_task_id,
    }
    return workflow_id, f"start:{workflow_id}", message


def start_child(command: cmd.StartChild, parent_workflow_id: str) -> tuple[str, str, Message]:
    return _start(command.child_workflow_id, command, parent_workflow_id, command.parent_task_id)


def start_workflow(command: cmd.StartWorkflow) -> tuple[str, str, Message]:
    """Start a workflow with no parent (a failureWorkflow, a START_WORKFLOW task's) by name
    and version (None: the latest), or from the inline definition the command carries."""
    return _start(command.workflow_id, command, None, None)


def child_reopened(command: cmd.ReopenParent) -> tuple[str, str, Message]:
    message = {
        "kind": "child_reopened",
        "workflowId": command.parent_workflow_id,
        "taskId": command.parent_task_id,
        "childWorkflowId": command.child_workflow_id,
    }
    return command.parent_workflow_id, f"reopened:{command.child_workflow_id}", message


def retry_child(command: cmd.RetryChild) -> tuple[str, str, Message]:
    message = {
        "kind": "retry",
        "workflowId": command.child_workflow_id,
        "parentWorkflowId": command.parent_workflow_id,
        "parentWorkflowTaskId": command.parent_task_id,
    }
    return command.child_workflow_id, f"retry:{command.child_workflow_id}", message


def terminate(command: cmd.TerminateChild) -> tuple[str, str, Message]:
    message = {"kind": "terminate", "workflowId": command.child_workflow_id, "reason": command.reason}
    return command.child_workflow_id, f"terminate:{command.child_workflow_id}", message


def child_done(command: cmd.NotifyParent) -> tuple[str, str, Message]:
    message = {
        "kind": "child_done",
        "workflowId": command.parent_workflow_id,
        "taskId": command.parent_task_id,
        "childWorkflowId": command.child_workflow_id,
        "status": command.status,
        "output": command.output,
        "reasonForIncompletion": command.reason_for_incompletion,
    }
    return command.parent_workflow_id, f"done:{command.child_workflow_id}", message

