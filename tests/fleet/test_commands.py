"""The whole chain by manage.py, generate -> ACTIVE, and the refusals as CommandErrors."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fleet.models import CustomerOrder
from tracking.models import AuditEvent, KeyBatch, Tracker


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_commands_take_a_batch_from_generation_to_active(world, tmp_path):
    _run("generate_keys", "--batch", "cmd", "--count", "6", "--user", "staff")
    batch = KeyBatch.objects.get(name="cmd")
    assert batch.trackers.count() == 6

    for fmt in ("csv", "json", "bin"):
        _run("export_keys", "--batch", "cmd", "--format", fmt, "--out", str(tmp_path / f"k.{fmt}"))
    assert (tmp_path / "k.bin").stat().st_size == 6 * 28
    assert len(json.loads((tmp_path / "k.json").read_text())["devices"]) == 6
    rows = list(csv.DictReader((tmp_path / "k.csv").open()))
    assert AuditEvent.objects.filter(action="keys.export").count() == 3

    # The manufacturer's list: lower case, dashes, semicolons, a BOM and blank lines.
    received = tmp_path / "received.csv"
    body = "\n\n".join(f"{r['mac_address'].lower().replace(':', '-')};ok" for r in rows)
    received.write_bytes(b"\xef\xbb\xbfmac;check\n" + body.encode())
    assert "6 devices received" in _run("receive_devices", str(received))

    CustomerOrder.objects.create(client=world.client_a, reference="PO-CMD", quantity=6)
    scanned = tmp_path / "scanned.txt"
    scanned.write_text("\n".join(r["mac_address"].replace(":", "") for r in rows[:4]))
    assert "4 trackers allocated" in _run("allocate_trackers", "--order", "PO-CMD", str(scanned))
    assert "2 trackers allocated" in _run("allocate_trackers", "--order", "PO-CMD", "--count", "2")

    first = tmp_path / "first.txt"
    first.write_text(rows[0]["mac_address"])
    _run("import_trackers", "--production-run", str(world.run_a.pk), str(first))
    out = _run("import_trackers", "--production-run", str(world.run_a.pk), "--order", "PO-CMD")
    assert "5 trackers active" in out

    assert set(batch.trackers.values_list("lifecycle_state", "client", "production_run")) == {
        ("ACTIVE", world.client_a.pk, world.run_a.pk)
    }
    actors = set(AuditEvent.objects.filter(action="keys.generate").values_list("actor", flat=True))
    assert actors == {world.staff.pk}


def test_commands_refuse_with_every_line_and_change_nothing(world, tmp_path, unchanged):
    _run("generate_keys", "--batch", "r", "--count", "2")
    macs = list(Tracker.objects.filter(key_batch__name="r").values_list("mac_address", flat=True))
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{macs[0]}\nzz:zz\n{macs[1]}\n")
    check = unchanged()
    with pytest.raises(CommandError) as excinfo:
        _run("receive_devices", str(bad))
    assert str(excinfo.value) == (
        'refused, nothing changed:\n  line 2: "zz:zz" is not a MAC address'
    )
    bad.write_text("\n".join(macs))
    with pytest.raises(CommandError, match="has not been exported"):
        _run("receive_devices", str(bad))
    with pytest.raises(CommandError, match='order "NOPE" does not exist'):
        _run("allocate_trackers", "--order", "NOPE", "--count", "1")
    with pytest.raises(CommandError, match='key batch "r" already exists'):
        _run("generate_keys", "--batch", "r", "--count", "1")
    check()


def test_cancel_order_command_returns_trackers_to_stock(world, stock):
    trackers = stock(2)
    order = CustomerOrder.objects.create(client=world.client_b, reference="PO-X", quantity=2)
    _run("allocate_trackers", "--order", "PO-X", "--count", "2")
    assert "2 trackers back in stock" in _run("cancel_order", "--order", "PO-X")
    order.refresh_from_db()
    assert order.status == "CANCELLED"
    assert {t.lifecycle_state for t in Tracker.objects.filter(pk__in=[t.pk for t in trackers])} == {
        "IN_STOCK"
    }
