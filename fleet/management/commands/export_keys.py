from pathlib import Path

from django.core.management.base import CommandError

from fleet import selectors, services

from ._fleet import FleetCommand


class Command(FleetCommand):
    help = "Write a key batch's manufacturer file (public keys only) and mark it EXPORTED."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--batch", required=True, help="name of the key batch")
        parser.add_argument("--format", required=True, choices=list(services.EXPORT_FORMATS))
        parser.add_argument("--out", required=True, help="file to write")

    def run(self, *, user, batch, format, out, **options):
        key_batch = selectors.key_batch_for_operator(name=batch)
        path = Path(out)
        if not path.parent.is_dir():
            raise CommandError(f"directory {path.parent} does not exist")
        content = services.batch_export(batch=key_batch, fmt=format, user=user)
        path.write_bytes(content)
        self.stdout.write(f'key batch "{key_batch.name}" exported to {path} ({len(content)} bytes)')
