"""Customer alerts in Chromium: a client admin turns "Status changed" alerts on (the status
engine's event on main; "Delivered" once the engine writes it), a tracker arrives
at a delivery place (reports, the status engine, the fan-out), the e-mail's link opens the
tracker page, and the portal lists the alert with the unread count in the header."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from geofencing import services as geofencing
from tracking import alert_emails, alerts
from tracking.models import AlertRule, AlertSubscription, LocationReport

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = (16.3725, 48.2082)


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def _arrive(tracker, lon: float, lat: float) -> None:
    now = timezone.now()
    for minutes in (20, 10):
        LocationReport.objects.create(
            tracker=tracker,
            observed_at=now - timedelta(minutes=minutes),
            point=Point(lon, lat, srid=4326),
            horizontal_accuracy=15,
            confidence=2,
            status_byte=0,
            payload_hash=hashlib.sha256(f"{tracker.pk}-{minutes}".encode()).digest(),
        )


def test_admin_turns_on_alerts_and_the_email_and_portal_show_the_arrival(
    world, page_for, screenshot, settings, live_server
):
    cache.clear()  # the unread counts live in Redis, which outlives the test database
    settings.SITE_URL = live_server.url
    world.tracker_a.label = "Pallet 42"
    world.tracker_a.save()
    geofencing.place_create(
        client=world.client_a, kind="DELIVERY", name="Shop Vienna", radius_m=200,
        point=Point(*SHOP, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip

    page = page_for(world.a_admin)
    page.goto("/alerts/")
    page.locator("#alert-rules-links a", has_text=world.client_a.name).click()
    expect(page.locator("h1")).to_contain_text("Alert rules of Alpha Logistics")
    page.get_by_label("Status changed", exact=True).check()
    screenshot(page, "alert-rules")
    _no_horizontal_scroll(page)
    page.locator("#alert-rules button[type=submit]").click()
    expect(page.locator(".message")).to_contain_text("saved")
    assert AlertRule.objects.get(client=world.client_a).event_types == ["tracker.status_changed"]

    page.goto("/alerts/")
    subscription = page.locator(f"#subscription-{world.client_a.pk}")
    subscription.get_by_label("Immediately").check()
    screenshot(page, "alerts")
    subscription.locator("button[type=submit]").click()
    expect(page.locator(".message")).to_contain_text("saved")
    assert AlertSubscription.objects.get(user=world.a_admin).delivery == "IMMEDIATE"

    # The tracker arrives: reports inside the place, the engine, the fan-out, the e-mail.
    _arrive(world.tracker_a, *SHOP)
    assert geofencing.evaluate_statuses().transitions >= 1
    assert alerts.notifications_fan_out().notifications >= 1
    assert alert_emails.emails_send_due().emails == 1
    [message] = mail.outbox
    assert message.to == [world.a_admin.email]
    assert "Delivered (Shop Vienna)" in message.subject and "Pallet 42" in message.subject
    assert world.tracker_a.mac_address in message.body
    link = re.search(r"^\s+(http\S+/trackers/\d+/\S*)$", message.body, re.MULTILINE).group(1)
    assert link in message.alternatives[0][0]

    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/trackers/{world.tracker_a.pk}/"))
    assert world.tracker_a.mac_address in page.content()

    expect(page.locator("#unread-count")).to_have_text("1")
    page.locator("#notifications-link").click()
    item = page.locator("#notifications li.notification.unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Delivered (Shop Vienna)")
    expect(item).to_contain_text("Pallet 42")
    expect(page.locator("#unread-summary")).to_have_text("1 unread")
    screenshot(page, "notifications")
    page.set_viewport_size({"width": 375, "height": 900})
    _no_horizontal_scroll(page)
    page.set_viewport_size({"width": 1400, "height": 900})

    item.locator("button.mark-read").click()
    expect(page.locator("#notifications li.notification.unread")).to_have_count(0)
    expect(page.locator("#unread-count")).to_have_count(0)


def test_a_viewer_is_refused_the_rules_and_chooses_a_digest(world, page_for, screenshot):
    cache.clear()
    page = page_for(world.a_viewer)
    page.goto("/alerts/")
    assert page.locator("#alert-rules-links").count() == 0
    subscription = page.locator(f"#subscription-{world.client_a.pk}")
    subscription.get_by_label("Daily digest").check()
    subscription.locator("select").select_option("7")
    subscription.locator("button[type=submit]").click()
    expect(page.locator(".message")).to_contain_text("saved")
    saved = AlertSubscription.objects.get(user=world.a_viewer)
    assert (saved.delivery, saved.digest_hour) == ("DIGEST", 7)
    page.set_viewport_size({"width": 375, "height": 900})
    _no_horizontal_scroll(page)
    response = page.goto(f"/alerts/clients/{world.client_a.pk}/rules/")
    assert response.status == 403
