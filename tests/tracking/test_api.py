from django.urls import reverse

from tracking import encryption


def _token(client, username: str) -> str:
    response = client.post(
        reverse("api:token-obtain"),
        {"username": username, "password": "pass-for-tests"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["access"]


def test_jwt_token_gives_a_partner_only_their_runs(client, world):
    token = _token(client, "bob")
    response = client.get(reverse("api:production-run-list"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    names = [run["name"] for run in response.json()["results"]]
    assert names == ["Bravo summer run"]
    assert response.json()["results"][0]["phase"] == "LIVE"


def test_tracker_api_is_geojson_without_key_material(client, world):
    tracker = world.tracker_a
    private_key = encryption.decrypt(tracker.private_key_encrypted)
    token = _token(client, "alice")
    response = client.get(reverse("api:tracker-list"), HTTP_AUTHORIZATION=f"Bearer {token}")
    body = response.content.decode()
    assert response.json()["results"]["type"] == "FeatureCollection"
    assert tracker.mac_address in body
    assert world.tracker_b.mac_address not in body
    for secret in (private_key.hex(), bytes(tracker.private_key_encrypted).decode()):
        assert secret not in body
    assert "private" not in body


def test_api_schema_is_served(client, world):
    client.force_login(world.a_viewer)
    response = client.get(reverse("api:schema"))
    assert response.status_code == 200
    assert b"/api/trackers/" in response.content


def test_bad_jwt_is_refused(client, world):
    response = client.get(reverse("api:tracker-list"), HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
