from django.core.management import call_command

from findmy.models import AppleAccount
from geofencing.models import Place
from tracking.models import ProductionRun, Tracker


def test_seed_demo_is_idempotent_and_the_customer_sees_the_live_run(db, client):
    call_command("seed_demo")
    counts = (Tracker.objects.count(), Place.objects.count(), AppleAccount.objects.count())
    call_command("seed_demo")
    assert (Tracker.objects.count(), Place.objects.count(), AppleAccount.objects.count()) == counts

    run = ProductionRun.objects.get(name="Demo winter run")
    assert run.phase() == ProductionRun.Phase.LIVE
    assert run.trackers.filter(lifecycle_state=Tracker.Lifecycle.ACTIVE).count() == 50
    assert Tracker.objects.filter(lifecycle_state=Tracker.Lifecycle.IN_STOCK).count() == 10
    assert set(Place.objects.filter(production_runs=run).values_list("kind", flat=True)) == {
        Place.Kind.DELIVERY,
        Place.Kind.STORAGE,
    }
    # The demo Apple account comes from a login against the simulator, not from seed data.
    assert not AppleAccount.objects.exists()

    # The customer follows the demo client's alerts, which are on (the demo shows them).
    from tracking.models import AlertRule, AlertSubscription

    assert AlertSubscription.objects.get(user__username="customer").delivery == "IMMEDIATE"
    assert "tracker.delivered" in AlertRule.objects.get().event_types

    # Through the login form, as a person logs in (the login throttle needs the request).
    login = {"username": "customer", "password": "customer-demo-pass"}
    assert client.post("/accounts/login/", login).status_code == 302
    assert "Demo winter run" in client.get("/").content.decode()
    login = {"username": "admin", "password": "admin-demo-pass"}
    assert client.post("/admin/login/?next=/admin/", login).status_code == 302
    assert client.get("/admin/").status_code == 200
