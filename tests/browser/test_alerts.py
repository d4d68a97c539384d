"""Customer alerts in Chromium: a client admin turns "Delivered" alerts on, a tracker arrives
at a delivery place (reports, the status engine, the fan-out), the e-mail's link opens the
tracker page, the portal lists the alert with the unread count in the header; then the admin
shares the tracker with a link that opens without a login until it is revoked."""

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
from tracking.models import AlertRule, AlertSubscription, LocationReport, Tracker

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
    # what ingestion does with a tracker's newest report
    Tracker.objects.filter(pk=tracker.pk).update(
        last_point=Point(lon, lat, srid=4326), last_accuracy_m=15,
        last_report_at=now - timedelta(minutes=10),
    )  # fmt: skip


def test_admin_turns_on_alerts_and_the_email_and_portal_show_the_arrival(
    world, page_for, new_page, screenshot, settings, live_server, rate_limits_cleared
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
    page.get_by_label("Delivered", exact=True).check()
    screenshot(page, "alert-rules")
    _no_horizontal_scroll(page)
    page.locator("#alert-rules button[type=submit]").click()
    expect(page.locator(".message")).to_contain_text("saved")
    assert AlertRule.objects.get(client=world.client_a).event_types == ["tracker.delivered"]

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
    mac = world.tracker_a.mac_address
    assert message.subject == f"Delivered at Shop Vienna: Pallet 42 ({mac})"
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
    expect(item).to_contain_text("Delivered at Shop Vienna")
    expect(item).to_contain_text("Pallet 42")
    expect(page.locator("#unread-summary")).to_have_text("1 unread")
    screenshot(page, "notifications")
    page.set_viewport_size({"width": 375, "height": 900})
    _no_horizontal_scroll(page)
    page.set_viewport_size({"width": 1400, "height": 900})

    item.locator("button.mark-read").click()
    expect(page.locator("#notifications li.notification.unread")).to_have_count(0)
    expect(page.locator("#unread-count")).to_have_count(0)

    # The admin shows the delivered tracker to the receiver: a link that needs no login.
    page.goto(link)
    page.click("a.share-link")
    page.fill("#id_label", "Receiver")
    page.click("#new-share-link button[type=submit]")
    share_url = page.locator("#issued-url").input_value()
    visitor = new_page()  # no session
    assert visitor.goto(share_url).status == 200
    expect(visitor.locator("#share-map")).to_have_attribute("data-trackers", "1")
    expect(visitor.locator("#share-summary")).to_contain_text("Delivered")
    assert world.tracker_a.mac_address.lower() not in visitor.content().lower()
    screenshot(visitor, "alerts-share-page")
    page.goto("/shares/")
    page.locator("#share-links tbody tr", has_text="Receiver").locator(
        "button", has_text="Revoke"
    ).click()
    expect(page.locator(".message")).to_contain_text("revoked")
    assert visitor.goto(share_url).status == 404


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
