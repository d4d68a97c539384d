import sys

from tqdm import tqdm

from fleet import services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Generate a batch of tracker key pairs (private keys stored encrypted)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--batch", required=True, help="name of the new key batch")
        parser.add_argument("--count", required=True, type=int, help="number of key pairs")

    def run(self, *, user, batch, count, verbosity, **options):
        with tqdm(
            total=count, unit="key", file=sys.stderr, disable=verbosity == 0, desc=batch
        ) as bar:
            key_batch = services.keys_generate(
                batch_name=batch, count=count, user=user, progress=bar.update
            )
        self.stdout.write(f'key batch "{key_batch.name}": {count} key pairs generated')
