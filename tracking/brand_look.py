"""A brand's look on the pages about its runs: its logo (a small raster image, stored under
MEDIA_ROOT/brands/) and its accent colour (#rrggbb), with a text colour that stays readable
on it (WCAG contrast)."""

from __future__ import annotations

import os
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_PIXELS = 2000  # on either side
# Raster formats only: an SVG may carry script, and the logo is served from the site's origin.
LOGO_FORMATS = {"PNG": {"png"}, "JPEG": {"jpg", "jpeg"}, "WEBP": {"webp"}, "GIF": {"gif"}}

validate_accent_colour = RegexValidator(
    r"^#[0-9a-fA-F]{6}\Z", "Enter a colour as #rrggbb (six hexadecimal digits), e.g. #1565c0."
)


def validate_logo(value) -> None:
    """A new upload must be a PNG, JPEG, WebP or GIF image of at most LOGO_MAX_BYTES and
    LOGO_MAX_PIXELS a side. A logo already stored is not read again."""
    if not value or getattr(value, "_committed", True):
        return
    size = value.size
    if size > LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is {size / 1024:.0f} KiB; at most {LOGO_MAX_BYTES // 1024} KiB is allowed."
        )
    from PIL import Image, UnidentifiedImageError

    upload = value.file
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            kind, (width, height) = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            f"{os.path.basename(value.name)!r} is not an image (PNG, JPEG, WebP or GIF)."
        ) from None
    finally:
        upload.seek(0)
    if kind not in LOGO_FORMATS:
        raise ValidationError(f"A logo in {kind} is not allowed: use PNG, JPEG, WebP or GIF.")
    name = os.path.basename(value.name)
    if _extension(name) not in LOGO_FORMATS[kind]:
        # The file is served by its name's type: the name must say what the image is.
        raise ValidationError(f"{name!r} is a {kind} image: name it .{min(LOGO_FORMATS[kind])}.")
    if max(width, height) > LOGO_MAX_PIXELS:
        raise ValidationError(
            f"The logo is {width}×{height} pixels; at most {LOGO_MAX_PIXELS} a side is allowed."
        )


def logo_upload_path(brand, filename: str) -> str:
    """brands/<client id>/<random>.<extension>: a new name for every upload, so a browser never
    shows an old logo from its cache (validate_logo checks that the extension is the format's)."""
    return f"brands/{brand.client_id}/{secrets.token_urlsafe(12)}.{_extension(filename)}"


def _extension(filename: str) -> str:
    return os.path.splitext(filename)[1].lower().lstrip(".")


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(accent: str) -> str:
    """Black or white, whichever contrasts more with `accent` (at least 4.58:1 either way)."""
    return (
        "#000000"
        if contrast_ratio(accent, "#000000") >= contrast_ratio(accent, "#ffffff")
        else "#ffffff"
    )
