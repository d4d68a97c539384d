"""What the fleet commands share: --user for the audit trail, reading a MAC list from a file
or stdin, and refusals shown as a CommandError (exit status 1) with every line named."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fleet.exceptions import LifecycleError


class FleetCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument(
            "--user", metavar="USERNAME", help="the staff member recorded in the audit trail"
        )

    def handle(self, *args, **options):
        user = self._user(options.pop("user", None))
        try:
            return self.run(user=user, **options)
        except LifecycleError as exc:
            raise CommandError("refused, nothing changed:\n  " + "\n  ".join(exc.messages)) from exc

    def run(self, *, user, **options):
        raise NotImplementedError

    def _user(self, username):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f'user "{username}" does not exist') from None

    def read_input(self, path: str) -> bytes:
        if path == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
