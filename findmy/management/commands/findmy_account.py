"""Apple accounts from the command line: import a FindMy.py session, add one by hand, list."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from findmy import services
from findmy.models import AccountSession, AppleAccount


class Command(BaseCommand):
    help = "Manage Apple accounts used to fetch reports (tokens are never printed)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a FindMy.py session JSON file")
        imp.add_argument("file")
        imp.add_argument("--name", help="account name (default: the username in the file)")
        add = sub.add_parser("add", help="enter dsid and search-party token by hand")
        add.add_argument("--name", required=True)
        add.add_argument("--dsid", required=True)
        add.add_argument("--token", required=True, help="the searchPartyToken")
        add.add_argument("--anisette-url", default="")
        sub.add_parser("list", help="accounts with their health")
        reset = sub.add_parser("reset", help="clear back-off / needs-login after fixing it")
        reset.add_argument("name")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            if action == "import":
                raw = Path(options["file"]).read_bytes()
                name = options["name"] or self._username(raw) or Path(options["file"]).stem
                account = services.account_import_session(name=name, session_json=raw)
                self.stdout.write(f"imported {account.name} (dsid {account.dsid})")
            elif action == "add":
                session = AccountSession(
                    dsid=options["dsid"],
                    search_party_token=options["token"],
                    anisette_url=options["anisette_url"],
                )
                account = services.account_save_session(name=options["name"], session=session)
                self.stdout.write(f"saved {account.name} (dsid {account.dsid})")
            elif action == "reset":
                account = AppleAccount.objects.get(name=options["name"])
                services.account_reset_health(account=account)
                self.stdout.write(f"reset {account.name}")
            else:
                for account in AppleAccount.objects.all():
                    self.stdout.write(
                        f"{account.name}\t{account.health}\tenabled={account.is_enabled}\t"
                        f"requests={account.requests_total}\terrors={account.errors_total}\t"
                        f"last error: {account.last_error or '-'}"
                    )
        except (services.InvalidSession, OSError) as exc:
            raise CommandError(str(exc)) from exc
        except AppleAccount.DoesNotExist as exc:
            raise CommandError(f"no account named {options.get('name')!r}") from exc

    @staticmethod
    def _username(raw: bytes) -> str | None:
        try:
            return str(json.loads(raw)["account"]["username"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
