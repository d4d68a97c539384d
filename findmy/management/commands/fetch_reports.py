"""Fetch location reports in the foreground: the same round the Celery beat task runs."""

import time

from django.core.management.base import BaseCommand

from findmy import services


class Command(BaseCommand):
    help = "Fetch reports for due trackers of live production runs (what beat runs each minute)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument(
            "--tracker",
            action="append",
            metavar="MAC",
            help="fetch this tracker now, due or not (repeatable); implies --once",
        )
        parser.add_argument("--pause", type=float, default=10.0, help="seconds between rounds")

    def handle(self, *args, **options):
        once = options["once"] or bool(options["tracker"])
        while True:
            summary = services.fetch_due(
                tracker_macs=options["tracker"], progress=lambda m: self.stdout.write(f"  {m}")
            )
            self.stdout.write(
                f"round: {summary.requests} requests, {summary.trackers} trackers, "
                f"{summary.reports_new} new reports, {summary.errors} errors "
                f"({summary.stopped_because})"
            )
            if once:
                return
            time.sleep(options["pause"])
