from django.core.management.base import CommandError

from fleet import selectors, services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Allocate in-stock trackers to a customer order: listed MACs, or N from stock."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--order", required=True, help="order reference")
        parser.add_argument(
            "file", nargs="?", help="CSV or scanner list of MAC addresses; - for stdin"
        )
        parser.add_argument("--count", type=int, help="take this many trackers from stock")

    def run(self, *, user, order, file, count, **options):
        if (file is None) == (count is None):
            raise CommandError("give either FILE or --count")
        customer_order = selectors.order_for_operator(reference=order)
        macs_text = self.read_input(file) if file is not None else None
        allocated = services.order_allocate(
            order=customer_order, macs_text=macs_text, count=count, user=user
        )
        self.stdout.write(f'{allocated} trackers allocated to order "{customer_order}"')
