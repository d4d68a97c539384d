"""Many trackers at once, for the query-count tests: rows written in one INSERT, with keys
that only need to be unique (nothing here is fetched or decrypted)."""

import hashlib
import itertools
from datetime import timedelta

from django.contrib.gis.geos import Point
from django.utils import timezone

from geofencing.models import StatusHistory
from tracking.models import Tracker

_serial = itertools.count(1)
STATUSES = [s.value for s in Tracker.Status]


def trackers_bulk(run, count: int, *, lon: float = 16.37, lat: float = 48.2) -> list[Tracker]:
    """`count` ACTIVE trackers of `run` at positions around (lon, lat), statuses in turn, every
    third one silent for two days; each with one status change an hour ago."""
    now = timezone.now()
    rows = []
    for i in range(count):
        n = next(_serial)
        key = hashlib.sha256(f"bulk-{n}".encode()).digest()[:28]
        rows.append(
            Tracker(
                mac_address=":".join(f"{b:02X}" for b in key[:6]),
                advertisement_key=key,
                hashed_advertisement_key=hashlib.sha256(key).hexdigest()[:44],
                private_key_encrypted=b"",
                lifecycle_state=Tracker.Lifecycle.ACTIVE,
                client=run.brand.client,
                production_run=run,
                label=f"Pallet {n}",
                status=STATUSES[i % len(STATUSES)],
                last_point=Point(lon + 0.001 * (i % 100), lat + 0.001 * (i // 100), srid=4326),
                last_report_at=now - (timedelta(days=2) if i % 3 == 0 else timedelta(minutes=5)),
            )
        )
    trackers = Tracker.objects.bulk_create(rows)
    StatusHistory.objects.bulk_create(
        StatusHistory(
            tracker=t,
            from_status=Tracker.Status.UNKNOWN,
            to_status=t.status,
            at=now - timedelta(hours=1),
        )
        for t in trackers
    )
    return trackers
