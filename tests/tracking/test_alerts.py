"""Customer alerts: rules and subscriptions, the fan-out, e-mails (storms, debounce, crashes),
digests in the recipient's timezone, the portal pages and the header's unread count."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core import mail
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun
from geofencing import services as geofencing
from tests.factories import ProductionRunFactory, TrackerFactory
from tests.geofencing.conftest import add_report, offset
from tests.workers import send_task, start_worker, stop_worker
from trackersite.operations_alerts import operations_alerts_check
from tracking import alert_emails, alerts, encryption, services
from tracking.models import (
    AlertEmail,
    AlertRule,
    AlertSubscription,
    Event,
    Notification,
)

ALL_TYPES = list(Event.Type.values)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The unread counts are cached in Redis, which outlives a test's database."""
    cache.clear()


def rule(world, types=ALL_TYPES, **kwargs):
    return alerts.alert_rule_save(
        user=world.a_admin, client=world.client_a, event_types=types, all_runs=True, **kwargs
    )


def follow(user, client, delivery="IMMEDIATE", **kwargs):
    return alerts.alert_subscription_save(user=user, client=client, delivery=delivery, **kwargs)


def event(tracker, type_="tracker.arrived", *, at=None, place="Shop Vienna", **payload):
    return services.event_record(
        type=type_,
        tracker=tracker,
        payload={
            "place": {"id": 1, "name": place, "kind": "DELIVERY"} if place else None,
            **payload,
        },
        occurred_at=at or timezone.now(),
    )


# --- Rules, subscriptions and the fan-out -------------------------------------------------


@pytest.mark.django_db
def test_each_event_type_reaches_the_members_who_follow_it_once(world):
    rule(world)
    follow(world.a_admin, world.client_a)
    follow(world.a_viewer, world.client_a, delivery="DIGEST")
    follow(world.b_admin, world.client_b)  # B's member: never A's alerts
    events = [event(world.tracker_a, type_) for type_ in ALL_TYPES]
    event(world.tracker_b)  # B has no rule: nothing

    result = alerts.notifications_fan_out()
    assert result.events == len(ALL_TYPES) + 1
    got = {
        (n.user.username, n.kind, n.delivery) for n in Notification.objects.select_related("user")
    }
    assert got == {
        *(("alice", t, "IMMEDIATE") for t in ALL_TYPES),
        *(("victor", t, "DIGEST") for t in ALL_TYPES),
    }
    assert not Event.objects.filter(notified_at__isnull=True).exists()
    # Run twice: nothing new (each event is looked at once, each pair unique).
    assert alerts.notifications_fan_out().events == 0
    Event.objects.filter(pk__in=[e.pk for e in events]).update(notified_at=None)
    assert alerts.notifications_fan_out().notifications == 0
    assert Notification.objects.count() == 2 * len(ALL_TYPES)


@pytest.mark.django_db
def test_one_status_change_alerts_once_with_its_most_telling_event(world):
    """A real status-engine run over real reports: the change to DELIVERED writes status
    changed, arrived and delivered; a member hears "delivered" once. Carried off again, the
    change writes status changed, left and moved after delivery; the member hears "moved
    after delivery". With only "left" on, the same change is a "left" alert."""
    shop = (16.3725, 48.2082)
    geofencing.place_create(
        client=world.client_a, kind="DELIVERY", name="Shop", radius_m=200,
        point=Point(*shop, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    rule(world)
    follow(world.a_admin, world.client_a)
    add_report(world.tracker_a, *shop, minutes=0)
    geofencing.evaluate_statuses()
    assert Event.objects.count() == 3
    assert alerts.notifications_fan_out().notifications == 1
    assert Notification.objects.get().kind == "tracker.delivered"

    add_report(world.tracker_a, *offset(*shop, metres=3000), minutes=300)
    add_report(world.tracker_a, *offset(*shop, metres=4000), minutes=310)
    geofencing.evaluate_statuses()
    with transaction.atomic():
        sid = transaction.savepoint()
        assert alerts.notifications_fan_out().notifications == 1
        assert Notification.objects.latest("id").kind == "tracker.moved_after_delivery"
        transaction.savepoint_rollback(sid)
    rule(world, types=["tracker.left", "tracker.arrived"])
    assert alerts.notifications_fan_out().notifications == 1
    assert Notification.objects.latest("id").kind == "tracker.left"


@pytest.mark.django_db
def test_rules_and_subscriptions_choose_types_and_runs(world):
    other_run = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    other_tracker = TrackerFactory(production_run=other_run)
    rule(world, types=["tracker.delivered", "tracker.silent"])
    follow(world.a_admin, world.client_a)  # every run
    follow(world.a_viewer, world.client_a, all_runs=False, production_runs=[other_run])
    event(world.tracker_a, "tracker.delivered")
    event(world.tracker_a, "tracker.left")  # off in the rule
    event(other_tracker, "tracker.silent")
    alerts.notifications_fan_out()
    got = sorted(
        (n.user.username, n.kind, n.tracker_id) for n in Notification.objects.select_related("user")
    )
    assert got == sorted(
        [
            ("alice", "tracker.delivered", world.tracker_a.pk),
            ("alice", "tracker.silent", other_tracker.pk),
            ("victor", "tracker.silent", other_tracker.pk),
        ]
    )
    # The rule limited to the other run: alice no longer hears of run A's trackers.
    alerts.alert_rule_save(
        user=world.a_admin,
        client=world.client_a,
        event_types=["tracker.delivered"],
        all_runs=False,
        production_runs=[other_run],
    )
    event(world.tracker_a, "tracker.delivered")
    event(other_tracker, "tracker.delivered")
    alerts.notifications_fan_out()
    assert Notification.objects.filter(kind="tracker.delivered").count() == 3  # +alice, +victor


@pytest.mark.django_db
def test_a_former_member_and_an_off_subscription_get_nothing(world):
    rule(world)
    follow(world.a_admin, world.client_a, delivery="OFF")
    follow(world.a_viewer, world.client_a)
    world.a_viewer.memberships.all().delete()
    event(world.tracker_a)
    assert alerts.notifications_fan_out().notifications == 0


@pytest.mark.django_db
def test_rules_refuse_another_clients_run_and_unknown_types(world):
    with pytest.raises(Exception, match="Not a run of"):
        alerts.alert_rule_save(
            user=world.a_admin,
            client=world.client_a,
            event_types=["tracker.arrived"],
            all_runs=False,
            production_runs=[world.run_b],
        )
    with pytest.raises(Exception, match="tracker.teleported"):
        rule(world, types=["tracker.teleported"])
    with pytest.raises(Exception, match="Only an admin"):
        alerts.alert_rule_save(
            user=world.a_viewer, client=world.client_a, event_types=[], all_runs=True
        )
    assert not AlertRule.objects.exists()


# --- E-mails ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_email_names_tracker_place_local_time_and_links_the_tracker_page(world, settings):
    settings.SITE_URL = "https://portal.example.com"
    settings.TIME_ZONE = "Europe/Vienna"  # the recipient has no profile timezone: the site's
    world.tracker_a.label = "Pallet 7"
    world.tracker_a.save()
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a, "tracker.delivered", at=datetime(2026, 12, 4, 15, 30, tzinfo=UTC))
    alerts.notifications_fan_out()
    assert alert_emails.emails_send_due().emails == 1

    [message] = mail.outbox
    assert message.to == [world.a_admin.email]
    assert message.subject == f"Delivered at Shop Vienna: Pallet 7 ({world.tracker_a.mac_address})"
    link = f"https://portal.example.com/trackers/{world.tracker_a.pk}/history/"
    assert link == "https://portal.example.com" + reverse(
        "portal:tracker-history", args=[world.tracker_a.pk]
    )
    html = message.alternatives[0][0]
    for part in (message.body, html):
        assert "Pallet 7" in part and world.tracker_a.mac_address in part
        assert "Shop Vienna" in part and link in part
        assert "2026-12-04 16:30 CET" in part  # 15:30 UTC in Vienna
    assert message.extra_headers["Message-ID"].endswith("@portal.example.com>")
    email = AlertEmail.objects.get()
    assert email.state == "SENT" and message.extra_headers["Message-ID"] == (
        f"<alert-{email.pk}@portal.example.com>"
    )
    assert alert_emails.emails_send_due().emails == 0  # nothing twice


@pytest.mark.django_db
def test_a_storm_is_one_email_listing_fifty_and_how_many_more(world):
    rule(world)
    follow(world.a_admin, world.client_a)
    trackers = [TrackerFactory(production_run=world.run_a) for _ in range(60)]
    for tracker in trackers:
        event(tracker, "tracker.arrived")
    alerts.notifications_fan_out()
    assert alert_emails.emails_send_due().emails == 1
    [message] = mail.outbox
    assert message.subject == "60 alerts"
    assert message.body.count("- Arrived at Shop Vienna") == 50
    assert "and 10 more" in message.body
    assert "and 10 more" in message.alternatives[0][0]
    assert AlertEmail.objects.get().notification_count == 60
    assert Notification.objects.filter(state="EMAILED").count() == 60


@pytest.mark.django_db
def test_a_flapping_tracker_alerts_once_per_debounce_period(world, settings):
    settings.ALERTS_DEBOUNCE_MINUTES = 30
    rule(world)
    follow(world.a_admin, world.client_a)
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    # Arrived and left every 5 minutes for 70 minutes, reported over several runs.
    for minute in range(0, 70, 10):
        event(world.tracker_a, "tracker.arrived", at=t0 + timedelta(minutes=minute))
        event(world.tracker_a, "tracker.left", at=t0 + timedelta(minutes=minute + 5))
        if minute % 20 == 0:
            alerts.notifications_fan_out()
    alerts.notifications_fan_out()
    kept = Notification.objects.exclude(state="DEBOUNCED")
    arrived = sorted(kept.filter(kind="tracker.arrived").values_list("occurred_at", flat=True))
    left = sorted(kept.filter(kind="tracker.left").values_list("occurred_at", flat=True))
    minutes = [[int((at - t0).total_seconds() // 60) for at in ats] for ats in (arrived, left)]
    assert minutes == [[0, 30, 60], [5, 35, 65]]
    assert Notification.objects.filter(state="DEBOUNCED").count() == 14 - 6
    # Another person's alerts and another tracker's are debounced on their own.
    follow(world.a_viewer, world.client_a)
    event(world.tracker_a, "tracker.arrived", at=t0 + timedelta(minutes=75))
    event(TrackerFactory(production_run=world.run_a), "tracker.arrived", at=t0)
    alerts.notifications_fan_out()
    assert kept.filter(user=world.a_viewer).count() == 2
    assert not kept.filter(user=world.a_admin, occurred_at=t0 + timedelta(minutes=75)).exists()
    alert_emails.emails_send_due()
    listed = "".join(m.body for m in mail.outbox if m.to == [world.a_admin.email])
    assert listed.count("- Arrived at") == 4 and listed.count("- Left") == 3


@pytest.mark.django_db(transaction=True)
def test_a_worker_lost_after_handing_the_email_over_never_sends_it_twice(world, settings):
    """The pieces of emails_send_due, each in its own transaction, with the worker "dying"
    after the mail server took the message and before it was marked sent."""
    settings.ALERTS_EMAIL_LEASE_SECONDS = 60
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a, "tracker.delivered")
    alerts.notifications_fan_out()

    [email] = alert_emails._claim(
        alert_emails.Q(delivery="IMMEDIATE"), kind=AlertEmail.Kind.IMMEDIATE
    )
    message = alert_emails.compose(email, list(email.notifications.all()))
    assert AlertEmail.objects.filter(pk=email.pk, state="CLAIMED").update(state="SENDING") == 1
    message.send()
    # ... the worker dies here: no mark. The next runs, before and after the lease:
    assert alert_emails.emails_send_due().emails == 0
    later = timezone.now() + timedelta(seconds=61)
    assert alert_emails.emails_expire_leases(now=later) == (0, 1)
    assert alert_emails.emails_send_due().emails == 0
    assert len(mail.outbox) == 1
    assert AlertEmail.objects.get().state == "UNCERTAIN"
    # The alert itself is still in the person's list, unread.
    assert Notification.objects.get().read_at is None


@pytest.mark.django_db(transaction=True)
def test_a_worker_lost_before_the_hand_over_gets_its_email_sent_once(world, settings):
    settings.ALERTS_EMAIL_LEASE_SECONDS = 60
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a, "tracker.delivered")
    alerts.notifications_fan_out()
    [lost] = alert_emails._claim(alert_emails.Q(delivery="IMMEDIATE"), kind="IMMEDIATE")
    # ... dies while composing. Within the lease nothing is sent; after it, once.
    assert alert_emails.emails_send_due().emails == 0
    assert alert_emails.emails_expire_leases(now=timezone.now() + timedelta(seconds=61)) == (1, 0)
    assert alert_emails.emails_send_due().emails == 1
    assert alert_emails.emails_send_due().emails == 0
    assert len(mail.outbox) == 1
    lost.refresh_from_db()
    assert lost.state == "RELEASED"
    assert AlertEmail.objects.filter(state="SENT").count() == 1


@pytest.mark.django_db
def test_a_person_without_an_address_still_sees_the_alert(world):
    world.a_admin.email = ""
    world.a_admin.save()
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a)
    alerts.notifications_fan_out()
    assert alert_emails.emails_send_due().emails == 0
    assert Notification.objects.get().state == "NO_ADDRESS"
    assert alerts.unread_count(world.a_admin) == 1


# --- Digests ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_digest_goes_out_at_the_local_hour_once_with_local_times(world, settings):
    """A Los Angeles person with the digest at 08:00: 08:00 PST is 16:00 UTC in December."""
    settings.TIME_ZONE = "America/Los_Angeles"
    rule(world)
    follow(world.a_viewer, world.client_a, delivery="DIGEST", digest_hour=8)
    follow(world.a_admin, world.client_a, delivery="DIGEST", digest_hour=9)
    # Late in the evening in Los Angeles, early morning in UTC.
    event(world.tracker_a, "tracker.delivered", at=datetime(2026, 12, 4, 5, 30, tzinfo=UTC))
    event(world.tracker_a, "tracker.left", at=datetime(2026, 12, 4, 7, 59, tzinfo=UTC))
    alerts.notifications_fan_out()
    assert alert_emails.emails_send_due().emails == 0  # digests wait for their hour

    assert alert_emails.digests_send(now=datetime(2026, 12, 4, 15, 59, tzinfo=UTC)) == 0
    assert alert_emails.digests_send(now=datetime(2026, 12, 4, 16, 0, tzinfo=UTC)) == 1
    assert alert_emails.digests_send(now=datetime(2026, 12, 4, 16, 59, tzinfo=UTC)) == 0
    [digest] = mail.outbox
    assert digest.to == [world.a_viewer.email]
    assert digest.subject == "Daily digest: 2 alerts"
    assert "2026-12-03 21:30 PST" in digest.body  # the evening before, local time
    assert "2026-12-03 23:59 PST" in digest.body
    assert "America/Los_Angeles" in digest.body
    # The 09:00 person at 17:00 UTC; a new alert after that waits for the next day.
    assert alert_emails.digests_send(now=datetime(2026, 12, 4, 17, 0, tzinfo=UTC)) == 1
    event(world.tracker_a, "tracker.arrived", at=datetime(2026, 12, 4, 18, 5, tzinfo=UTC))
    alerts.notifications_fan_out()
    assert alert_emails.digests_send(now=datetime(2026, 12, 4, 18, 30, tzinfo=UTC)) == 0
    assert alert_emails.digests_send(now=datetime(2026, 12, 5, 16, 10, tzinfo=UTC)) == 1
    assert [m.to for m in mail.outbox] == [[world.a_viewer.email], [world.a_admin.email],
                                           [world.a_viewer.email]]  # fmt: skip
    assert Notification.objects.filter(state="PENDING").count() == 1  # the admin's, for 09:00


# --- Pages ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_clients_admins_change_its_rules(client, world):
    url = reverse("portal:alert-rules", args=[world.client_a.pk])
    body = {"event_types": ["tracker.delivered"], "all_runs": "on", "silent_after_hours": 12}
    client.force_login(world.a_viewer)
    assert client.get(url).status_code == 403
    assert client.post(url, body).status_code == 403
    client.force_login(world.b_admin)
    assert client.post(url, body).status_code == 404
    assert not AlertRule.objects.exists()
    client.force_login(world.a_admin)
    assert client.post(url, body).status_code == 302
    rule = AlertRule.objects.get(client=world.client_a)
    assert rule.event_types == ["tracker.delivered"] and rule.all_runs
    world.client_a.refresh_from_db()
    assert world.client_a.silent_after_hours == 12
    bad = client.post(url, {**body, "all_runs": ""})
    assert bad.status_code == 200
    assert "Choose at least one run, or all runs." in bad.content.decode()


@pytest.mark.django_db
def test_members_choose_their_own_subscription(client, world):
    client.force_login(world.a_viewer)
    page = client.get(reverse("portal:alerts")).content.decode()
    assert world.client_a.name in page and world.client_b.name not in page
    prefix = f"c{world.client_a.pk}"
    response = client.post(
        reverse("portal:alerts"),
        {
            "client": world.client_a.pk,
            f"{prefix}-delivery": "DIGEST",
            f"{prefix}-digest_hour": "7",
            f"{prefix}-production_runs": [world.run_a.pk],
        },
    )
    assert response.status_code == 302
    sub = AlertSubscription.objects.get(user=world.a_viewer)
    assert (sub.delivery, sub.digest_hour, sub.all_runs) == ("DIGEST", 7, False)
    assert list(sub.production_runs.all()) == [world.run_a]
    # Posting for a client the person is not a member of changes nothing.
    client.post(
        reverse("portal:alerts"),
        {"client": world.client_b.pk, f"c{world.client_b.pk}-delivery": "OFF"},
    )
    assert AlertSubscription.objects.count() == 1


@pytest.mark.django_db
def test_notifications_are_each_persons_own_and_mark_read(client, world):
    rule(world)
    follow(world.a_admin, world.client_a)
    follow(world.a_viewer, world.client_a)
    event(world.tracker_a, "tracker.delivered")
    event(world.tracker_a, "tracker.silent", place=None, silent_after_hours=24)
    alerts.notifications_fan_out()
    mine = Notification.objects.filter(user=world.a_admin).order_by("id")
    theirs = Notification.objects.filter(user=world.a_viewer).first()

    client.force_login(world.a_admin)
    page = client.get(reverse("portal:notifications")).content.decode()
    assert "Delivered at Shop Vienna" in page and "Silent: no report for 24 h" in page
    assert 'id="unread-count">2<' in page
    assert client.post(reverse("portal:notification-read", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("portal:notification-read", args=[mine[0].pk])).status_code == 302
    assert 'id="unread-count">1<' in client.get(reverse("portal:notifications")).content.decode()
    client.post(reverse("portal:notifications-read-all"))
    assert alerts.unread_count(world.a_admin) == 0
    assert alerts.unread_count(world.a_viewer) == 2  # the other person's are untouched


@pytest.mark.django_db
def test_the_header_count_costs_one_query_then_none(client, world):
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a)
    alerts.notifications_fan_out()
    client.force_login(world.a_admin)
    url = reverse("portal:alerts")
    client.get(url)  # warm the session
    alerts.unread_count_forget([world.a_admin.pk])
    with CaptureQueriesContext(connection) as cold:
        client.get(url)
    with CaptureQueriesContext(connection) as warm:
        page = client.get(url).content.decode()
    assert len(cold) == len(warm) + 1
    assert 'id="unread-count">1<' in page


# --- Staff operations alerts ----------------------------------------------------------------


@pytest.mark.django_db
def test_staff_are_alerted_to_logins_failing_fetches_and_ending_runs_once(world, staff_in):

    operator = staff_in("operations")
    support = staff_in("support")
    now = timezone.now()
    AppleAccount.objects.create(
        name="fetcher-2",
        session_encrypted=encryption.encrypt(b"{}"),
        health=AppleAccount.Health.NEEDS_LOGIN,
        last_error_at=now - timedelta(minutes=3),
    )
    FetchRun.objects.create(started_at=now - timedelta(minutes=50))  # the last success
    FetchRun.objects.create(started_at=now - timedelta(minutes=40), error_kind="http_503")
    FetchRun.objects.create(started_at=now - timedelta(minutes=1), error_kind="http_503")
    tomorrow_noon = timezone.make_aware(
        datetime.combine(timezone.localdate(now) + timedelta(days=1), datetime.min.time())
    ) + timedelta(hours=12)
    ProductionRunFactory(client=world.client_a, name="Ends soon", ends_at=tomorrow_noon)

    written = operations_alerts_check(now=now)
    kinds = sorted(Notification.objects.filter(user=operator).values_list("kind", flat=True))
    assert kinds == ["ops.apple_needs_login", "ops.fetch_failing", "ops.run_ending"]
    assert written == 3 * 2  # the operator and the superuser of the world
    assert not Notification.objects.filter(user=support).exists()
    assert operations_alerts_check(now=now + timedelta(minutes=5)) == 0  # once per problem
    alert_emails.emails_send_due()
    to_operator = [m for m in mail.outbox if m.to == [operator.email]]
    assert len(to_operator) == 1 and to_operator[0].subject == "3 alerts"
    assert "needs a login" in to_operator[0].body and "ends tomorrow" in to_operator[0].body


@pytest.mark.django_db
def test_fetching_that_failed_briefly_or_recovered_is_no_alert(world, staff_in):

    staff_in("operations")
    now = timezone.now()
    FetchRun.objects.create(started_at=now - timedelta(minutes=20), error_kind="http_503")
    assert operations_alerts_check(now=now) == 0  # 20 minutes only
    FetchRun.objects.create(started_at=now - timedelta(minutes=1))  # recovered
    assert operations_alerts_check(now=now + timedelta(minutes=30)) == 0


# --- Through a real Celery worker -------------------------------------------------------------


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_notify_task_in_a_worker_fans_out_and_emails(world, tmp_path):
    rule(world)
    follow(world.a_admin, world.client_a)
    trackers = [world.tracker_a, *(TrackerFactory(production_run=world.run_a) for _ in range(2))]
    for tracker in trackers:
        event(tracker, "tracker.delivered")
    queue = f"alerts-test-{os.getpid()}"
    worker = start_worker(
        queue,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path),
    )
    try:
        send_task("tracking.tasks.notify_alerts", queue)
        deadline = time.monotonic() + 180  # a busy machine starts a worker slowly
        while not AlertEmail.objects.filter(state="SENT").exists():
            assert time.monotonic() < deadline, "the worker never sent the e-mail"
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.2)
        send_task("tracking.tasks.notify_alerts", queue)  # again: nothing new
        time.sleep(2)
    finally:
        stop_worker(worker)
    assert Notification.objects.filter(state="EMAILED").count() == 3
    assert not Event.objects.filter(notified_at__isnull=True).exists()
    assert AlertEmail.objects.count() == 1
    written = list(tmp_path.iterdir())
    assert len(written) == 1  # one e-mail for the three alerts
    assert written[0].read_text().count("Delivered at Shop Vienna") >= 3


@pytest.mark.django_db
def test_a_mail_server_that_refuses_leaves_the_alerts_to_be_sent_again(world, settings):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once closed
    rule(world)
    follow(world.a_admin, world.client_a)
    event(world.tracker_a, "tracker.delivered")
    alerts.notifications_fan_out()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    assert alert_emails.emails_send_due().emails == 0
    assert AlertEmail.objects.get().state == "RELEASED"
    assert Notification.objects.get().state == "PENDING"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert alert_emails.emails_send_due().emails == 1
    assert len(mail.outbox) == 1
