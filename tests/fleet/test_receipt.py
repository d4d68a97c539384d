import codecs

import pytest

from fleet import services
from fleet.exceptions import LifecycleError
from tests.factories import TrackerFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, Tracker


@pytest.fixture
def exported(world):
    batch = services.keys_generate(batch_name="recv", count=4)
    services.batch_export(batch=batch, fmt="csv", user=world.staff)
    return list(batch.trackers.order_by("mac_address"))


def test_devices_receive_moves_exported_trackers_to_stock(world, exported):
    text = "\n".join(t.mac_address.lower().replace(":", "-") for t in exported[:3])
    assert services.devices_receive(macs_text=text, user=world.staff) == 3

    states = dict(Tracker.objects.values_list("mac_address", "lifecycle_state"))
    assert [states[t.mac_address] for t in exported] == ["IN_STOCK"] * 3 + ["EXPORTED"]
    event = AuditEvent.objects.get(action="devices.receive")
    assert event.details["count"] == 3
    assert event.actor == world.staff


def test_devices_receive_accepts_a_manufacturer_csv_with_bom(world, exported):
    body = "serial;mac\r\n" + "".join(
        f"S{i};{t.mac_address.replace(':', '')}\r\n\r\n" for i, t in enumerate(exported)
    )
    data = codecs.BOM_UTF8 + body.encode()
    assert services.devices_receive(macs_text=data, user=world.staff) == 4


def test_devices_receive_refuses_and_names_every_bad_line(world, exported, unchanged):
    generated = services.keys_generate(batch_name="not-yet", count=1).trackers.get()
    in_stock = TrackerFactory()  # IN_STOCK already
    text = "\n".join(
        [
            exported[0].mac_address,
            "AA:BB:CC:DD:EE:FF",
            generated.mac_address,
            in_stock.mac_address,
            exported[1].mac_address.lower(),
        ]
    )
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.devices_receive(macs_text=text, user=world.staff)
    assert excinfo.value.messages == [
        'line 2: "AA:BB:CC:DD:EE:FF" is not a known tracker',
        f'line 3: "{generated.mac_address}" has not been exported to the manufacturer yet',
        f'line 4: "{in_stock.mac_address}" is already in stock',
    ]
    check()


def test_devices_receive_refuses_a_file_with_one_malformed_line(world, exported, unchanged):
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.devices_receive(macs_text=macs(exported) + "\nnonsense\n", user=world.staff)
    assert excinfo.value.messages == ['line 5: "nonsense" is not a MAC address']
    check()
