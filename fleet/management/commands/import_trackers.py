from django.core.management.base import CommandError

from fleet import selectors, services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Import allocated trackers into a production run (listed MACs, or a whole order)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--production-run", required=True, type=int, help="run id")
        parser.add_argument(
            "file", nargs="?", help="CSV or scanner list of MAC addresses; - for stdin"
        )
        parser.add_argument("--order", help="import every waiting tracker of this order")

    def run(self, *, user, production_run, file, order, **options):
        if (file is None) == (order is None):
            raise CommandError("give either FILE or --order")
        run = selectors.production_run_for_operator(pk=production_run)
        count = services.trackers_import(
            production_run=run,
            macs_text=self.read_input(file) if file is not None else None,
            order=selectors.order_for_operator(reference=order) if order else None,
            user=user,
        )
        self.stdout.write(f'{count} trackers active in production run "{run}"')
