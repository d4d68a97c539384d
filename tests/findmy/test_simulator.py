"""The simulator: deterministic reports, routes between the run's places, random walks."""

import math
import time
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib.gis.geos import Point
from django.utils.module_loading import import_string

from findmy import crypto
from findmy.simulator import FindMySimulator, SimulatorConfig, _Tracker
from tests.factories import TrackerFactory
from tracking import encryption


def km(a, b) -> float:
    dlat = (a[0] - b[0]) * 111.0
    dlon = (a[1] - b[1]) * 111.0 * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlon)


def test_the_same_time_gives_the_same_payload_that_decrypts_to_the_route(db):
    tracker = TrackerFactory()
    sim = FindMySimulator(SimulatorConfig(seed=3))
    t = _Tracker(tracker.hashed_advertisement_key, bytes(tracker.advertisement_key), None)
    at = int(time.time()) - 3600
    first, damaged = sim.payload(t, at, [])
    sim._payload_cache.clear()
    again, _ = sim.payload(t, at, [])
    assert first == again and not damaged
    report = crypto.decrypt_report(encryption.decrypt(tracker.private_key_encrypted), first)
    assert report.observed_at == datetime.fromtimestamp(at, UTC)
    lat, lon = sim.position(t, at, [])
    assert (report.latitude, report.longitude) == (
        pytest.approx(lat, abs=1e-6),
        pytest.approx(lon, abs=1e-6),
    )
    # A random walk stays near the run's home.
    assert km((lat, lon), sim._home(None)) < 2 * sim.config.walk_radius_km


def test_report_times_follow_the_interval_inside_the_window():
    sim = FindMySimulator(SimulatorConfig(seed=1, report_interval_seconds=600))
    now = int(time.time())
    times = sim.report_times("key", now - 6000, now)
    assert 9 <= len(times) <= 10
    assert times == sorted(times, reverse=True)
    assert all(a - b == 600 for a, b in zip(times, times[1:], strict=False))
    assert sim.report_times("key", now + 100, now + 5000) == []  # no reports from the future


def test_routes_run_between_the_run_places_the_project_wires_in(world, settings):
    Place = apps.get_model("geofencing", "Place")
    spots = [(48.21, 16.37), (48.31, 16.62), (47.07, 15.44)]
    for i, (lat, lon) in enumerate(spots):
        place = Place.objects.create(
            client=world.client_a,
            kind="DELIVERY" if i else "STORAGE",
            name=f"place {i}",
            point=Point(lon, lat, srid=4326),
        )
        place.production_runs.add(world.run_a)
    tracker = TrackerFactory(production_run=world.run_a)
    routes = import_string(settings.FINDMY_SIMULATOR_ROUTES)  # as findmy_simulator loads it
    sim = FindMySimulator(SimulatorConfig(seed=5, dwell_hours=1, leg_hours=3), routes=routes)
    places = sim._load_routes({world.run_a.pk})[world.run_a.pk]
    assert sorted(places) == sorted(spots)
    t = _Tracker(tracker.hashed_advertisement_key, bytes(tracker.advertisement_key), world.run_a.pk)
    now = int(time.time())
    positions = [sim.position(t, now - h * 900, places) for h in range(0, 96)]
    # Every fix is on a leg between two places (a few tens of metres of noise).
    for p in positions:
        assert (
            any(km(p, a) + km(p, b) <= km(a, b) + 0.2 for a in spots for b in spots if a != b)
            or min(km(p, s) for s in spots) < 0.1
        )
    # It dwells at each of them on the way.
    for spot in spots:
        assert min(km(p, spot) for p in positions) < 0.1


def test_the_simulator_command_serves_anisette_and_fetch(transactional_db):
    import os
    import socket
    import subprocess
    import sys

    import httpx
    from django.db import connection

    from .conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "findmy_simulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                headers = httpx.get(base + "/").json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert headers["X-Apple-I-MD-RINFO"] == "17106176"
        response = httpx.post(
            base + "/findmyservice/v2/fetch",
            json={"fetch": [{"primaryIds": ["x"], "startDate": 0, "endDate": 1}]},
            headers={"X-Apple-I-MD": headers["X-Apple-I-MD"]},
            auth=("1", "t"),
        )
        assert response.json() == {"acsnLocations": {"statusCode": "200", "locationPayload": []}}
    finally:
        proc.terminate()
        proc.wait(10)


def test_without_routes_every_run_walks_and_no_geofencing_table_is_read(
    world, django_assert_num_queries
):
    Place = apps.get_model("geofencing", "Place")
    place = Place.objects.create(
        client=world.client_a, kind="DELIVERY", name="p", point=Point(16.37, 48.21, srid=4326)
    )
    place.production_runs.add(world.run_a)
    tracker = TrackerFactory(production_run=world.run_a)
    sim = FindMySimulator(SimulatorConfig(seed=5))
    assert sim._load_routes({world.run_a.pk}) == {}
    now = int(time.time()) * 1000
    with django_assert_num_queries(1) as queries:  # the trackers, nothing else
        answer = sim.answer([([tracker.hashed_advertisement_key], now - 7_200_000, now)])
    assert "geofencing" not in queries.captured_queries[0]["sql"]
    assert answer[tracker.hashed_advertisement_key]
