"""Secrets at rest (private keys, Apple sessions): Fernet with a rotatable key list.

The current key encrypts; old keys (SECRETS_ENCRYPTION_OLD_KEYS) only decrypt, until
`manage.py rotate_encryption_key` has re-encrypted everything with the current key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "reencrypt"]


@lru_cache(maxsize=4)
def _fernet(current: str, old: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in (current, *old)])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY must be a Fernet key (urlsafe base64 of 32 bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(settings.SECRETS_ENCRYPTION_KEY, tuple(settings.SECRETS_ENCRYPTION_OLD_KEYS))


def encrypt(secret: bytes) -> bytes:
    return fernet().encrypt(secret)


def decrypt(token: bytes) -> bytes:
    return fernet().decrypt(bytes(token))


def reencrypt(token: bytes) -> bytes:
    """The same secret under the current key (a no-op in meaning, new ciphertext)."""
    return fernet().rotate(bytes(token))
