"""pg_advisory_xact_lock keys, one per bulk job: two workers running the same job queue up
instead of doing the work twice."""

LOCK_STATUS = 5_100_001
LOCK_ROLLUP = 5_100_002
LOCK_CITIES = 5_100_003
