from fleet import selectors, services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Cancel a customer order; its allocated trackers go back to stock."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--order", required=True, help="order reference")

    def run(self, *, user, order, **options):
        customer_order = selectors.order_for_operator(reference=order)
        count = services.order_cancel(order=customer_order, user=user)
        self.stdout.write(f'order "{customer_order}" cancelled; {count} trackers back in stock')
