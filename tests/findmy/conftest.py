"""Fixtures for fetch tests: a simulator on a free port, pointed at by the real client."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from findmy import anisette
from findmy.gsa_simulator import GsaAccountConfig, GsaSimulator
from findmy.models import TrackerFetchState
from findmy.simulator import FindMySimulator, SimulatorConfig
from tests.factories import ProductionRunFactory, TrackerFactory

from .factories import AppleAccountFactory

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def simulator(settings, transactional_db):
    sim = FindMySimulator(SimulatorConfig(seed=7, report_interval_seconds=1800))
    base = sim.start("127.0.0.1", 0)
    settings.FINDMY_FETCH_URL = f"{base}/findmyservice/v2/fetch"
    settings.ANISETTE_URL = f"{base}/"
    settings.FINDMY_FETCH_PROTOCOL = "v2"
    anisette.clear_cache()
    yield sim
    sim.stop()
    anisette.clear_cache()


APPLE_ID = "owner@example.com"
APPLE_PASSWORD = "Pw-for-tests-7c1e!"
APPLE_CODE = "482915"


@pytest.fixture
def apple(simulator, settings):
    """The simulator's Apple login, for one Apple ID; `apple(second_factor=...)` reconfigures."""
    settings.APPLE_GSA_URL = simulator.base_url
    settings.APPLE_SETUP_URL = simulator.base_url

    def configure(**overrides) -> GsaSimulator:
        config = GsaAccountConfig(
            username=APPLE_ID, password=APPLE_PASSWORD, code=APPLE_CODE, **overrides
        )
        simulator.gsa = GsaSimulator(config)
        return simulator.gsa

    configure()
    return configure


@pytest.fixture
def account(transactional_db):
    return AppleAccountFactory()


@pytest.fixture
def live_run(transactional_db):
    """A run that started two days ago: part of the simulator's 7-day history is before it."""
    now = timezone.now()
    return ProductionRunFactory(starts_at=now - timedelta(days=2), ends_at=now + timedelta(days=20))


@pytest.fixture
def make_trackers(live_run):
    def make(n, run=None, **kwargs):
        return [TrackerFactory(production_run=run or live_run, **kwargs) for _ in range(n)]

    return make


def make_due(*trackers):
    """Pretend time has passed: the trackers' next fetch is due now."""
    TrackerFetchState.objects.filter(tracker__in=trackers).update(
        next_due_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.fixture
def run_command(simulator):
    """Run a manage.py command in a new process against the test database."""

    def run(*args, env=None, timeout=120, input=None, check=True):  # noqa: A002
        db = connection.settings_dict
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
            "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "FINDMY_FETCH_URL": simulator.base_url + "/findmyservice/v2/fetch",
            "ANISETTE_URL": simulator.base_url + "/",
            "APPLE_GSA_URL": simulator.base_url,
            "APPLE_SETUP_URL": simulator.base_url,
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=full_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    return run
