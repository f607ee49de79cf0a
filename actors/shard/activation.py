"""Activation: executions are virtual actors, loaded from their checkpoint on demand.

An execution not in memory when an event arrives is activated from Redis; parsed
workflow definitions are shared between the executions that use them.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from actors import messages
from actors.shard.base import ShardBase
from actors.shard.execution import Envelope, Execution
from actors.workflow.state import WorkflowState
from cluster.store import Indexed, StoredExecution
from definitions.models import WorkflowDef


class Activation(ShardBase):
    """Loading executions and definitions, part of `ShardCore`."""

    async def _activate_missing(self, batch: list[Envelope]) -> None:
        # Starts are looked up too: Ray retries a call whose shard died after its commit,
        # and a start seen twice must find the execution the first one made.
        missing = [envelope.workflow_id for envelope in batch if envelope.workflow_id not in self.executions]
        if missing:
            for workflow_id, stored, definition in await self._load(list(dict.fromkeys(missing))):
                if workflow_id not in self.executions:  # what is in memory is never older
                    self._activate(workflow_id, stored, definition)
        for envelope in batch:
            message = envelope.message
            if message is not None and message["kind"] == "start_child" and envelope.workflow_id not in self.executions:
                await self._resolve_child_definition(message)

    async def _load(self, workflow_ids: list[str]) -> list[tuple[str, StoredExecution, WorkflowDef]]:
        """Checkpoints of these executions (those that exist), with their definitions."""
        loaded = await self.store.load_executions(workflow_ids)
        found = [(workflow_id, stored) for workflow_id, stored in zip(workflow_ids, loaded, strict=True) if stored]
        known = {stored.definition_digest: self._by_digest.get(stored.definition_digest) for _, stored in found}
        unknown = [digest for digest, definition in known.items() if definition is None]
        for digest, definition_json in (await self.store.definitions_by_digest(unknown)).items():
            known[digest] = self._by_digest[digest] = self._definition(definition_json)
        return [
            (workflow_id, stored, definition)
            for workflow_id, stored in found
            if (definition := known[stored.definition_digest]) is not None
        ]

    def _activate(self, workflow_id: str, stored: StoredExecution, definition: WorkflowDef) -> Execution:
        execution = Execution(
            WorkflowState(stored.workflow, definition, stored.tasks),
            self.store.partition(workflow_id),
            time.monotonic(),
        )
        execution.indexed = Indexed.of(execution.state)
        self.executions[workflow_id] = execution
        return execution

    def _definition(self, raw: bytes | dict[str, Any]) -> WorkflowDef:
        """Executions of one definition share one parsed model and one task graph."""
        key = raw if isinstance(raw, bytes) else orjson.dumps(raw)
        definition = self._definitions.get(key)
        if definition is None:
            if len(self._definitions) > 1000:
                self._definitions.clear()
                self._by_digest.clear()
            definition = WorkflowDef.model_validate(orjson.loads(key))
            definition._derived["json"] = key
            self._definitions[key] = definition
        return definition

    async def _resolve_child_definition(self, message: messages.Message) -> None:
        if message.get("definition"):
            return
        name, version = message.get("name"), message.get("version")
        found = await self.store.get_workflow_def(name, version) if name else None
        message["definition"] = found
        if found is None:
            message["error"] = f"workflow definition {name!r} version {version} is not registered"
