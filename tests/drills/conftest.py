"""The drill rig: a test database the processes share, the simulator on a port of its own, a
Redis server of the drill's own, a Celery worker and beat started as processes.

DRILL_OUTAGE_SECONDS sets how long the outage drill keeps the simulator down (a few seconds in
`make test`, 300 under `make drills`)."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from findmy.models import TrackerFetchState
from findmy.simulator import FindMySimulator, SimulatorConfig
from tests.factories import ProductionRunFactory, TrackerFactory
from tests.findmy.factories import AppleAccountFactory

from .harness import LINES, CeleryProcess, PostgresProxy, RedisServer, tally, wait_until


def pytest_terminal_summary(terminalreporter):
    if LINES:
        terminalreporter.section("fault drills")
        for line in LINES:
            terminalreporter.write_line(line)


# What the processes run with: everything is quick so a drill fits in seconds, and the worker
# reads its settings from the environment as in production.
FAST = {
    "FINDMY_FETCH_INTERVAL_MINUTES": "0.05",  # each tracker every 3 s
    "FINDMY_CLAIM_LEASE_SECONDS": "5",
    "FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS": "0",
    "FINDMY_ACCOUNT_BACKOFF_BASE_SECONDS": "1",
    "FINDMY_ACCOUNT_MAX_BACKOFF_SECONDS": "8",
    "FINDMY_HTTP_TIMEOUT_SECONDS": "5",
    "FINDMY_ROUND_SECONDS": "20",
    "FINDMY_LATE_REPORT_HOURS": "0",
}


class Rig:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.redis = RedisServer()
        self.proxy: PostgresProxy | None = None
        self.simulator: FindMySimulator | None = None
        self.sim_port = 0
        self.worker: CeleryProcess | None = None
        self.beat: CeleryProcess | None = None
        self.settings: dict[str, str] = dict(FAST)

    # --- pieces -------------------------------------------------------------------------

    def start_simulator(self, **config) -> FindMySimulator:
        config.setdefault("seed", 12)
        config.setdefault("report_interval_seconds", 20)
        self.simulator = FindMySimulator(SimulatorConfig(**config))
        self.simulator.start("127.0.0.1", self.sim_port)
        self.sim_port = self.simulator._server.server_address[1]
        return self.simulator

    def stop_simulator(self) -> None:
        self.simulator.stop()

    def restart_simulator(self) -> None:
        self.simulator.start("127.0.0.1", self.sim_port)

    def env(self, *, through_proxy: bool = False) -> dict[str, str]:
        db = connection.settings_dict
        port = self.proxy.port if through_proxy else db["PORT"] or 5432
        base = f"http://127.0.0.1:{self.sim_port}"
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
            # No TLS, so that the proxy can see where ingestion starts.
            "DATABASE_URL": f"postgis://{db['USER']}@127.0.0.1:{port}/{db['NAME']}?sslmode=disable",
            "REDIS_URL": self.redis.url,
            "FINDMY_FETCH_URL": f"{base}/findmyservice/v2/fetch",
            "ANISETTE_URL": f"{base}/",
            "FINDMY_FETCH_PROTOCOL": "v2",
            **self.settings,
        }

    def start_celery(self, *, through_proxy: bool = False, every_seconds: int = 1) -> None:
        """Install the fetch schedule (only it) and start a worker and beat."""
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every_seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name="findmy: fetch due trackers",
            defaults={"task": "findmy.tasks.fetch_due", "interval": interval, "enabled": True},
        )
        env = self.env(through_proxy=through_proxy)
        if through_proxy and self.proxy is None:
            raise RuntimeError("start the proxy first")
        self.worker = CeleryProcess("worker", env, self.log_dir)
        self.beat = CeleryProcess("beat", env, self.log_dir)
        self.worker.start()
        self.beat.start()

    def with_proxy(self) -> PostgresProxy:
        self.proxy = PostgresProxy()
        self.proxy.start()
        return self.proxy

    # --- waiting and settling -------------------------------------------------------------

    def wait_all_fetched_since(self, since, trackers, timeout: float) -> None:
        """Until every tracker had an answered fetch after `since` and nothing is claimed."""
        ids = [t.pk for t in trackers]

        def done() -> bool:
            states = TrackerFetchState.objects.filter(tracker_id__in=ids)
            return (
                states.filter(last_fetched_at__gt=since).count() == len(ids)
                and not states.filter(claimed_until__gt=timezone.now()).exists()
            )

        try:
            wait_until(done, timeout, "every tracker to be fetched again")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- worker log ---\n{self.worker.log()[-6000:]}"
            ) from None

    def settle(self) -> None:
        """Stop beat, drop what it queued, let the worker finish its task and stop."""
        self.beat.stop(20)
        self.redis.cli("del", "celery")
        self.worker.stop(90)

    def close(self) -> None:
        for process in (self.beat, self.worker):
            if process is not None:
                process.kill()
        if self.simulator is not None:
            self.simulator.stop()
        if self.proxy is not None:
            self.proxy.close()
        self.redis.close()


@pytest.fixture
def rig(transactional_db, request):
    log_dir = Path(tempfile.mkdtemp(prefix=f"drill-{request.node.name[:40]}-"))
    rig = Rig(log_dir)
    rig.redis.start()
    yield rig
    rig.close()
    # The processes are gone; close the connections the simulator's threads may have left.
    connection.close()


@pytest.fixture
def fleet(transactional_db):
    """An account and trackers of a run that started a few minutes ago."""

    def make(n: int, *, started_minutes_ago: float = 5, accounts: int = 1):
        now = timezone.now()
        run = ProductionRunFactory(
            starts_at=now - timedelta(minutes=started_minutes_ago),
            ends_at=now + timedelta(days=1),
        )
        for _ in range(accounts):
            AppleAccountFactory()
        return [TrackerFactory(production_run=run) for _ in range(n)]

    return make


def outage_seconds() -> float:
    return float(os.environ.get("DRILL_OUTAGE_SECONDS", "5"))


__all__ = ["tally", "outage_seconds", "time"]
