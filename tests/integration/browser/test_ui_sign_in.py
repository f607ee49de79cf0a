"""The UI with authentication on, in a real browser: asked for a credential when the API
answers 401, signed in with an application key, the token kept for the tab and sent in a
header (never in a URL), and signed out again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from cluster.runtime import Runtime
from tests.integration.auth_gateway import ADMIN_ID, ADMIN_SECRET, auth_gateway
from tests.integration.browser.conftest import screenshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured_ui(podium: Runtime) -> Iterator[str]:
    with auth_gateway(podium, "podium-gateway-ui-sign-in") as api:
        yield api.removesuffix("/api")


@pytest.fixture
def secured_page(browser: Browser, secured_ui: str) -> Iterator[Page]:
    context = browser.new_context(base_url=secured_ui, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()


def test_the_ui_asks_for_a_key_signs_in_and_out(secured_page: Page) -> None:
    page = secured_page
    sent_tokens: list[str] = []
    page.on("request", lambda request: sent_tokens.append(request.headers.get("x-authorization", "")))
    page.goto("/executions")

    dialog = page.get_by_role("dialog", name="Sign in")
    expect(dialog).to_be_visible()
    screenshot(page, "sign-in")
    dialog.locator("input[name=keyId]").fill(ADMIN_ID)
    dialog.locator("input[name=keySecret]").fill("a wrong secret")
    dialog.get_by_role("button", name="Sign in").click()
    expect(dialog.get_by_text("unknown key id or wrong secret")).to_be_visible()

    dialog.locator("input[name=keySecret]").fill(ADMIN_SECRET)
    dialog.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("dialog", name="Sign in")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    token = page.evaluate("sessionStorage.getItem('podium.token')")
    assert token and token.count(".") == 2, "a JWT kept for this tab"
    assert token in sent_tokens, "API calls carry it in X-Authorization"
    assert token not in page.url

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("dialog", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('podium.token')") is None
