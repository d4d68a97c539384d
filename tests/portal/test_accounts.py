"""A person's account: the profile's timezone (every time in the portal follows it), password
change and password reset by e-mail (both revoke the person's API tokens)."""

import io
import logging
import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from trackersite.requestid import SecretPathLogFilter
from tracking import services
from tracking.models import Profile, Tracker
from tracking.timezones import SESSION_KEY

pytestmark = pytest.mark.django_db

KNOWN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # winter: Los Angeles is UTC-8


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


# --- The profile page --------------------------------------------------------------------


def test_account_page_sets_the_timezone_and_the_session_follows(client, world):
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:account"))
    assert response.status_code == 200
    assert "in UTC" in _text(response)  # no profile yet: the site's timezone

    response = client.post(reverse("portal:account"), {"timezone_name": "Asia/Kolkata"})
    assert response.status_code == 302
    assert Profile.objects.get(user=world.a_viewer).timezone_name == "Asia/Kolkata"
    assert client.session[SESSION_KEY] == "Asia/Kolkata"
    page = client.get(reverse("portal:account"))
    assert "in Asia/Kolkata" in _text(page)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d IST", _text(page))
    assert '<option value="Asia/Kolkata" selected>' in page.content.decode()


def test_account_page_refuses_an_unknown_timezone_by_name(client, world):
    client.force_login(world.a_viewer)
    services.profile_timezone_set(user=world.a_viewer, timezone_name="Europe/Vienna")
    response = client.post(reverse("portal:account"), {"timezone_name": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "“Mars/Olympus_Mons” is not a timezone name" in response.content.decode()
    assert Profile.objects.get(user=world.a_viewer).timezone_name == "Europe/Vienna"


def test_service_refuses_an_unknown_timezone(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.profile_timezone_set(user=world.a_admin, timezone_name="Europe/Atlantis")
    assert "Europe/Atlantis" in str(refused.value.message_dict["timezone_name"])
    assert not Profile.objects.filter(user=world.a_admin).exists()


def test_blank_timezone_means_the_sites(client, world):
    services.profile_timezone_set(user=world.a_admin, timezone_name="Asia/Kolkata")
    client.force_login(world.a_admin)
    client.post(reverse("portal:account"), {"timezone_name": ""})
    assert Profile.objects.get(user=world.a_admin).timezone_name == ""
    assert "in UTC" in _text(client.get(reverse("portal:account")))


# --- Every time on the portal's pages in the person's timezone ----------------------------


@pytest.fixture
def known_times(world):
    Tracker.objects.filter(pk=world.tracker_a.pk).update(status_changed_at=KNOWN)
    world.run_a.starts_at = KNOWN
    world.run_a.save(update_fields=["starts_at"])
    return world


@pytest.mark.parametrize(
    "zone, shown",
    [
        ("America/Los_Angeles", "2026-01-15 04:00 PST"),
        ("Asia/Kolkata", "2026-01-15 17:30 IST"),
        ("", "2026-01-15 12:00 UTC"),
    ],
)
def test_times_on_portal_pages_follow_the_persons_timezone(client, known_times, zone, shown):
    world = known_times
    if zone:
        services.profile_timezone_set(user=world.a_admin, timezone_name=zone)
    client.force_login(world.a_admin)  # the login puts the profile's timezone in the session
    history = _text(client.get(reverse("portal:tracker-history", args=[world.tracker_a.pk])))
    run = _text(client.get(reverse("portal:run-detail", args=[world.run_a.pk])))
    assert f"since {shown}" in history
    assert shown in run
    assert "12:00 UTC" not in (history + run) if zone else True
    # The page tells the map component which timezone to write popups in.
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert f'data-timezone="{zone or "UTC"}"' in page


def test_history_day_range_is_whole_local_days(client, known_times):
    world = known_times
    services.profile_timezone_set(user=world.a_admin, timezone_name="America/Los_Angeles")
    client.force_login(world.a_admin)
    url = reverse("portal:tracker-history", args=[world.tracker_a.pk])
    text = _text(client.get(url + "?start=2026-01-15&end=2026-01-16"))
    assert "2026-01-15 00:00 PST to 2026-01-16 23:59 PST" in text


def test_no_hard_coded_utc_is_left_in_portal_templates():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    for folder in ("portal", "geofencing", "registration"):
        for template in (root / folder).rglob("*.html"):
            text = template.read_text()
            assert not re.search(r"\bUTC\b", text), template
            assert 'date:"Y-m-d H:i"' not in text, template


def test_a_session_without_the_timezone_reads_the_profile_once(client, world):
    client.force_login(world.a_admin)
    services.profile_timezone_set(user=world.a_admin, timezone_name="America/Los_Angeles")
    session = client.session
    del session[SESSION_KEY]  # a session from before the profile's timezone was kept there
    session.save()
    assert "in America/Los_Angeles" in _text(client.get(reverse("portal:account")))
    assert client.session[SESSION_KEY] == "America/Los_Angeles"
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("portal:dashboard"))
    assert not [q for q in queries.captured_queries if "tracking_profile" in q["sql"]]


def test_the_timezone_is_not_left_active_after_the_request(client, world):
    services.profile_timezone_set(user=world.a_admin, timezone_name="Asia/Kolkata")
    client.force_login(world.a_admin)
    client.get(reverse("portal:account"))
    assert timezone.get_current_timezone_name() == "UTC"


def test_machine_endpoints_do_not_read_the_session_for_a_timezone(client, world):
    services.profile_timezone_set(user=world.a_admin, timezone_name="Asia/Kolkata")
    client.force_login(world.a_admin)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("healthz")).status_code == 200
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]]


def test_alert_emails_read_the_same_profile(world):
    from tracking.alert_emails import recipient_timezone

    services.profile_timezone_set(user=world.a_viewer, timezone_name="Asia/Kolkata")
    world.a_viewer.refresh_from_db()
    assert str(recipient_timezone(world.a_viewer)) == "Asia/Kolkata"


# --- Password change and reset -------------------------------------------------------------


def _refresh_token(user) -> RefreshToken:
    return RefreshToken.for_user(user)


def test_password_change_revokes_api_tokens_and_keeps_the_session(client, world):
    token = _refresh_token(world.a_admin)
    client.force_login(world.a_admin)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "pass-for-tests",
            "new_password1": "a-new-long-passphrase-42",
            "new_password2": "a-new-long-passphrase-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()
    assert client.get(reverse("portal:account")).status_code == 200  # still logged in
    world.a_admin.refresh_from_db()
    assert world.a_admin.check_password("a-new-long-passphrase-42")


def test_password_change_refuses_a_wrong_old_password(client, world):
    token = _refresh_token(world.a_admin)
    client.force_login(world.a_admin)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "x-long-pass-9",
            "new_password2": "x-long-pass-9",
        },
    )
    assert response.status_code == 200
    assert "old password was entered incorrectly" in response.content.decode()
    assert not BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()


def test_password_change_needs_a_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def _reset_link(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", body).group(1)


def test_password_reset_by_email_sets_a_password_once_and_revokes_tokens(
    client, world, rate_limits_cleared
):
    token = _refresh_token(world.a_viewer)
    assert "Forgot your password?" in client.get(reverse("login")).content.decode()
    response = client.post(reverse("password_reset"), {"email": world.a_viewer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [world.a_viewer.email]
    assert message.subject == "Set a new password for the tracker platform"
    link = _reset_link(message.body)

    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    set_url = form.redirect_chain[-1][0]  # the token moved into the session
    response = client.post(
        set_url, {"new_password1": "reset-passphrase-77", "new_password2": "reset-passphrase-77"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    assert BlacklistedToken.objects.filter(token__jti=token["jti"]).exists()
    logged_in = client.post(
        reverse("login"), {"username": "victor", "password": "reset-passphrase-77"}
    )
    assert logged_in.status_code == 302 and logged_in["Location"] == reverse("portal:dashboard")
    client.post(reverse("logout"))

    again = client.get(link, follow=True)
    assert again.status_code == 200
    assert "This link does not work any more" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    client, world, rate_limits_cleared
):
    known = client.post(reverse("password_reset"), {"email": world.a_viewer.email}, follow=True)
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert len(mail.outbox) == 1
    assert _text(known) == _text(unknown)


def test_password_reset_mails_an_address_at_most_its_hourly_budget(
    client, world, settings, rate_limits_cleared
):
    settings.PASSWORD_RESET_RATE_PER_ADDRESS = 2
    answers = [
        client.post(reverse("password_reset"), {"email": world.a_viewer.email.upper()})
        for _ in range(4)
    ]
    assert {a["Location"] for a in answers} == {reverse("password_reset_done")}
    assert len(mail.outbox) == 2
    client.post(reverse("password_reset"), {"email": world.a_admin.email})
    assert len(mail.outbox) == 3  # another address has its own budget


# --- Secrets in paths never reach the logs -------------------------------------------------


@pytest.fixture
def console_log():
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, SecretPathLogFilter) for f in h.filters)
    ]
    assert handlers
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_reset_and_invitation_tokens_are_masked_in_log_lines(console_log):
    server = logging.getLogger("django.server")
    server.info('"%s" %s %s', "GET /accounts/reset/MTI/cz5x-0123abcdef/ HTTP/1.1", 302, 0)
    secret = "Qm9vbGVhbnMgYXJlIG5vdCBzZWNyZXRzIGJ1dCB0aGlz"
    server.info('"%s" %s %s', f"GET /invitations/{secret}/ HTTP/1.1", 302, 0)
    written = console_log.getvalue()
    assert "GET /accounts/reset/[token]/ HTTP/1.1" in written
    assert "GET /invitations/[token]/ HTTP/1.1" in written
    assert "cz5x-0123abcdef" not in written and secret not in written
