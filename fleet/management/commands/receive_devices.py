from fleet import services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Mark devices received from the manufacturer (a list of MACs) as IN_STOCK."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", help="CSV or plain list of MAC addresses; - for stdin")

    def run(self, *, user, file, **options):
        count = services.devices_receive(macs_text=self.read_input(file), user=user)
        self.stdout.write(f"{count} devices received into stock")
