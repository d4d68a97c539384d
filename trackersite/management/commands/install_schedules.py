"""Install the periodic tasks declared in trackersite.schedules, idempotently."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from trackersite.schedules import SCHEDULES


class Command(BaseCommand):
    help = (
        "Create the periodic tasks declared in trackersite/schedules.py that do not exist yet. "
        "Existing ones are left as staff set them (interval, enabled, arguments)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        for schedule in SCHEDULES:
            if PeriodicTask.objects.filter(name=schedule.name).exists():
                self.stdout.write(f"kept      {schedule.name}")
                continue
            interval = IntervalSchedule.objects.filter(
                every=schedule.every_seconds, period=IntervalSchedule.SECONDS
            ).first() or IntervalSchedule.objects.create(
                every=schedule.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(
                name=schedule.name,
                task=schedule.task,
                interval=interval,
                description=schedule.description,
            )
            self.stdout.write(f"installed {schedule.name} (every {schedule.every_seconds}s)")
