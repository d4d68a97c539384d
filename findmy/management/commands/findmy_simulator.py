"""Serve the FindMy simulator: Apple's fetch protocols and anisette, over HTTP."""

from django.core.management.base import BaseCommand

from findmy.simulator import FindMySimulator, SimulatorConfig


class Command(BaseCommand):
    help = (
        "Serve a FindMy simulator (v2 + legacy fetch, anisette GET /) that answers with reports "
        "encrypted to the trackers in the database. Point FINDMY_FETCH_URL at "
        "http://HOST:PORT/findmyservice/v2/fetch and ANISETTE_URL at http://HOST:PORT/."
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

    def handle(self, *args, **options):
        config = SimulatorConfig(
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
        simulator = FindMySimulator(config)
        server = simulator.make_server(options["host"], options["port"])
        base = simulator.base_url
        self.stdout.write(
            f"FindMy simulator on {base} (seed {config.seed})\n"
            f"  FINDMY_FETCH_URL={base}/findmyservice/v2/fetch\n"
            f"  (legacy: FINDMY_FETCH_PROTOCOL=legacy FINDMY_FETCH_URL={base}/acsnservice/fetch)\n"
            f"  ANISETTE_URL={base}/"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
