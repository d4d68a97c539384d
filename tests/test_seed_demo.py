from django.core.management import call_command

from tracking.models import ProductionRun


def test_seed_demo_is_idempotent_and_the_customer_sees_the_live_run(db, client):
    call_command("seed_demo")
    call_command("seed_demo")
    run = ProductionRun.objects.get(name="Demo winter run")
    assert run.phase() == ProductionRun.Phase.LIVE
    assert client.login(username="customer", password="customer-demo-pass")
    assert "Demo winter run" in client.get("/").content.decode()
    assert client.login(username="admin", password="admin-demo-pass")
    assert client.get("/admin/").status_code == 200
