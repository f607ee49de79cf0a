"""Who may call what: one table from (method, route) to the roles allowed.

Roles: `admin` may do everything; `user` starts, reads and acts on workflows and reads
definitions; `metadata` manages definitions, event handlers and schedules (and reads
them); `worker` polls and updates tasks and reads task definitions. A route the table
does not name is for admins only, and a test checks that every route of the API is named,
so a new endpoint is a decision, not an accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ADMIN, USER, METADATA, WORKER = "admin", "user", "metadata", "worker"
READ = frozenset({"GET", "HEAD"})
WRITE = frozenset({"POST", "PUT", "DELETE", "PATCH"})
ANY = READ | WRITE

# Outside /api/ (the UI's pages and assets, the OpenAPI document, Swagger UI) and these
# API routes answer without a credential: a probe, and the way to get one.
PUBLIC_API = frozenset({"/api/health", "/api/token"})


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    roles: frozenset[str]


def _rule(methods: frozenset[str], pattern: str, *roles: str) -> Rule:
    return Rule(methods, re.compile(pattern), frozenset(roles))


# Matched against the route's template (`/api/workflow/{workflowId}`), first match wins.
RULES = (
    # Workers: poll, report, log; read task definitions.
    _rule(READ, r"/api/tasks/poll(/batch)?/\{taskType\}", USER, WORKER),
    _rule(frozenset({"POST"}), r"/api/tasks(/update-v2)?", USER, WORKER),
    _rule(frozenset({"POST"}), r"/api/tasks/\{taskId\}/log", USER, WORKER),
    _rule(frozenset({"POST"}), r"/api/tasks/\{workflowId\}/\{taskRefName\}/\{status\}(/sync)?", USER, WORKER),
    _rule(READ, r"/api/metadata/taskdefs(/\{name\})?", USER, METADATA, WORKER),
    # Operators of the cluster only.
    _rule(ANY, r"/api/admin/dashboard", USER, METADATA),
    _rule(ANY, r"/api/(admin|queue|auth)(/.*)?", ADMIN),
    _rule(ANY, r"/api/(environment|secrets)(/.*)?", ADMIN),
    _rule(ANY, r"/api/tasks/queue/requeue/\{taskType\}", ADMIN),
    # Users: workflows, signals, reading tasks and definitions.
    _rule(ANY, r"/api/workflow(/.*)?", USER),
    _rule(frozenset({"POST"}), r"/api/tasks/\{workflowId\}/\{status\}/signal(/sync)?", USER),
    _rule(READ, r"/api/tasks(/.*)?", USER),
    _rule(frozenset({"POST"}), r"/api/events/\{event\}", USER),
    _rule(frozenset({"POST"}), r"/api/metadata/workflow/validate", USER, METADATA),
    _rule(READ, r"/api/scheduler/schedules/\{name\}/(pause|resume)", METADATA),  # writes, by GET
    _rule(READ, r"/api/(metadata|event|scheduler)(/.*)?", USER, METADATA),
    _rule(READ, r"/api/version", USER, METADATA, WORKER),
    # Definitions, event handlers and schedules.
    _rule(WRITE, r"/api/(metadata|event|scheduler)(/.*)?", METADATA),
)


def is_public(path_template: str) -> bool:
    return not path_template.startswith("/api/") or path_template in PUBLIC_API


def rule_for(method: str, path_template: str) -> Rule | None:
    return next(
        (rule for rule in RULES if method in rule.methods and rule.pattern.fullmatch(path_template)), None
    )


def allowed(roles: frozenset[str], method: str, path_template: str) -> bool:
    if ADMIN in roles:
        return True
    rule = rule_for(method, path_template)
    return rule is not None and bool(rule.roles & roles)


def who_may(method: str, path_template: str) -> list[str]:
    """The roles that may call it, for the 403's message."""
    rule = rule_for(method, path_template)
    return sorted({ADMIN} | (rule.roles if rule else set()))
