"""A brand's look: a logo (checked raster image, size limits, stored under MEDIA_ROOT/brands/,
served by the app) and an accent colour (#rrggbb) with a readable text colour, shown on the
pages about its runs."""

import io
import os
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from tracking import brand_look, services
from tracking.models import AuditEvent, Brand

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def image_upload(name="logo.png", *, kind="PNG", size=(120, 40), colour="#1565c0"):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{kind.lower()}")


def _save(brand, **look):
    return services.brand_save(client=brand.client, name=brand.name, brand=brand, **look)


@pytest.mark.parametrize(
    ("accent", "text"),
    [("#1565c0", "#ffffff"), ("#ffeb3b", "#000000"), ("#000000", "#ffffff"),
     ("#ffffff", "#000000"), ("#777777", "#000000"), ("#2E7D32", "#ffffff")],
)  # fmt: skip
def test_text_on_the_accent_is_black_or_white_whichever_reads_better(accent, text):
    assert brand_look.text_colour_on(accent.lower()) == text
    assert brand_look.contrast_ratio(accent.lower(), text) >= 4.5


def test_accent_colour_is_validated_and_stored_lowercase(world):
    brand = _save(world.run_a.brand, accent_colour=" #1A2B3C ")
    assert brand.accent_colour == "#1a2b3c"
    assert brand.accent_text_colour == "#ffffff"
    audit = AuditEvent.objects.filter(action="brand.update").latest("id")
    assert audit.details["accent_colour"] == "#1a2b3c"
    for bad in ["1565c0", "#1565c", "#1565c0f", "#12345g", "red", "#fff"]:
        with pytest.raises(ValidationError) as error:
            _save(Brand.objects.get(pk=brand.pk), accent_colour=bad)
        assert "#rrggbb" in str(error.value), bad
    assert Brand.objects.get(pk=brand.pk).accent_colour == "#1a2b3c"
    assert _save(brand, accent_colour="").accent_text_colour == ""


def test_a_logo_is_stored_under_media_brands_and_served(client, world, media_root):
    brand = _save(world.run_a.brand, logo=image_upload())
    assert brand.logo.name.startswith(f"brands/{brand.client_id}/")
    assert brand.logo.name.endswith(".png")
    assert (media_root / brand.logo.name).is_file()
    response = client.get(brand.logo.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "max-age" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client.get("/media/brands/../../etc/passwd").status_code in (400, 404)
    assert client.get("/media/other.png").status_code == 404  # only brands/ is served


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>"), "is not an image"),
        (SimpleUploadedFile("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
         "is not an image"),
        (image_upload("logo.png", kind="BMP"), "A logo in BMP is not allowed"),
        (image_upload("logo.html"), "'logo.html' is a PNG image: name it .png"),
        (image_upload("big.png", size=(2400, 100)), "2400×100 pixels; at most 2000"),
    ],
)  # fmt: skip
def test_a_logo_that_is_not_a_small_raster_image_is_refused(world, media_root, upload, message):
    brand = world.run_a.brand
    with pytest.raises(ValidationError) as error:
        _save(brand, logo=upload)
    assert message in str(error.value)
    assert not Brand.objects.get(pk=brand.pk).logo
    assert not list(media_root.rglob("*.*"))  # nothing half-written


def test_a_logo_over_the_size_limit_is_refused_naming_the_limit(world, settings):
    noise = io.BytesIO()
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(noise, "PNG")
    assert len(noise.getvalue()) > brand_look.LOGO_MAX_BYTES
    with pytest.raises(ValidationError) as error:
        _save(world.run_a.brand, logo=SimpleUploadedFile("logo.png", noise.getvalue()))
    assert "at most 512 KiB" in str(error.value)


def test_a_replaced_logo_file_is_deleted_after_the_commit(
    world, media_root, django_capture_on_commit_callbacks
):
    first = _save(world.run_a.brand, logo=image_upload()).logo.name
    with django_capture_on_commit_callbacks(execute=True):
        brand = _save(Brand.objects.get(pk=world.run_a.brand.pk), logo=image_upload("new.jpg",
                      kind="JPEG"))  # fmt: skip
    assert brand.logo.name.endswith(".jpg") and brand.logo.name != first
    assert not (media_root / first).exists()
    assert (media_root / brand.logo.name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        _save(Brand.objects.get(pk=brand.pk), logo=None)
    assert not Brand.objects.get(pk=brand.pk).logo
    assert not (media_root / brand.logo.name).exists()


def test_staff_set_the_logo_and_accent_in_admin_through_the_service(client, world, media_root):
    brand = world.run_a.brand
    client.force_login(world.staff)
    url = reverse("admin:tracking_brand_change", args=[brand.pk])
    response = client.post(
        url,
        {"client": brand.client_id, "name": brand.name, "accent_colour": "#FFEB3B",
         "logo": image_upload()},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    brand.refresh_from_db()
    assert brand.accent_colour == "#ffeb3b" and brand.logo.name.startswith("brands/")
    assert AuditEvent.objects.filter(action="brand.update", actor=world.staff).exists()

    response = client.post(
        url, {"client": brand.client_id, "name": brand.name, "accent_colour": "yellow"}
    )
    assert response.status_code == 200
    assert "Enter a colour as #rrggbb" in response.content.decode()


def test_pages_about_the_brands_runs_show_its_logo_and_accent(client, world, rate_limits_cleared):
    brand = _save(world.run_a.brand, logo=image_upload(), accent_colour="#ffeb3b")
    style = 'style="--accent: #ffeb3b; --accent-fg: #000000;"'
    logo = f'<img class="brand-logo" src="{brand.logo.url}"'
    client.force_login(world.a_viewer)
    run_page = client.get(reverse("portal:run-detail", args=[world.run_a.pk])).content.decode()
    assert style in run_page and logo in run_page
    tracker_page = client.get(
        reverse("portal:tracker-history", args=[world.tracker_a.pk])
    ).content.decode()
    header = tracker_page.split('id="tracker-header"')[1].split("</header>")[0]
    assert style in header and logo in header
    other = client.get(reverse("portal:run-detail", args=[world.run_b.pk]))
    assert other.status_code == 404
    link = services.share_link_create(
        user=world.a_admin, client=world.client_a, production_run=world.run_a,
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    client.logout()
    share_page = client.get(reverse("portal:share-page", args=[link.token])).content.decode()
    assert style in share_page and f'src="{brand.logo.url}"' in share_page


def test_a_brand_without_a_look_leaves_the_portals_colours(client, world):
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:run-detail", args=[world.run_a.pk])).content.decode()
    assert "--accent:" not in html and "brand-logo" not in html
