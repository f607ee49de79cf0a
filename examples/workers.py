"""The worker behind examples/hello.json: `podium up --workers examples.workers`."""

from __future__ import annotations

from actors.workers import worker_task

GREETINGS = {"en": "Hello", "fr": "Bonjour"}


@worker_task("greet")
def greet(name: str, language: str = "en") -> dict[str, str]:
    return {"greeting": f"{GREETINGS.get(language, 'Hello')}, {name}!"}
