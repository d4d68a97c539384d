"""Apple accounts from the command line: log one in, import a FindMy.py session, add one by
hand, list, reset. No password, token or code is ever printed."""

import getpass
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from findmy import login, services
from findmy.gsa import SECOND_FACTORS, SMS, TRUSTED_DEVICE, LoginError, WrongCode
from findmy.models import AccountSession, AppleAccount


class Command(BaseCommand):
    help = "Manage Apple accounts used to fetch reports (tokens are never printed)."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        log_in = sub.add_parser(
            "login",
            help="log an Apple ID in (password, second factor, iCloud) and save the account",
        )
        log_in.add_argument("name", help="the account's name here (created or renewed)")
        log_in.add_argument("--username", required=True, help="the Apple ID")
        log_in.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input instead of the terminal",
        )
        log_in.add_argument("--method", choices=SECOND_FACTORS, help="second factor to use")
        log_in.add_argument("--phone-id", type=int, help="trusted phone number id (with sms)")
        log_in.add_argument("--code", help="the code, when known in advance (else asked for)")
        log_in.add_argument(
            "--anisette-url", default="", help="anisette server (default: ANISETTE_URL)"
        )
        log_in.add_argument(
            "--forget-password",
            action="store_true",
            help="do not keep the password: no re-login of its own when Apple answers 401",
        )
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
            if action == "login":
                self._login(options)
            elif action == "import":
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
        except LoginError as exc:
            raise CommandError(str(exc)) from exc
        except (services.InvalidSession, OSError) as exc:
            raise CommandError(str(exc)) from exc
        except AppleAccount.DoesNotExist as exc:
            raise CommandError(f"no account named {options.get('name')!r}") from exc

    # --- login --------------------------------------------------------------------------

    def _login(self, options):
        stdin = options.get("stdin") or sys.stdin
        if options["password_stdin"]:
            password = stdin.readline().rstrip("\r\n")
        elif stdin.isatty():
            password = getpass.getpass(f"Password for {options['username']}: ")
        else:
            raise CommandError("No terminal to ask for the password: use --password-stdin.")
        step = login.login_start(
            name=options["name"],
            username=options["username"],
            password=password,
            anisette_url=options["anisette_url"],
            keep_password=not options["forget_password"],
            source="command line",
        )
        try:
            if step.state != login.LOGGED_IN:
                step = self._second_factor(step, options, stdin)
        except BaseException:
            if step.login_id:
                login.login_cancel(login_id=step.login_id)
            raise
        account = step.account
        kept = "kept encrypted for re-logins" if account.keeps_password else "not kept"
        self.stdout.write(f"logged in {account.name} (dsid {account.dsid}); password {kept}")

    def _ask(self, stdin, prompt: str) -> str:
        if not stdin.isatty():
            raise CommandError(f"No terminal to ask: {prompt.strip(': ')} (give it as an option).")
        self.stdout.write(prompt, ending="")
        self.stdout.flush()
        return stdin.readline().strip()

    def _second_factor(self, step, options, stdin):
        self.stdout.write("Apple asks for a second factor.")
        method = options["method"]
        if method is None:
            if len(step.methods) == 1:
                method = step.methods[0]
            else:
                method = self._ask(stdin, f"Second factor ({' or '.join(step.methods)}): ")
        if method not in step.methods:
            raise CommandError(
                f"Apple does not offer {method!r} here; choose one of {', '.join(step.methods)}."
            )
        phone_id = options["phone_id"]
        if method == SMS:
            for phone in step.phones:
                self.stdout.write(f"  phone {phone.id}: {phone.number}")
            if phone_id is None and len(step.phones) > 1:
                answer = self._ask(stdin, "Phone id: ")
                try:
                    phone_id = int(answer)
                except ValueError as exc:
                    raise CommandError(f"{answer!r} is not one of the phone ids") from exc
        step = login.login_request_code(login_id=step.login_id, method=method, phone_id=phone_id)
        if method == TRUSTED_DEVICE:
            self.stdout.write("A code is shown on the account's trusted devices.")
        else:
            number = next((p.number for p in step.phones if p.id == phone_id), None)
            self.stdout.write(f"A code was sent by SMS{' to ' + number if number else ''}.")
        code = options["code"]
        for attempt in range(3):
            if code is None:
                if not stdin.isatty():
                    raise CommandError("No terminal to ask for the code: use --code.")
                code = getpass.getpass("Code: ")
            try:
                return login.login_submit_code(
                    login_id=step.login_id, code=code, source="command line"
                )
            except WrongCode:
                if options["code"] is not None or attempt == 2:
                    raise
                self.stdout.write("Apple refused that code; try again.")
                code = None
        raise CommandError("no code accepted")

    @staticmethod
    def _username(raw: bytes) -> str | None:
        try:
            return str(json.loads(raw)["account"]["username"])
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
