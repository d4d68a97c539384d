"""The partner API's behaviour: versioned paths, one error shape, strict parameters, capped
pages, filters, formats, throttling and the documentation pages."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.utils import timezone

from tests.factories import TrackerFactory
from tracking import encryption
from tracking.models import DailyRollup, HourlyRollup, LocationReport, Tracker

TRACKERS = "/api/v1/trackers/"


def _report(tracker, minutes: int, lon=16.37, lat=48.2, accuracy=20):
    return LocationReport.objects.create(
        tracker=tracker,
        observed_at=datetime(2026, 11, 2, 8, tzinfo=UTC) + timedelta(minutes=minutes),
        point=Point(lon, lat, srid=4326),
        horizontal_accuracy=accuracy,
        confidence=2,
        status_byte=0,
        payload_hash=hashlib.sha256(f"{tracker.pk}-{minutes}".encode()).digest(),
    )


def test_old_unversioned_paths_redirect_permanently_to_v1(client, world):
    response = client.get("/api/trackers/?limit=5")
    assert response.status_code == 308
    assert response["Location"] == "/api/v1/trackers/?limit=5"


def test_errors_are_problem_details_with_the_request_id(api, world, caplog):
    alice = api("alice")
    response = alice.get("/api/v1/trackers/999999999/", HTTP_X_REQUEST_ID="partner-req-42")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response["X-Request-ID"] == "partner-req-42"
    body = response.json()
    assert body["status"] == 404
    assert body["request_id"] == "partner-req-42"
    assert body["instance"] == "/api/v1/trackers/999999999/"
    assert set(body) >= {"type", "title", "detail"}

    unknown_url = alice.get("/api/v1/no-such-thing/")
    assert unknown_url.status_code == 404
    assert unknown_url["Content-Type"] == "application/problem+json"

    with caplog.at_level(logging.INFO):
        logging.getLogger("tracking").info("inside")  # outside a request: placeholder id
    anonymous = api("alice")
    anonymous.credentials()
    refused = anonymous.get(TRACKERS)
    assert refused.status_code == 401
    assert refused.json()["title"] == "Not authenticated"
    assert len(refused["X-Request-ID"]) == 32  # made up when the caller sends none


def test_request_id_is_in_the_log_lines_of_the_request(api, world, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        api("alice").get("/api/v1/trackers/999999999/", HTTP_X_REQUEST_ID="trace-me-7")
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.request_id == "trace-me-7" for r in records)


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=9223372036854775808", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("production_run=-1", "production_run"),
        ("status=LOST", "status"),
        ("mac_address=zz", "mac_address"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,50,5,40", "bbox"),
        ("last_seen_after=yesterday", "last_seen_after"),
        ("ordering=private_key", "ordering"),
        ("colour=red", "colour"),
    ],
)
def test_invalid_query_parameters_are_a_400_naming_them(api, world, query, parameter):
    response = api("alice").get(f"{TRACKERS}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["parameter"] == parameter
    assert parameter in body["detail"]


def test_another_clients_run_is_refused_as_a_filter_like_a_missing_one(api, world):
    response = api("alice").get(f"{TRACKERS}?production_run={world.run_b.pk}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "production_run"


def test_page_size_is_capped_and_paged(api, world):
    for _ in range(3):
        TrackerFactory(production_run=world.run_a)
    body = api("alice").get(f"{TRACKERS}?limit=2").json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert "offset=2" in body["next"]


def test_tracker_filters(api, world):
    t = world.tracker_a
    other = TrackerFactory(production_run=world.run_a)
    Tracker.objects.filter(pk=t.pk).update(
        status=Tracker.Status.DELIVERED,
        last_report_at=timezone.now() - timedelta(hours=1),
        last_point=Point(16.37, 48.2, srid=4326),
    )
    Tracker.objects.filter(pk=other.pk).update(
        last_report_at=timezone.now() - timedelta(days=3), last_point=Point(2.35, 48.85, srid=4326)
    )
    alice = api("alice")

    def ids(query: str) -> set[int]:
        response = alice.get(f"{TRACKERS}?{query}")
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    plain = t.mac_address.replace(":", "").lower()
    dashed = t.mac_address.replace(":", "-").lower()
    assert ids(f"mac_address={plain}") == ids(f"mac_address={dashed}") == {t.pk}
    assert ids("status=DELIVERED") == {t.pk}
    assert ids("status=DELIVERED&status=UNKNOWN") == {t.pk, other.pk}
    assert ids("bbox=16.2,48.1,16.5,48.3") == {t.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(f"last_seen_after={since.replace('+', '%2B')}") == {t.pk}
    assert ids(f"last_seen_before={since.replace('+', '%2B')}") == {other.pk}
    assert ids(f"production_run={world.run_a.pk}") == {t.pk, other.pk}
    assert ids(f"brand={world.run_a.brand_id}") == {t.pk, other.pk}
    ordered = alice.get(f"{TRACKERS}?ordering=-last_report_at").json()["results"]
    assert [row["id"] for row in ordered] == [t.pk, other.pk]


def test_updated_since_follows_set_based_writes(api, world):
    t = world.tracker_a
    before = Tracker.objects.get(pk=t.pk).updated_at
    mark = timezone.now()
    Tracker.objects.filter(pk=t.pk).update(status=Tracker.Status.IN_TRANSIT)  # as the engine
    after = Tracker.objects.get(pk=t.pk).updated_at
    assert after > before and after >= mark
    stamp = mark.isoformat().replace("+", "%2B")
    rows = api("alice").get(f"{TRACKERS}?updated_since={stamp}").json()["results"]
    assert [row["id"] for row in rows] == [t.pk]


def test_tracker_json_and_geojson_without_key_material(api, world):
    t = world.tracker_a
    Tracker.objects.filter(pk=t.pk).update(last_point=Point(16.37, 48.2, srid=4326))
    never = TrackerFactory(production_run=world.run_a)
    alice = api("alice")
    plain = alice.get(TRACKERS).json()["results"]
    positions = {row["id"]: row["position"] for row in plain}
    assert positions[t.pk] == {"longitude": 16.37, "latitude": 48.2}
    assert positions[never.pk] is None

    response = alice.get(f"{TRACKERS}?format=geojson")
    assert response["Content-Type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection" and collection["count"] == 2
    features = {f["id"]: f for f in collection["features"]}
    assert features[t.pk]["geometry"] == {"type": "Point", "coordinates": [16.37, 48.2]}
    assert features[never.pk]["geometry"] is None
    assert features[t.pk]["properties"]["mac_address"] == t.mac_address
    assert "position" not in features[t.pk]["properties"]

    body = response.content.decode() + str(plain)
    private_key = encryption.decrypt(t.private_key_encrypted)
    for secret in (private_key.hex(), bytes(t.private_key_encrypted).decode()):
        assert secret not in body
    assert "private" not in body and world.tracker_b.mac_address not in body


def test_locations_raw_and_rollups_in_cursor_pages(api, world):
    t = world.tracker_a
    for minute in range(0, 50, 10):
        _report(t, minute, lon=16.0 + minute / 100)
    alice = api("alice")
    url = f"/api/v1/trackers/{t.pk}/locations/"
    window = "since=2026-11-02T07:00:00Z&until=2026-11-02T10:00:00Z"
    first = alice.get(f"{url}?{window}&limit=2").json()
    assert [row["position"]["longitude"] for row in first["results"]] == [16.0, 16.1]
    second = alice.get(first["next"]).json()
    assert [row["position"]["longitude"] for row in second["results"]] == [16.2, 16.3]
    assert second["results"][0]["reports"] == 1

    geo = alice.get(f"{url}?{window}&format=geojson&limit=10").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 5
    assert geo["features"][0]["geometry"]["coordinates"] == [16.0, 48.2]

    bucket = datetime(2026, 11, 2, 8, tzinfo=UTC)
    HourlyRollup.objects.create(
        tracker=t,
        bucket=bucket,
        report_count=5,
        first_observed_at=bucket,
        last_observed_at=bucket + timedelta(minutes=40),
        centroid=Point(16.2, 48.2, srid=4326),
        best_accuracy_m=20,
    )
    hourly = alice.get(f"{url}?{window}&resolution=hourly").json()["results"]
    assert [(row["reports"], row["accuracy_m"]) for row in hourly] == [(5, 20)]
    assert not DailyRollup.objects.exists()
    assert alice.get(f"{url}?{window}&resolution=daily").json()["results"] == []

    bad = alice.get(f"{url}?cursor=not-a-cursor")
    assert bad.status_code == 400 and bad.json()["errors"][0]["parameter"] == "cursor"
    backwards = alice.get(f"{url}?since=2026-11-03T00:00:00Z&until=2026-11-02T00:00:00Z")
    assert backwards.status_code == 400 and backwards.json()["errors"][0]["parameter"] == "since"


def test_me_tells_user_roles_and_key_role(api, world):
    me = api("alice").get("/api/v1/me/").json()
    assert me["kind"] == "user" and me["username"] == "alice"
    assert me["memberships"] == [
        {"client": {"id": world.client_a.pk, "name": world.client_a.name}, "role": "ADMIN"}
    ]
    key = api(key="a_viewer").get("/api/v1/me/").json()
    assert key["kind"] == "api_key" and key["api_key"]["role"] == "VIEWER"
    assert key["memberships"][0]["client"]["id"] == world.client_a.pk


def test_place_validation_names_fields(api, world):
    alice = api("alice")
    crossing = {
        "type": "Polygon",
        "coordinates": [[[16.0, 48.0], [16.1, 48.1], [16.1, 48.0], [16.0, 48.1], [16.0, 48.0]]],
    }
    response = alice.post(
        "/api/v1/places/",
        {"kind": "STORAGE", "name": "Bowtie", "polygon": crossing, "radius_m": 5},
        format="json",
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"polygon.coordinates", "radius_m"}
    foreign = alice.post(
        "/api/v1/places/",
        {
            "kind": "STORAGE",
            "name": "Depot",
            "point": {"longitude": 16.3, "latitude": 48.2},
            "production_runs": [world.run_b.pk],
        },
        format="json",
    )
    assert foreign.status_code == 400
    assert foreign.json()["errors"][0]["field"] == "production_runs"
    good = alice.post(
        "/api/v1/places/",
        {"kind": "STORAGE", "name": "Depot", "point": {"longitude": 16.3, "latitude": 48.2}},
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["client"] == world.client_a.pk
    again = alice.post(
        "/api/v1/places/",
        {"kind": "STORAGE", "name": "Depot", "point": {"longitude": 16.3, "latitude": 48.2}},
        format="json",
    )
    assert again.status_code == 400 and "already exists" in str(again.json()["errors"])


def test_throttling_answers_429_with_retry_after(api, world, settings):
    cache.clear()
    from tracking.authentication import PartnerRateThrottle

    rates = {**PartnerRateThrottle.THROTTLE_RATES, "partner": "3/min"}
    PartnerRateThrottle.THROTTLE_RATES, original = rates, PartnerRateThrottle.THROTTLE_RATES
    try:
        key = api(key="a_viewer")
        codes = [key.get("/api/v1/me/").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = key.get("/api/v1/me/")
        assert 1 <= int(response["Retry-After"]) <= 60
        assert response.json()["status"] == 429
        # A person has a budget of their own.
        assert api("victor").get("/api/v1/me/").status_code == 200
    finally:
        PartnerRateThrottle.THROTTLE_RATES = original
        cache.clear()


def test_swagger_ui_and_redoc_are_served_from_static(client, world):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/trackers/" in schema.content
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        page = client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn" not in page.lower() and "unpkg" not in page.lower()
