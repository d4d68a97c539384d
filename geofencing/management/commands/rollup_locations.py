"""Fold new location reports into the hourly and daily roll-ups."""

from django.core.management.base import BaseCommand

from geofencing import services


class Command(BaseCommand):
    help = "Update the hourly and daily roll-ups for the reports that arrived since the last run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild", action="store_true", help="Empty the roll-ups and fold every report again."
        )

    def handle(self, *args, rebuild=False, **options):
        result = services.rollup_locations(rebuild=rebuild)
        self.stdout.write(
            f"{result.reports} reports into {result.hourly_buckets} hourly and "
            f"{result.daily_buckets} daily buckets (up to report {result.high_water})"
        )
