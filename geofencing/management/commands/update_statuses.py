"""Run the status engine (and, unless told otherwise, roll-ups and city labels) by hand."""

from django.core.management.base import BaseCommand

from geofencing import services


class Command(BaseCommand):
    help = "Evaluate tracker statuses over new reports, as beat does; then roll-ups and cities."

    def add_arguments(self, parser):
        parser.add_argument("--tracker", type=int, action="append", dest="tracker_ids",
                            help="Only this tracker id (repeatable).")  # fmt: skip
        parser.add_argument("--statuses-only", action="store_true")

    def handle(self, *args, tracker_ids=None, statuses_only=False, **options):
        result = services.evaluate_statuses(tracker_ids=tracker_ids)
        self.stdout.write(
            f"statuses: {result.reports} reports, {result.walked} trackers walked, "
            f"{result.transitions} changes, {result.skipped_late} late reports skipped"
        )
        if statuses_only:
            return
        rollup = services.rollup_locations()
        self.stdout.write(
            f"roll-ups: {rollup.reports} reports into {rollup.hourly_buckets} hourly and "
            f"{rollup.daily_buckets} daily buckets"
        )
        changed = services.label_nearest_cities(tracker_ids=tracker_ids)
        self.stdout.write(f"cities: {changed} labels changed")
