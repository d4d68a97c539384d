"""Drill: PostgreSQL goes away while a worker is storing reports."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tracking.models import LocationReport

from .harness import tally, wait_until

OUTAGE_SECONDS = 8


@pytest.mark.drill
def test_drill_postgres_gone_mid_ingestion_tasks_retry_and_nothing_is_lost(rig, fleet):
    """The worker and beat reach PostgreSQL through a TCP proxy on 127.0.0.1. The moment the
    worker starts storing a batch (its COPY into the ingest table), the proxy drops every
    connection and refuses new ones for 8 s, then accepts again.

    A proxy rather than restarting a server: the PostgreSQL on 5432 is shared and must not be
    restarted, and a throwaway cluster would cost the drill its speed. What the worker sees is
    the same as during a restart (connections reset mid-transaction, then refused); what is not
    exercised is PostgreSQL's own crash recovery, which the transaction's atomicity relies on.

    The interrupted task fails with a database error, Celery retries it with back-off (the
    worker's log shows "Retry in"), the half-done transaction was rolled back, the claims come
    back after their lease, and every report served is stored once."""
    trackers = fleet(20)
    sim = rig.start_simulator()
    proxy = rig.with_proxy()
    rig.start_celery(through_proxy=True)
    wait_until(LocationReport.objects.exists, 90, "the first reports")

    proxy.cut_on(b"COPY findmy_ingest_batch", OUTAGE_SECONDS)
    wait_until(lambda: proxy.cuts >= 1, 60, "the worker to start storing a batch")
    back_at = timezone.now() + timedelta(seconds=OUTAGE_SECONDS)
    rig.wait_all_fetched_since(back_at, trackers, timeout=120)
    rig.settle()

    log = rig.worker.log()
    retries = log.count("Retry in")
    assert retries >= 1, log[-4000:]
    assert "OperationalError" in log
    result = tally("postgres-gone", sim, connections_dropped=proxy.dropped, task_retries=retries)
    assert result["served"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)
