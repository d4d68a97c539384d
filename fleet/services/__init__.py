"""Every write of the tracker lifecycle, from a fresh key pair to an active tracker.

GENERATED -> EXPORTED -> IN_STOCK -> ALLOCATED -> ACTIVE -> RETIRED; the legal moves are
Tracker.TRANSITIONS and only `lifecycle.move` changes lifecycle_state. Each function is
keyword-only and atomic, checks all of its input first and raises LifecycleError naming every
problem (line and value), and writes its audit row in the same transaction. A refused call
changes nothing. Private keys exist in clear only inside keys_generate, between the CSPRNG
and Fernet.
"""

from ..exceptions import LifecycleError
from .keys import EXPORT_FORMATS, MAX_KEYS_PER_BATCH, batch_export, keys_generate, render_export
from .orders import order_allocate, order_cancel, order_create
from .trackers import devices_receive, tracker_retire, trackers_import

__all__ = [
    "EXPORT_FORMATS",
    "MAX_KEYS_PER_BATCH",
    "LifecycleError",
    "batch_export",
    "devices_receive",
    "keys_generate",
    "order_allocate",
    "order_cancel",
    "order_create",
    "render_export",
    "tracker_retire",
    "trackers_import",
]
