"""Playwright driving Debian's chromium against the UI the session Podium serves.

The Podium, its Redis and Ray come from tests/integration/conftest.py. Playwright is
pointed at the system's `chromium` (installed by .ci/run), never a downloaded browser.
Every test saves screenshots of the pages it visits into docs/ui/ (shown in docs/ui.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from cluster.runtime import Runtime

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "ui"
# Ray and the shards share two cores with the browser: give the page time, not sleeps.
expect.set_options(timeout=30_000)


# Module scope, not session: Playwright's sync API keeps an event loop running in the
# main thread while it is open, and the other integration tests call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "the browser tests need Debian's chromium on PATH (apt-get install chromium; .ci/run does it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def ui_url(podium: Runtime) -> str:
    return podium.api_url.removesuffix("/api")


@pytest.fixture
def page(browser: Browser, ui_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
