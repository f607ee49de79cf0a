"""`/api/event`: Conductor's event handler API; `/api/events/{event}`: publish an event.

Handlers are validated at the edge (definitions/models.py, EventHandler) and stored in
Redis; the event processor of every gateway (gateway/event_processor.py) reads them for each
message. `POST /api/events/{event}` is Podium's own (Conductor OSS has no such endpoint;
Orkes has webhooks): it puts a JSON payload on the event bus under that event name, the
way an EVENT task with a `conductor` sink does.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from definitions.models import EventHandler
from gateway.context import context_of
from gateway.errors import bad_request, conflict, not_found
from gateway.http import bool_param, json_response, parse_model, read_json

routes = web.RouteTableDef()


async def _read_handler(request: web.Request) -> EventHandler:
    return parse_model(await read_json(request), EventHandler, "event handler")


@routes.post("/api/event")
async def add_event_handler(request: web.Request) -> web.Response:
    handler = await _read_handler(request)
    if not await context_of(request).store.add_event_handler(handler.to_wire()):
        raise conflict(f"EventHandler with name {handler.name} already exists!")
    return json_response({})


@routes.put("/api/event")
async def update_event_handler(request: web.Request) -> web.Response:
    handler = await _read_handler(request)
    if not await context_of(request).store.update_event_handler(handler.to_wire()):
        raise not_found(f"EventHandler with name {handler.name} not found!")
    return json_response({})


@routes.get("/api/event")
async def list_event_handlers(request: web.Request) -> web.Response:
    return json_response(await context_of(request).store.list_event_handlers())


@routes.get("/api/event/{event}")
async def event_handlers_for_event(request: web.Request) -> web.Response:
    event = request.match_info["event"]
    active_only = bool_param(request, "activeOnly", True)
    handlers = [
        handler
        for handler in await context_of(request).store.list_event_handlers()
        if handler.get("event") == event and (handler.get("active") or not active_only)
    ]
    return json_response(handlers)


@routes.delete("/api/event/{name}")
async def remove_event_handler(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not await context_of(request).store.delete_event_handler(name):
        raise not_found(f"EventHandler with name {name} not found!")
    return json_response({})


@routes.post("/api/events/{event:.+}")
async def publish_event(request: web.Request) -> web.Response:
    """Put the body (a JSON object) on the event bus as a message of `event`; 202 with its id."""
    event = request.match_info["event"]
    if not event.strip():
        raise bad_request("The event name is empty")
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise bad_request(f"An event payload must be a JSON object, got {type(payload).__name__}")
    message_id = str(uuid.uuid4())
    await context_of(request).store.publish_event(event, payload, message_id)
    return json_response({"event": event, "messageId": message_id}, status=202)
