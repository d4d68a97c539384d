from fleet import services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Retire trackers for good (lost, broken, returned)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", help="CSV or plain list of MAC addresses; - for stdin")
        parser.add_argument("--reason", default="", help="recorded in the audit trail")

    def run(self, *, user, file, reason, **options):
        count = services.tracker_retire(macs_text=self.read_input(file), user=user, reason=reason)
        self.stdout.write(f"{count} trackers retired")
