"""Serve the FindMy simulator: Apple's fetch protocols, its login and anisette, over HTTP."""

import os
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils.module_loading import import_string

from findmy import login as apple_login
from findmy.gsa import SMS, LoginError
from findmy.gsa_simulator import SECOND_FACTORS, GsaAccountConfig
from findmy.models import AppleAccount
from findmy.simulator import FindMySimulator, SimulatorConfig


class Command(BaseCommand):
    help = (
        "Serve a FindMy simulator (v2 + legacy fetch, anisette GET /) that answers with reports "
        "encrypted to the trackers in the database. Point FINDMY_FETCH_URL at "
        "http://HOST:PORT/findmyservice/v2/fetch, ANISETTE_URL at http://HOST:PORT/, and "
        "APPLE_GSA_URL / APPLE_SETUP_URL at http://HOST:PORT to log in its one Apple ID."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--report-interval", type=int, default=600, help="seconds")
        parser.add_argument("--max-reports-per-key", type=int, default=200)
        parser.add_argument("--silent-fraction", type=float, default=0.1)
        parser.add_argument("--bad-payload-rate", type=float, default=0.0)
        parser.add_argument("--unauthorized-rate", type=float, default=0.0)
        parser.add_argument("--server-error-rate", type=float, default=0.0)
        parser.add_argument("--rate-limited-rate", type=float, default=0.0)
        parser.add_argument("--empty-rate", type=float, default=0.0)
        parser.add_argument("--slow-rate", type=float, default=0.0)
        parser.add_argument("--slow-seconds", type=float, default=10.0)
        parser.add_argument(
            "--ignore-window",
            action="store_true",
            help="send the whole 7-day history whatever the request's dates (as Apple may)",
        )

        login = parser.add_argument_group("Apple login (GSA + iCloud)")
        login.add_argument("--apple-id", default="demo@example.com", help="the one Apple ID")
        login.add_argument(
            "--apple-password-env",
            default="FINDMY_SIMULATOR_APPLE_PASSWORD",
            metavar="VAR",
            help="environment variable holding its password (default: a demo password)",
        )
        login.add_argument("--code", default="123456", help="the second-factor code it accepts")
        login.add_argument("--second-factor", choices=SECOND_FACTORS, default="trusted_device")
        login.add_argument("--password-protocol", choices=["s2k", "s2k_fo"], default="s2k")
        login.add_argument(
            "--account-limit-reached",
            action="store_true",
            help="iCloud refuses logins with 'Account limit reached'",
        )
        login.add_argument(
            "--log-in-account",
            metavar="NAME",
            help="once listening, log this account in through the platform's own login client "
            "(GSA, second factor, iCloud) against this simulator, unless it already is "
            "(make run's demo account); needs APPLE_GSA_URL and APPLE_SETUP_URL set to it",
        )

    def handle(self, *args, **options):
        login = GsaAccountConfig(
            username=options["apple_id"],
            code=options["code"],
            second_factor=options["second_factor"],
            protocol=options["password_protocol"],
            account_limit_reached=options["account_limit_reached"],
        )
        password = os.environ.get(options["apple_password_env"])
        if password:
            login.password = password
        config = SimulatorConfig(
            login=login,
            seed=options["seed"],
            report_interval_seconds=options["report_interval"],
            max_reports_per_key=options["max_reports_per_key"],
            silent_fraction=options["silent_fraction"],
            bad_payload_rate=options["bad_payload_rate"],
            unauthorized_rate=options["unauthorized_rate"],
            server_error_rate=options["server_error_rate"],
            rate_limited_rate=options["rate_limited_rate"],
            empty_rate=options["empty_rate"],
            slow_rate=options["slow_rate"],
            slow_seconds=options["slow_seconds"],
            respect_window=not options["ignore_window"],
        )
        # Empty: every tracker walks at random, which the start-up lines below say.
        routes_path = settings.FINDMY_SIMULATOR_ROUTES
        routes = import_string(routes_path) if routes_path else None
        simulator = FindMySimulator(config, routes=routes)
        server = simulator.make_server(options["host"], options["port"])
        base = simulator.base_url
        self.stdout.write(
            f"FindMy simulator on {base} (seed {config.seed})\n"
            f"  FINDMY_FETCH_URL={base}/findmyservice/v2/fetch\n"
            f"  (legacy: FINDMY_FETCH_PROTOCOL=legacy FINDMY_FETCH_URL={base}/acsnservice/fetch)\n"
            f"  ANISETTE_URL={base}/\n"
            f"  APPLE_GSA_URL={base} APPLE_SETUP_URL={base}\n"
            f"  Apple ID {login.username} ({login.protocol}, second factor "
            f"{login.second_factor})\n"
            f"  routes: {routes_path or 'none, random walks (FINDMY_SIMULATOR_ROUTES is empty)'}"
        )
        if options["log_in_account"]:
            threading.Thread(
                target=self._log_in,
                args=(options["log_in_account"], simulator),
                daemon=True,
            ).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    def _log_in(self, name: str, simulator: FindMySimulator) -> None:
        """The demo account, logged in the way staff log in a real one (requests queue on the
        listening socket until serve_forever answers them)."""
        apple = simulator.gsa.config
        base = simulator.base_url
        try:
            if {settings.APPLE_GSA_URL.rstrip("/"), settings.APPLE_SETUP_URL.rstrip("/")} != {base}:
                self.stderr.write(
                    f"not logging {name} in: APPLE_GSA_URL and APPLE_SETUP_URL must be {base}"
                )
                return
            account = AppleAccount.objects.filter(name=name).first()
            if (
                account
                and account.username == apple.username
                and account.health == AppleAccount.Health.OK
            ):
                self.stdout.write(f"Apple account {name} is logged in already")
                return
            step = apple_login.login_start(
                name=name, username=apple.username, password=apple.password, source="demo"
            )
            if step.state != apple_login.LOGGED_IN:
                method = step.methods[0]
                phone_id = step.phones[0].id if method == SMS else None
                apple_login.login_request_code(
                    login_id=step.login_id, method=method, phone_id=phone_id
                )
                step = apple_login.login_submit_code(
                    login_id=step.login_id, code=apple.code, source="demo"
                )
            self.stdout.write(
                f"Apple account {name} logged in through the login client "
                f"(GSA {apple.protocol}, second factor {apple.second_factor}, iCloud delegates)"
            )
        except LoginError as exc:
            self.stderr.write(f"logging {name} in failed: {exc}")
        finally:
            connection.close()
