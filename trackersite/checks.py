"""System checks of the settings that would otherwise fail only at first use.

A bad encryption key used to pass `check --deploy` and break the first encryption; a typo in
the fetch protocol or a URL broke the first fetch round. These run with every manage.py
command (migrate, runserver, check) and so stop a misconfigured deployment before it serves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, register

from findmy.client import PROTOCOLS as FETCH_PROTOCOLS
from geofencing.geocoding import provider_name

GEOCODER_PROVIDERS = ("", "nominatim")


def _fernet_key_error(name: str, key: str) -> Error | None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return Error(
            f"{name} is not a Fernet key (urlsafe base64 of 32 bytes).",
            hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'",
            id="trackersite.E001",
        )
    return None


def _url_error(name: str, value: str) -> Error | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname:
        return None
    return Error(
        f"{name}={value!r} is not an http(s) URL with a host.",
        hint=f"Set {name} to a URL such as https://host:port/path.",
        id="trackersite.E002",
    )


def _choice_error(name: str, value: str, choices: tuple[str, ...], check_id: str) -> Error | None:
    if value in choices:
        return None
    shown = ", ".join(repr(c) for c in choices)
    return Error(f"{name}={value!r} is not one of {shown}.", id=check_id)


@register()
def settings_are_usable(app_configs=None, **kwargs) -> list[Error]:
    found = [_fernet_key_error("SECRETS_ENCRYPTION_KEY", settings.SECRETS_ENCRYPTION_KEY)]
    found += [
        _fernet_key_error(f"SECRETS_ENCRYPTION_OLD_KEYS[{i}]", key)
        for i, key in enumerate(settings.SECRETS_ENCRYPTION_OLD_KEYS)
    ]
    found += [
        _url_error("FINDMY_FETCH_URL", settings.FINDMY_FETCH_URL),
        _url_error("ANISETTE_URL", settings.ANISETTE_URL),
        _url_error("APPLE_GSA_URL", settings.APPLE_GSA_URL),
        _url_error("APPLE_SETUP_URL", settings.APPLE_SETUP_URL),
        _choice_error(
            "FINDMY_FETCH_PROTOCOL",
            settings.FINDMY_FETCH_PROTOCOL,
            FETCH_PROTOCOLS,
            "trackersite.E003",
        ),
        _choice_error("GEOCODER_PROVIDER", provider_name(), GEOCODER_PROVIDERS, "trackersite.E004"),
        _choice_error(
            "GEOCODER_SCHEME", settings.GEOCODER_SCHEME, ("http", "https"), "trackersite.E005"
        ),
    ]
    return [error for error in found if error is not None]
