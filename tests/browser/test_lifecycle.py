"""The lifecycle in Chromium: a new batch from key generation to ACTIVE trackers in a run,
through admin pages alone, by a staff member of the operations group."""

import pytest
from playwright.sync_api import expect

from tracking.models import KeyBatch, Tracker

pytestmark = pytest.mark.django_db(transaction=True)


def test_operations_take_a_new_batch_from_generation_to_active(world, staff_page, screenshot):
    page, _ = staff_page("operations")

    page.goto("/admin/")
    page.click("#content-main a[href='/admin/tracking/keybatch/add/']")
    page.fill("#id_batch_name", "spring-2027")
    page.fill("#id_count", "3")
    screenshot(page, "lifecycle-1-generate")
    page.click("input[type=submit][value=Generate]")
    expect(page.locator(".messagelist .success")).to_contain_text('"spring-2027": 3 key pairs')

    with page.expect_download() as download:
        page.click("button[name=format][value=csv]")
    assert download.value.suggested_filename == "spring-2027.csv"
    assert KeyBatch.objects.get(name="spring-2027").state == KeyBatch.State.EXPORTED

    page.click('.object-tools a:text("The batch\'s MACs")')
    expect(page.locator("#result_list .field-mac_address")).to_have_count(3)
    macs = page.locator("#result_list .field-mac_address").all_inner_texts()
    screenshot(page, "lifecycle-2-batch-macs")

    page.goto("/admin/tracking/keybatch/")
    page.click(".object-tools a:text('Receive devices')")
    page.fill("#id_macs_text", "\n".join(m.lower().replace(":", "-") for m in macs))
    page.click("input[type=submit][value=Receive]")
    expect(page.locator(".messagelist .success")).to_contain_text("3 devices received into stock")

    page.goto("/admin/fleet/customerorder/add/")
    page.click("#id_client + .select2 .select2-selection")  # the autocomplete picker
    page.fill(".select2-search__field", "Alpha")
    page.click(".select2-results__option:text('Alpha Logistics')")
    page.fill("#id_reference", "PO-SPRING")
    page.fill("#id_quantity", "3")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_contain_text("Next step: allocate")
    screenshot(page, "lifecycle-3-order")

    page.click(".object-tools a:text('Allocate trackers')")
    page.fill("#id_count", "3")
    page.click("input[type=submit][value=Allocate]")
    expect(page.locator(".messagelist .success")).to_contain_text("3 trackers allocated")

    page.click(".object-tools a:text('Import into a run')")
    page.select_option("#id_production_run", str(world.run_a.pk))
    page.check("#id_whole_order")
    page.click("input[type=submit][value=Import]")
    expect(page.locator(".messagelist .success")).to_contain_text(
        '3 trackers active in production run "Alpha spring run"'
    )
    screenshot(page, "lifecycle-4-imported")

    states = set(
        Tracker.objects.filter(mac_address__in=macs).values_list(
            "lifecycle_state", "production_run"
        )
    )
    assert states == {(Tracker.Lifecycle.ACTIVE, world.run_a.pk)}
