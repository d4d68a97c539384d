"""Settings that would fail only at first use fail at start-up; production serves its static."""

import os
import subprocess
import sys

import pytest

from tests.test_health import PRODUCTION_ENV, ROOT, _run_with_production_settings
from trackersite.checks import settings_are_usable

VALID_KEY = PRODUCTION_ENV["SECRETS_ENCRYPTION_KEY"]


def test_the_development_settings_pass():
    assert settings_are_usable() == []


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("SECRETS_ENCRYPTION_KEY", "not-a-key", "trackersite.E001"),
        ("SECRETS_ENCRYPTION_OLD_KEYS", [VALID_KEY, "short"], "trackersite.E001"),
        ("FINDMY_FETCH_URL", "gateway.icloud.com/fetch", "trackersite.E002"),
        ("ANISETTE_URL", "ftp://anisette:6969/", "trackersite.E002"),
        ("FINDMY_FETCH_PROTOCOL", "v3", "trackersite.E003"),
        ("GEOCODER_PROVIDER", "google", "trackersite.E004"),
        ("GEOCODER_SCHEME", "gopher", "trackersite.E005"),
    ],
)
def test_a_setting_that_cannot_work_is_a_system_check_error(settings, name, value, check_id):
    setattr(settings, name, value)
    errors = settings_are_usable()
    assert [e.id for e in errors] == [check_id]
    assert name.split("[")[0] in errors[0].msg


def test_check_deploy_fails_with_an_invalid_encryption_key():
    result = _run_with_production_settings(
        {**PRODUCTION_ENV, "SECRETS_ENCRYPTION_KEY": "not-a-key"}, "check", "--deploy"
    )
    assert result.returncode != 0
    assert "SECRETS_ENCRYPTION_KEY" in result.stderr
    assert "Fernet" in result.stderr


def test_check_deploy_fails_with_an_unknown_fetch_protocol():
    result = _run_with_production_settings(
        {**PRODUCTION_ENV, "FINDMY_FETCH_PROTOCOL": "v9"}, "check", "--deploy"
    )
    assert result.returncode != 0
    assert "trackersite.E003" in result.stderr


def test_production_serves_its_own_static_files(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV},
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.production",
        "STATIC_ROOT": str(tmp_path / "static"),
        "SECURE_SSL_REDIRECT": "false",
    }
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stderr
    probe = (
        "import django; django.setup()\n"
        "from django.templatetags.static import static\n"
        "from django.test import Client\n"
        "client = Client(HTTP_HOST='trackers.example.com')\n"
        "for name in ('admin/css/base.css', 'leaflet/leaflet.js', 'leaflet/leaflet.css'):\n"
        "    url = static(name)\n"
        "    r = client.get(url, HTTP_ACCEPT_ENCODING='gzip')\n"
        "    print(name, url, r.status_code, r.headers.get('Content-Encoding'),"
        " r.headers.get('Cache-Control'))\n"
    )
    served = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    lines = served.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        name, url, status, encoding, cache = line.split(" ", 4)
        assert status == "200", line
        assert url != f"/static/{name}", "names carry their content hash"
        assert encoding == "gzip", line
        assert "max-age=315360000" in cache, line
