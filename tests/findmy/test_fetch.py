"""The fetch path end to end: the real client over HTTP against the simulator, real PostGIS."""

import hashlib
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from findmy import crypto, queue, services
from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from tests.factories import ProductionRunFactory, TrackerFactory
from tracking import encryption
from tracking.models import AuditEvent, LocationReport

from .conftest import make_due
from .factories import AppleAccountFactory


def stored_hashes(trackers=None) -> set[bytes]:
    qs = LocationReport.objects.all()
    if trackers is not None:
        qs = qs.filter(tracker__in=trackers)
    return {bytes(h) for h in qs.values_list("payload_hash", flat=True)}


def produced_in_run(simulator, tracker) -> dict[bytes, object]:
    """Payload hash -> decrypted report, for what the simulator sent inside the run's window."""
    key = encryption.decrypt(tracker.private_key_encrypted)
    run = tracker.production_run
    out = {}
    for payload in simulator.produced.get(tracker.hashed_advertisement_key, ()):
        report = crypto.decrypt_report(key, payload)
        if run.starts_at <= report.observed_at <= run.ends_at:
            out[hashlib.sha256(payload).digest()] = report
    return out


@pytest.mark.parametrize("protocol", ["v2", "legacy"])
def test_fetch_stores_exactly_the_reports_produced_in_window_without_duplicates(
    simulator, account, make_trackers, settings, protocol
):
    settings.FINDMY_FETCH_PROTOCOL = protocol
    if protocol == "legacy":
        settings.FINDMY_FETCH_URL = simulator.base_url + "/acsnservice/fetch"
    simulator.config.respect_window = False  # Apple may send history before the run began
    trackers = make_trackers(3)

    for _ in range(3):
        services.fetch_due()
        make_due(*trackers)

    expected = {}
    for tracker in trackers:
        expected.update(produced_in_run(simulator, tracker))
    assert expected, "the simulator produced reports inside the run"
    assert stored_hashes() == set(expected)
    assert LocationReport.objects.count() == len(expected)
    runs = list(FetchRun.objects.order_by("started_at"))
    assert len(runs) == 3
    assert runs[0].reports_new == len(expected)
    assert runs[0].reports_out_of_window > 0  # before the run started: dropped
    assert all(r.reports_new == 0 and r.reports_duplicate > 0 for r in runs[1:])
    assert {r.protocol for r in runs} == {protocol}
    # The tracker's position is its newest observation.
    for tracker in trackers:
        tracker.refresh_from_db()
        newest = max(
            (r for r in produced_in_run(simulator, tracker).values()),
            key=lambda r: r.observed_at,
        )
        assert tracker.last_report_at == newest.observed_at
        assert tracker.last_point.y == pytest.approx(newest.latitude, abs=1e-6)
        assert tracker.last_point.x == pytest.approx(newest.longitude, abs=1e-6)
        assert tracker.last_accuracy_m == newest.horizontal_accuracy


def test_request_window_starts_at_run_start_or_last_report_less_the_late_margin(
    simulator, account, make_trackers, settings
):
    settings.FINDMY_LATE_REPORT_HOURS = 6.0
    (tracker,) = make_trackers(1)
    services.fetch_due()
    first = TrackerFetchState.objects.get(tracker=tracker)
    assert first.backoff_factor == 1 and first.last_success_at is not None
    tracker.refresh_from_db()
    claim = queue.Claim(
        tracker.pk,
        tracker.mac_address,
        tracker.hashed_advertisement_key,
        b"",
        tracker.last_report_at,
        tracker.production_run.starts_at,
        tracker.production_run.ends_at,
    )
    run_start = tracker.production_run.starts_at
    now = timezone.now()
    assert claim.window(now) == (max(tracker.last_report_at - timedelta(hours=6), run_start), now)
    fresh = queue.Claim(1, "", "", b"", None, now - timedelta(days=30), now + timedelta(days=1))
    assert fresh.window(now) == (now - timedelta(days=7), now)
    activated = queue.Claim(
        1, "", "", b"", None, now - timedelta(days=30), now + timedelta(days=1),
        now - timedelta(hours=3),
    )  # fmt: skip
    assert activated.window(now) == (now - timedelta(hours=3), now)


@pytest.mark.parametrize("respect_window", [True, False])
def test_window_starts_at_the_trackers_activation(
    simulator, account, make_trackers, respect_window
):
    """A tracker activated after its run started: Apple is asked from the activation on, and
    what Apple sends from before it anyway is dropped (it is not this run's)."""
    simulator.config.respect_window = respect_window
    activated_at = timezone.now().replace(microsecond=0) - timedelta(hours=20)
    (tracker,) = make_trackers(1, activated_at=activated_at)
    assert tracker.production_run.starts_at < activated_at - timedelta(hours=20)

    services.fetch_due()

    (request,) = simulator.requests
    assert [start for start, _ in request["windows"]] == [int(activated_at.timestamp() * 1000)]
    stored = LocationReport.objects.filter(tracker=tracker)
    assert stored.exists()
    assert min(stored.values_list("observed_at", flat=True)) >= activated_at
    produced = produced_in_run(simulator, tracker).values()
    if not respect_window:  # Apple sent the run's whole history: the older part was dropped
        assert any(r.observed_at < activated_at for r in produced)
        assert FetchRun.objects.get().reports_out_of_window > 0


def test_backoff_doubles_up_to_the_cap_and_a_report_resets_it(
    simulator, account, make_trackers, settings
):
    settings.FINDMY_FETCH_INTERVAL_MINUTES = 30
    settings.FINDMY_MAX_BACKOFF_HOURS = 4
    silent, talkative = make_trackers(2)
    simulator.config.silent_keys = {silent.hashed_advertisement_key}

    seen = []
    for _ in range(5):
        before = timezone.now()
        services.fetch_due()
        state = TrackerFetchState.objects.get(tracker=silent)
        delay = (state.next_due_at - before).total_seconds() / 3600
        seen.append((state.backoff_factor, state.consecutive_misses, round(delay, 1)))
        make_due(silent)
    assert seen == [(2, 1, 1.0), (4, 2, 2.0), (8, 3, 4.0), (8, 4, 4.0), (8, 5, 4.0)]
    other = TrackerFetchState.objects.get(tracker=talkative)
    assert (other.backoff_factor, other.consecutive_misses) == (1, 0)

    simulator.config.silent_keys = set()
    before = timezone.now()
    services.fetch_due()
    state = TrackerFetchState.objects.get(tracker=silent)
    assert (state.backoff_factor, state.consecutive_misses) == (1, 0)
    assert state.misses_total == 5 and state.reports_total > 0
    assert (state.next_due_at - before).total_seconds() == pytest.approx(1800, abs=5)


def test_backoff_survives_a_new_process(simulator, account, make_trackers, run_command):
    (silent,) = make_trackers(1)
    simulator.config.silent_keys = {silent.hashed_advertisement_key}
    services.fetch_due()
    assert TrackerFetchState.objects.get(tracker=silent).backoff_factor == 2
    requests_before = len(simulator.requests)

    # A new process sees the back-off: the tracker is not due, nothing is asked.
    out = run_command("fetch_reports", "--once").stdout
    assert "nothing due" in out
    assert len(simulator.requests) == requests_before

    # Once due, the new process continues the back-off where the old one left it.
    make_due(silent)
    out = run_command("fetch_reports", "--once").stdout
    assert "1 trackers" in out
    state = TrackerFetchState.objects.get(tracker=silent)
    assert (state.backoff_factor, state.consecutive_misses) == (4, 2)


@pytest.mark.parametrize(
    ("faults", "health", "kind"),
    [
        (["unauthorized"], AppleAccount.Health.NEEDS_LOGIN, "needs_login"),
        (["server_error"], AppleAccount.Health.BACKING_OFF, "backoff"),
        (["rate_limited"], AppleAccount.Health.BACKING_OFF, "backoff"),
        (["empty"] * 4, AppleAccount.Health.BACKING_OFF, "empty"),
    ],
)
def test_apple_errors_penalize_the_account_never_the_trackers(
    simulator, account, make_trackers, faults, health, kind
):
    trackers = make_trackers(3)
    simulator.force(*faults)
    services.fetch_due()

    account.refresh_from_db()
    assert account.health == health
    assert account.errors_total == 1 and account.consecutive_errors == 1
    assert account.last_error.startswith(kind)
    if health == AppleAccount.Health.BACKING_OFF:
        assert account.backoff_until > timezone.now()
    assert AuditEvent.objects.filter(action="findmy.account_health_changed").count() == 1
    run = FetchRun.objects.get()
    assert (run.error_kind, run.account_id, run.ids_requested) == (kind, account.pk, 3)
    for state in TrackerFetchState.objects.filter(tracker__in=trackers):
        assert (state.backoff_factor, state.consecutive_misses, state.fetches_total) == (1, 0, 0)
        assert state.next_due_at <= timezone.now()  # still due, for the next account
        assert state.claimed_until is None
    assert LocationReport.objects.count() == 0


def test_empty_200_is_retried_before_it_counts(simulator, account, make_trackers):
    make_trackers(2)
    simulator.force("empty", "empty")  # fewer than FINDMY_EMPTY_RESPONSE_RETRIES + 1
    services.fetch_due()
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK and account.errors_total == 0
    assert LocationReport.objects.count() > 0
    assert [r["fault"] for r in simulator.requests] == ["empty", "empty", None]


def test_a_refused_account_hands_the_trackers_to_the_next_one(simulator, account, make_trackers):
    second = AppleAccountFactory()
    trackers = make_trackers(2)
    simulator.force("unauthorized")
    summary = services.fetch_due()
    assert (summary.requests, summary.errors) == (2, 1)
    healths = dict(AppleAccount.objects.values_list("pk", "health"))
    assert sorted(healths.values()) == ["NEEDS_LOGIN", "OK"]
    assert set(LocationReport.objects.values_list("tracker", flat=True)) == {t.pk for t in trackers}
    assert second.pk in healths


def test_needs_login_account_is_not_used_until_reset(simulator, account, make_trackers):
    make_trackers(1)
    simulator.force("unauthorized")
    services.fetch_due()
    requests = len(simulator.requests)
    services.fetch_due()
    assert len(simulator.requests) == requests  # no usable account: nothing sent
    services.account_reset_health(account=account)
    services.fetch_due()
    assert len(simulator.requests) == requests + 1
    assert AuditEvent.objects.filter(action="findmy.account_reset").exists()


def test_an_ended_run_is_not_fetched(simulator, account, make_trackers):
    now = timezone.now()
    ended = ProductionRunFactory(
        starts_at=now - timedelta(days=10), ends_at=now - timedelta(days=1)
    )
    (old,) = [TrackerFactory(production_run=ended)]
    (live,) = make_trackers(1)
    # A queue row from when the run was live must not bring it back either.
    TrackerFetchState.objects.create(tracker=old, next_due_at=now - timedelta(hours=1))

    services.fetch_due()
    asked = simulator.requested_ids()
    assert live.hashed_advertisement_key in asked
    assert old.hashed_advertisement_key not in asked
    assert not LocationReport.objects.filter(tracker=old).exists()
    assert TrackerFetchState.objects.get(tracker=old).fetches_total == 0


def test_reports_after_the_run_end_are_dropped(simulator, account, live_run, make_trackers):
    simulator.config.respect_window = False
    (tracker,) = make_trackers(1)
    live_run.ends_at = timezone.now() - timedelta(hours=6)
    live_run.save()
    state = TrackerFetchState.objects.create(tracker=tracker)
    claims = queue.claim_trackers(limit=5, now=timezone.now(), worker="w")
    assert claims == []  # the run has ended: not claimable
    live_run.ends_at = timezone.now() + timedelta(days=1)
    live_run.save()
    services.fetch_due()
    state.refresh_from_db()
    assert state.fetches_total == 1
    window_end = live_run.ends_at
    assert not LocationReport.objects.filter(observed_at__gt=window_end).exists()


def test_bad_payloads_are_counted_and_the_rest_of_the_batch_is_stored(
    simulator, account, make_trackers
):
    simulator.config.bad_payload_rate = 0.3
    trackers = make_trackers(4)
    services.fetch_due()

    damaged = sum(len(simulator.damaged.get(t.hashed_advertisement_key, ())) for t in trackers)
    assert damaged > 0
    run = FetchRun.objects.get()
    assert run.reports_undecryptable == damaged
    expected = {}
    for tracker in trackers:
        expected.update(produced_in_run(simulator, tracker))
    assert stored_hashes() == set(expected)
    assert run.reports_new == len(expected)
    assert run.reports_returned == len(expected) + damaged


def test_two_concurrent_workers_never_claim_the_same_tracker(transactional_db, make_trackers):
    from django.db import connection

    make_trackers(60)
    queue.ensure_fetch_states(now=timezone.now())
    barrier = threading.Barrier(2)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    errors = []

    def work(name):
        try:
            # Connect first: otherwise one worker can drain the queue while the other is
            # still opening its connection.
            connection.ensure_connection()
            barrier.wait()
            while True:
                batch = queue.claim_trackers(limit=7, now=timezone.now(), worker=name)
                if not batch:
                    break
                claimed[name].extend(c.tracker_id for c in batch)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    a, b = set(claimed["a"]), set(claimed["b"])
    assert len(claimed["a"]) == len(a) and len(claimed["b"]) == len(b)
    assert a.isdisjoint(b)
    assert len(a | b) == 60
    assert a and b, "both workers got work"


def test_a_crashed_workers_claim_comes_back_after_the_lease(transactional_db, make_trackers):
    trackers = make_trackers(3)
    queue.ensure_fetch_states(now=timezone.now())
    now = timezone.now()
    first = queue.claim_trackers(limit=10, now=now, worker="crashed", lease_seconds=300)
    assert {c.tracker_id for c in first} == {t.pk for t in trackers}
    assert queue.claim_trackers(limit=10, now=now + timedelta(seconds=299), worker="w2") == []
    again = queue.claim_trackers(limit=10, now=now + timedelta(seconds=301), worker="w2")
    assert {c.tracker_id for c in again} == {t.pk for t in trackers}


def test_claims_go_oldest_due_first(transactional_db, make_trackers):
    trackers = make_trackers(5)
    queue.ensure_fetch_states(now=timezone.now())
    now = timezone.now()
    for i, tracker in enumerate(trackers):
        TrackerFetchState.objects.filter(tracker=tracker).update(
            next_due_at=now - timedelta(minutes=10 * (i + 1))
        )
    batch = queue.claim_trackers(limit=2, now=now, worker="w")
    assert [c.tracker_id for c in batch] == [trackers[4].pk, trackers[3].pk]


def test_fetch_reports_command_for_one_tracker(simulator, account, make_trackers, run_command):
    first, second = make_trackers(2)
    out = run_command("fetch_reports", "--tracker", first.mac_address).stdout
    assert "1 trackers" in out
    assert simulator.requested_ids() == {first.hashed_advertisement_key}
    assert LocationReport.objects.filter(tracker=first).exists()
    assert not LocationReport.objects.filter(tracker=second).exists()


def test_a_tracker_whose_key_cannot_be_loaded_does_not_stop_the_batch(
    simulator, account, make_trackers
):
    broken, fine = make_trackers(2)
    type(broken).objects.filter(pk=broken.pk).update(private_key_encrypted=b"not a fernet token")
    services.fetch_due()
    run = FetchRun.objects.get()
    served = len(simulator.produced[broken.hashed_advertisement_key])
    assert run.reports_undecryptable == served > 0
    assert stored_hashes([fine]) == set(produced_in_run(simulator, fine))
    assert not LocationReport.objects.filter(tracker=broken).exists()


def test_a_cut_answer_is_asked_again_in_smaller_requests_and_only_the_silent_tracker_misses(
    simulator, account, make_trackers
):
    simulator.config.cut_answers = (20, 40)
    trackers = make_trackers(6)
    silent = trackers[-1]
    simulator.config.silent_keys = {silent.hashed_advertisement_key}
    services.fetch_due()
    sizes = [len(r["ids"]) for r in simulator.requests]
    assert sizes[0] == 6 and simulator.counters["cut"] >= 1
    assert min(sizes) == 1  # asked again until no answer looked cut
    states = {s.tracker_id: s for s in TrackerFetchState.objects.all()}
    assert [t.pk for t in trackers if states[t.pk].misses_total] == [silent.pk]
    for tracker in trackers[:-1]:
        served = simulator.produced[tracker.hashed_advertisement_key]
        # Every report of every answered key, also of the key the cut went through.
        assert LocationReport.objects.filter(tracker=tracker).count() == len(served) > 40


@pytest.mark.parametrize(("margin_seconds", "all_collected"), [(0, False), (10, True)])
def test_reports_published_late_are_collected_within_the_late_margin(
    simulator, account, settings, margin_seconds, all_collected
):
    settings.FINDMY_LATE_REPORT_HOURS = margin_seconds / 3600
    simulator.config.report_interval_seconds = 1
    simulator.config.late_fraction = 0.5
    simulator.config.late_seconds = 3
    now = timezone.now()
    run = ProductionRunFactory(starts_at=now - timedelta(seconds=20), ends_at=now + timedelta(1))
    trackers = [TrackerFactory(production_run=run) for _ in range(5)]
    services.fetch_due()
    first = int(time.time())
    time.sleep(4)  # every report observed before the first fetch is published by now
    make_due(*trackers)
    services.fetch_due()
    missing = 0
    for tracker in trackers:
        key = tracker.hashed_advertisement_key
        published = set(
            simulator.published_times(key, int(run.starts_at.timestamp()) + 1, first, first + 4)
        )
        stored = {
            int(at.timestamp())
            for at in LocationReport.objects.filter(tracker=tracker).values_list(
                "observed_at", flat=True
            )
        }
        missing += len(published - stored)
    assert (missing == 0) is all_collected, missing
    assert LocationReport.objects.count() == len(
        set(LocationReport.objects.values_list("payload_hash", flat=True))
    )
