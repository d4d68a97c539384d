"""Demo data for `make run`, built through the same services staff use.

A staff superuser, a customer, a client with a brand and a live production run with delivery
and storage places in Vienna, 60 trackers taken from key generation through export, receipt,
an order and its allocation into the run (10 stay in stock). The demo Apple account is not
written here: `make run`'s simulator logs it in through the platform's own login client
(`findmy_simulator --log-in-account demo`). Idempotent: a second run finds everything and
changes nothing.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from fleet import services as fleet
from geofencing.services import places_seed_demo
from tracking import alerts
from tracking.models import (
    AlertRule,
    AlertSubscription,
    Brand,
    Client,
    Event,
    KeyBatch,
    Membership,
    ProductionRun,
)

DEMO_STAFF = ("admin", "admin-demo-pass")
DEMO_CUSTOMER = ("customer", "customer-demo-pass")
DEMO_BATCH = "demo-batch-1"
DEMO_ORDER = "DEMO-PO-1"


class Command(BaseCommand):
    help = "Create demo users, a client with a live run, places and trackers."

    def _user(self, username: str, password: str, **defaults):
        user, created = get_user_model().objects.get_or_create(username=username, defaults=defaults)
        if created:
            user.set_password(password)
            user.save()
        return user

    @transaction.atomic
    def handle(self, *args, **options):
        admin = self._user(*DEMO_STAFF, is_staff=True, is_superuser=True, email="admin@example.com")
        customer = self._user(*DEMO_CUSTOMER, email="customer@example.com")

        client, _ = Client.objects.get_or_create(name="Demo Logistics")
        Membership.objects.get_or_create(
            user=customer, client=client, defaults={"role": Membership.Role.ADMIN}
        )
        brand, _ = Brand.objects.get_or_create(client=client, name="Demo Coffee")
        now = timezone.now()
        run, _ = ProductionRun.objects.get_or_create(
            brand=brand,
            name="Demo winter run",
            defaults={"starts_at": now - timedelta(days=2), "ends_at": now + timedelta(days=60)},
        )
        places_seed_demo(production_run=run)

        if not KeyBatch.objects.filter(name=DEMO_BATCH).exists():
            batch = fleet.keys_generate(batch_name=DEMO_BATCH, count=60, user=admin)
            fleet.batch_export(batch=batch, fmt="bin", user=admin)
            macs = batch.trackers.values_list("mac_address", flat=True)
            fleet.devices_receive(macs_text="\n".join(macs), user=admin)
            order = fleet.order_create(client=client, reference=DEMO_ORDER, quantity=50, user=admin)
            fleet.order_allocate(order=order, count=50, user=admin)
            fleet.trackers_import(production_run=run, order=order, user=admin)

        # Alerts on: the customer hears at once of arrivals, deliveries and silences (the
        # console shows the e-mails; the portal lists them under the bell).
        if not AlertRule.objects.filter(client=client).exists():
            alerts.alert_rule_save(
                user=customer,
                client=client,
                event_types=[t for t in Event.Type.values if t != Event.Type.STATUS_CHANGED],
                all_runs=True,
            )
        if not AlertSubscription.objects.filter(user=customer, client=client).exists():
            alerts.alert_subscription_save(
                user=customer, client=client, delivery=AlertSubscription.Delivery.IMMEDIATE
            )

        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"  staff login:     {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (/admin/)")
        self.stdout.write(f"  customer login:  {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}  (/)")
        self.stdout.write(
            f"  live run:        {run.name} (id {run.pk}, {run.trackers.count()} trackers)"
        )
