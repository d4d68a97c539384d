"""Factories for the findmy app: Apple accounts with a (fake) session."""

import factory

from findmy.models import AccountSession, AppleAccount
from tracking import encryption


class AppleAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppleAccount

    class Params:
        dsid = factory.Sequence(lambda n: f"10000{n}")
        token = factory.Sequence(lambda n: f"TOKEN-{n}-do-not-show")
        anisette_url = ""

    name = factory.Sequence(lambda n: f"apple-{n}@example.com")
    session_encrypted = factory.LazyAttribute(
        lambda o: encryption.encrypt(
            AccountSession(
                dsid=o.dsid, search_party_token=o.token, anisette_url=o.anisette_url
            ).to_json()
        )
    )
