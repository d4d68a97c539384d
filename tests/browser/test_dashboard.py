"""The operations dashboard in Chromium: counts, alerts and the fetch-health charts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from findmy.models import AppleAccount, FetchRun
from tests.findmy.factories import AppleAccountFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_operations_member_sees_the_dashboard_with_its_charts(staff_page, world, screenshot):
    now = timezone.now()
    AppleAccountFactory(name="night-shift@example.com", health=AppleAccount.Health.NEEDS_LOGIN)
    AppleAccountFactory(name="day-shift@example.com")
    for hours in range(0, 30, 2):
        FetchRun.objects.create(
            started_at=now - timedelta(hours=hours),
            ids_requested=64,
            ids_with_reports=40 + hours,
            reports_new=100 + 5 * hours,
            error_kind="backoff" if hours % 6 == 0 else "",
        )
    page, _ = staff_page("operations")
    page.goto("/admin/")

    expect(page.locator(".account-alert")).to_contain_text("night-shift@example.com")
    expect(page.locator(".account-alert")).to_contain_text("Needs login")
    expect(page.locator("#status-tiles")).to_contain_text("Unknown")
    expect(page.locator("#queue-due")).to_have_attribute(
        "href", "/admin/findmy/trackerfetchstate/?reporting=due"
    )
    datasets = page.evaluate(
        """() => ["chart-requests", "chart-reports", "chart-heard"].map(
            (id) => Chart.getChart(document.getElementById(id)).data.datasets.map(d => d.label))"""
    )
    assert datasets == [["answered", "backoff"], ["new reports"], ["% heard from"]]
    labels = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-reports')).data.labels.length"
    )
    assert labels == 24
    screenshot(page, "dashboard")

    page.click(".range-switch button[data-range=week]")
    expect(page.locator("#fetch-health")).to_have_attribute("data-range", "week")
    labels = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-reports')).data.labels.length"
    )
    assert labels in (7, 8)
    screenshot(page, "dashboard-week")
