"""make run's simulator logs the demo account in through the real login client, over HTTP."""

import os
import socket
import subprocess
import sys
import time

from django.db import connection

from findmy.models import AppleAccount
from tracking.models import AuditEvent

from .conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_simulator(port: int, *extra: str) -> subprocess.Popen:
    db = connection.settings_dict
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ANISETTE_URL": base + "/",
        "APPLE_GSA_URL": base,
        "APPLE_SETUP_URL": base,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "findmy_simulator", "--port", str(port), *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def output_until(process: subprocess.Popen, marker: str, timeout: float = 60) -> str:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError(f"{marker!r} never came: {''.join(lines)}")


def test_simulator_logs_the_demo_account_in_once(transactional_db):
    port = free_port()
    process = serve_simulator(port, "--log-in-account", "demo")
    try:
        out = output_until(process, "Apple account demo")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "logged in through the login client (GSA s2k, second factor trusted_device" in out
    account = AppleAccount.objects.get(name="demo")
    assert account.username == "demo@example.com"
    assert account.health == AppleAccount.Health.OK and account.keeps_password
    assert "demo-apple-password" not in out
    assert AuditEvent.objects.filter(
        action="findmy.account_created", details__source="demo (trusted_device)"
    ).exists()

    # The next `make run` finds it logged in and leaves it alone.
    token = account.session.search_party_token
    process = serve_simulator(free_port(), "--log-in-account", "demo")
    try:
        out = output_until(process, "Apple account demo")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "is logged in already" in out
    account.refresh_from_db()
    assert account.session.search_party_token == token
