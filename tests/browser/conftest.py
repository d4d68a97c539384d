"""Browser tests: headless Debian Chromium driven by Playwright, against pytest-django's live
server. Pages are asserted on their DOM; screenshots are kept in artifacts/screenshots/ (git
ignores it) at a desktop and a phone width.

Reuse: `page_for(user)` gives a logged-in page for any persona (staff in a group, or a client
member from the `world` fixture); `staff_page(group)` makes the staff member too;
`screenshot(page, name)` writes name-1400.png and name-375.png.

Nothing leaves 127.0.0.1: every other request (map tiles, fonts) is aborted, so the pages must
work without them, as they must for a staff member whose tile server is down.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client as DjangoClient
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WIDTHS = (1400, 375)
HEIGHT = 900


@pytest.fixture(scope="module")
def browser() -> Browser:
    # Playwright's sync API runs an asyncio loop in this thread; Django's guard would then
    # refuse the ORM calls the tests make between page steps. Nothing here runs concurrently
    # with those calls, so the guard is lifted while one browser test module runs (module
    # scope: it is set back before any other test, and a subprocess, sees the environment).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server):
    """new_page() -> a fresh, logged-out page on the live server; its JS errors fail the test."""
    opened = []
    local_host = urlsplit(live_server.url).hostname

    def open_page() -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": WIDTHS[0], "height": HEIGHT}
        )
        context.route(
            re.compile(r"^https?://"),
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).hostname == local_host
                else route.abort()
            ),
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        # Every browser test is also a Content-Security-Policy test: Chromium reports each
        # blocked script, style or connection as a console error naming the policy.
        page.on(
            "console",
            lambda message: (
                page.js_errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        opened.append(page)
        return page

    yield open_page
    errors = [error for page in opened for error in page.js_errors]
    for page in opened:
        page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page_for(new_page, live_server):
    """page_for(user) -> a page whose browser holds that user's session (no login form)."""

    def open_as(user) -> Page:
        django_client = DjangoClient()
        django_client.force_login(user)
        page = new_page()
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": django_client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        return page

    return open_as


@pytest.fixture
def staff_page(staff_in, page_for):
    """staff_page("operations") -> (page, user): a logged-in member of that staff group."""

    def open_as(group: str):
        user = staff_in(group)
        return page_for(user), user

    return open_as


@pytest.fixture
def screenshot():
    """screenshot(page, name): full-page PNGs at 1400 and 375 px wide, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> list[Path]:
        paths = []
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.wait_for_timeout(200)  # Leaflet and Chart.js redraw on the resize event
            path = SCREENSHOTS / f"{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
        return paths

    return take


def drag_radius_handle(page: Page, place_map, *, dx: float) -> None:
    """Drag a place form's radius handle `dx` px to the right, in small steps as a hand
    would (the admin's place form and the portal's place editor share the handle)."""
    start = place_map.locator(".place-radius-handle").bounding_box()
    page.mouse.move(start["x"] + 8, start["y"] + 8)
    page.mouse.down()
    page.mouse.move(start["x"] + dx / 2, start["y"] + 8, steps=6)
    page.mouse.move(start["x"] + dx, start["y"] + 8, steps=6)
    page.mouse.up()
