"""Demo data for `make run`: a staff superuser, a customer, and a client with a live run.

Idempotent: running it again finds what it made before and changes nothing.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tracking.models import Brand, Client, Membership, ProductionRun

DEMO_STAFF = ("admin", "admin-demo-pass")
DEMO_CUSTOMER = ("customer", "customer-demo-pass")


class Command(BaseCommand):
    help = "Create demo users, a client, a brand and a live production run (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        staff, created = User.objects.get_or_create(
            username=DEMO_STAFF[0],
            defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
        )
        if created:
            staff.set_password(DEMO_STAFF[1])
            staff.save()
        customer, created = User.objects.get_or_create(
            username=DEMO_CUSTOMER[0], defaults={"email": "customer@example.com"}
        )
        if created:
            customer.set_password(DEMO_CUSTOMER[1])
            customer.save()

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

        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"  staff login:     {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (/admin/)")
        self.stdout.write(f"  customer login:  {DEMO_CUSTOMER[0]} / {DEMO_CUSTOMER[1]}  (/)")
        self.stdout.write(f"  live run:        {run.name} (id {run.pk})")
