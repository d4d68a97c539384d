"""Revocation of a person's JWTs when their password changes or their account is deactivated.

Two halves. Every token carries a hash of the password hash (SIMPLE_JWT CHECK_REVOKE_TOKEN),
so a changed password invalidates access tokens at once; and `revoke_user_tokens`
blacklists every outstanding refresh token of the user, so none of them can mint a new
access token (refresh does not check the password claim). Deactivated users are refused by
JWT authentication and by refresh anyway; their refresh tokens are blacklisted too, so
reactivating an account does not bring old tokens back.
"""

from __future__ import annotations

from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


def revoke_user_tokens(*, user) -> int:
    """Blacklist every outstanding refresh token of the user. Returns how many."""
    outstanding = OutstandingToken.objects.filter(user=user).exclude(blacklistedtoken__isnull=False)
    tokens = list(outstanding.only("id"))
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True
    )
    return len(tokens)


def revoke_tokens_on_credential_change(sender, instance, update_fields=None, **kwargs) -> None:
    """pre_save of the user model, whatever path saves it (admin, changepassword,
    set_password in a service): a new password or a deactivation revokes the user's tokens."""
    if instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password or (before["is_active"] and not instance.is_active):
        revoke_user_tokens(user=instance)
