"""Small helpers for the fleet tests."""


def macs(trackers, *, sep: str = "\n") -> str:
    """The trackers' MACs as a pasted list."""
    return sep.join(t.mac_address for t in trackers)
