"""No page, API answer, export, command output or log line holds a secret.

The secrets are read back the way an attacker would want them: every model that declares
`encrypted_fields` is decrypted row by row, and each secret is searched for in every form it
could take (raw bytes, hex, base64). The pages are not listed by hand: staff and a customer
crawl every link they can reach from the admin index, the portal and the API root, so a page
added later is searched too.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import deque
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client

from findmy import services as findmy_services
from findmy.simulator import FindMySimulator, SimulatorConfig
from fleet import services as fleet_services
from tests.factories import TrackerFactory
from tests.findmy.factories import AppleAccountFactory
from tracking import encryption
from tracking.models import Tracker

MAX_PAGES = 400
LINK = re.compile(r"""(?:href|src|action)=["'](/[^"'#\s]*)["']""")
JSON_LINK = re.compile(r"""["'](https?://testserver)?(/api/[^"'\s]*)["']""")
# Fields of decrypted JSON that are identifiers shown to staff on purpose, not secrets.
NOT_SECRET = {"dsid", "anisette_url", "username", "account_name", "method"}
SKIP = ("logout", "/static/", "/media/")


def _secret_strings(value, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _secret_strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _secret_strings(v, key)]
    if isinstance(value, str) and key not in NOT_SECRET and len(value) >= 8:
        return [value]
    return []


def decrypted_secrets() -> list[bytes]:
    """Every secret at rest, decrypted, in each spelling it could leak in."""
    needles: set[bytes] = set()
    for model in apps.get_models():
        for field in getattr(model, "encrypted_fields", ()):
            for token in model.objects.exclude(**{field: None}).values_list(field, flat=True):
                plain = encryption.decrypt(bytes(token))
                try:
                    strings = _secret_strings(json.loads(plain))
                except ValueError:
                    strings = None
                if strings is None:  # a raw secret: a private key or a password
                    forms = [plain, plain.hex().encode(), plain.hex().upper().encode()]
                    forms += [base64.b64encode(plain), base64.urlsafe_b64encode(plain)]
                    needles.update(f.rstrip(b"=") for f in forms)
                else:
                    needles.update(s.encode() for s in strings)
    return sorted(needles)


def crawl(client: Client, starts: list[str]) -> dict[str, bytes]:
    """GET every same-site page reachable from the starts (no form is submitted)."""
    seen: dict[str, bytes] = {}
    todo = deque(starts)
    while todo and len(seen) < MAX_PAGES:
        url = todo.popleft()
        if url in seen or any(s in url for s in SKIP):
            continue
        response = client.get(url, HTTP_ACCEPT="text/html,application/json")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
        seen[url] = headers + b"\n\n" + body
        if response.status_code in (301, 302) and response["Location"].startswith("/"):
            todo.append(response["Location"])
        text = body.decode("utf-8", "replace")
        for match in LINK.finditer(text):
            todo.append(match.group(1).replace("&amp;", "&"))
        for match in JSON_LINK.finditer(text):
            todo.append(match.group(2))
    return seen


@pytest.fixture
def secrets_everywhere(world, settings):
    """Trackers with private keys in every lifecycle state, and an account that fetched."""
    for state in Tracker.Lifecycle.values:
        TrackerFactory(production_run=world.run_a, lifecycle_state=state)
    simulator = FindMySimulator(SimulatorConfig(seed=3, report_interval_seconds=1800))
    base = simulator.start("127.0.0.1", 0)
    settings.FINDMY_FETCH_URL = f"{base}/findmyservice/v2/fetch"
    settings.ANISETTE_URL = f"{base}/"
    settings.FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS = 0
    account = AppleAccountFactory(token="TOKEN-search-party-never-shown-0123456789")
    account.set_apple_password("apple-password-never-shown")
    account.save()
    yield simulator
    simulator.stop()


@pytest.mark.django_db(transaction=True)
def test_no_page_export_output_or_log_line_holds_a_secret(
    world, secrets_everywhere, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    findmy_services.fetch_due(max_requests=2)  # logs of a real fetch round, over HTTP

    staff, customer = Client(), Client()
    staff.force_login(world.staff)
    customer.force_login(world.a_admin)
    pages = crawl(staff, ["/admin/", "/api/", "/api/v1/", "/api/schema/", "/"])
    pages.update({f"customer {u}": b for u, b in crawl(customer, ["/", "/api/v1/"]).items()})
    assert len([u for u in pages if "/admin/" in u]) > 20, "the crawl reached the admin"

    batch = fleet_services.keys_generate(batch_name="leak-check", count=5)
    exports = {
        f"export {fmt}": fleet_services.batch_export(batch=batch, fmt=fmt)
        for fmt in fleet_services.EXPORT_FORMATS
    }
    exported = tmp_path / "batch.json"
    outputs = []
    for args in (
        ["findmy_account", "list"],
        ["export_keys", "--batch", "leak-check", "--format", "json", "--out", str(exported)],
    ):
        out = StringIO()
        call_command(*args, stdout=out, stderr=out)
        outputs.append(out.getvalue().encode())
    exports["export_keys file"] = exported.read_bytes()

    haystacks = {**pages, **exports, "command output": b"\n".join(outputs)}
    haystacks["log"] = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records).encode()

    needles = decrypted_secrets()
    assert len(needles) >= 5 * len(Tracker.Lifecycle.values), "every secret is searched for"
    leaks = [
        (where, needle[:12])
        for needle in needles
        for where, text in haystacks.items()
        if needle in text
    ]
    assert leaks == []
