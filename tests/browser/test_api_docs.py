"""The API documentation in the browser, offline: Swagger UI and ReDoc come from static/
(drf-spectacular-sidecar) and render every endpoint; nothing is fetched from elsewhere."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_renders_the_schema_offline(world, new_page, screenshot):
    page = new_page()
    outside = []
    local = {"127.0.0.1", "localhost", None}
    page.on(
        "request",
        lambda r: outside.append(r.url) if urlsplit(r.url).hostname not in local else None,
    )
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/trackers/{id}/locations/" in [p.replace("\u200b", "") for p in paths]
    assert "Tracker platform partner API" in page.locator(".info .title").inner_text()
    assert outside == []
    screenshot(page, "api-docs-swagger")


def test_redoc_renders_the_schema_offline(world, new_page):
    page = new_page()
    page.goto("/api/v1/redoc/")
    page.wait_for_selector("text=Tracker platform partner API")
    assert page.locator("text=/api/v1/webhooks/{id}/deliveries/").count() >= 1
