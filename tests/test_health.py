import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_reports_postgis_redis_and_version(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["redis"] is True
    assert body["postgis"].startswith("3.")
    assert body["version"]


def test_healthz_answers_503_when_redis_is_unreachable(client, db, settings):
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["redis"] is False
    assert any(e.startswith("redis") for e in response.json()["errors"])


def _run_with_production_settings(extra_env: dict, *args: str) -> subprocess.CompletedProcess:
    # Start from this environment less everything production must be given explicitly
    # (make exports DATABASE_URL and REDIS_URL, for instance).
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(DJANGO_SETTINGS_MODULE="trackersite.settings.production", **extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "SECRET_KEY": "p" * 20 + "roduction-secret-key-with-enough-entropy-1234567890",
    "SECRETS_ENCRYPTION_KEY": "cHJvZHVjdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4=",
    "DATABASE_URL": "postgis://postgres@127.0.0.1:5432/trackersite",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "trackers.example.com",
}


def test_production_settings_refuse_to_start_without_secret_key():
    env = dict(PRODUCTION_ENV)
    del env["SECRET_KEY"]
    result = _run_with_production_settings(env, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", ["SECRETS_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_settings_refuse_to_start_without_other_secrets(missing):
    env = dict(PRODUCTION_ENV)
    del env[missing]
    result = _run_with_production_settings(env, "check")
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_settings_pass_check_deploy():
    result = _run_with_production_settings(
        PRODUCTION_ENV, "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_wrong_boolean_in_environment_is_an_error():
    result = _run_with_production_settings({**PRODUCTION_ENV, "DEBUG": "maybe"}, "check")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr
