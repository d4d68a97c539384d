"""A stand-in for Apple's FindMy fetch service and an anisette server, over real HTTP.

`manage.py findmy_simulator --port P` serves:
  GET  /                          anisette headers (as anisette-v3-server does)
  POST /findmyservice/v2/fetch    the v2 fetch protocol
  POST /acsnservice/fetch         the legacy fetch protocol
  GET  /_simulator                counters (requests, reports served), for people watching
  and Apple's login for one configurable Apple ID (GSA SRP-6a, trusted-device and SMS second
  factors, iCloud loginDelegates): see findmy/gsa_simulator.py. Point APPLE_GSA_URL and
  APPLE_SETUP_URL at the simulator's base URL.

It answers with reports encrypted to the real advertisement keys of the trackers in the
database. Each tracker reports every `report_interval_seconds` (at a phase of its own) and moves
along its production run's route: the points a `RunRoutes` function gives for the run (findmy
knows no places; trackersite wires geofencing's in, see FINDMY_SIMULATOR_ROUTES). A simulator
built without one, or a run given fewer than two points, walks on a seeded random walk around a
home point of the run; the simulator says which when it starts and when it first meets such a
run. Everything derives from the seed, the key and the time, so a report asked for twice is the
same payload twice (as with Apple) and tests can compare what was stored with what was produced
(`produced`).

Faults are injected per request at configured rates (401, 500, 429, empty 200, slow answers) or
queued one by one with `force()` (also a JSON answer cut in the middle, `truncated`, and an
endless answer of `oversized_bytes`, `oversized`); a fraction of reports can be damaged so they
fail to decrypt. Two behaviours seen from Apple can be switched on:
  - `cut_answers=(20, 40)`: a request for several keys is answered with only its first N
    reports (N drawn in that range), in the order the keys were asked, so later keys get none;
  - `late_fraction` / `late_seconds`: some reports are published that long after they were
    observed; until then no request sees them.
`produced` holds only what was actually sent in a complete answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

from tracking.models import Tracker

from . import crypto
from .gsa_simulator import GsaAccountConfig, GsaSimulator

logger = logging.getLogger(__name__)

V2_PATH = "/findmyservice/v2/fetch"
LEGACY_PATH = "/acsnservice/fetch"
FAULTS = (
    "unauthorized",
    "server_error",
    "rate_limited",
    "empty",
    "slow",
    "session_expired",
    "truncated",
    "oversized",
)
# `force()` also takes "ok": that request is answered normally (to place a fault later on).
DEFAULT_CENTER = (48.2, 16.37)

# Production run ids -> each run's route points, (latitude, longitude) in route order; a run
# may be left out. Called from the request threads, with a database connection of their own.
RunRoutes = Callable[[Collection[int]], Mapping[int, Sequence[tuple[float, float]]]]


@dataclass
class SimulatorConfig:
    seed: int = 1
    report_interval_seconds: int = 900
    max_reports_per_key: int = 200  # newest first, as Apple trims long histories
    history_days: int = 7
    # Apple sometimes ignores startDate/endDate; False sends the whole history it has.
    respect_window: bool = True
    silent_fraction: float = 0.0  # trackers Apple never has a report for
    silent_keys: set[str] = field(default_factory=set)
    bad_payload_rate: float = 0.0  # reports damaged so that they fail to decrypt
    unauthorized_rate: float = 0.0
    server_error_rate: float = 0.0
    rate_limited_rate: float = 0.0
    empty_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 10.0
    oversized_bytes: int = 50_000_000
    cut_answers: tuple[int, int] | None = None  # (fewest, most) reports a cut answer keeps
    late_fraction: float = 0.0  # reports published `late_seconds` after they were observed
    late_seconds: int = 0
    leg_hours: float = 3.0  # travel time between two route points
    dwell_hours: float = 1.0  # time spent at each route point
    walk_radius_km: float = 25.0
    center: tuple[float, float] = DEFAULT_CENTER
    login: GsaAccountConfig = field(default_factory=GsaAccountConfig)


@dataclass(frozen=True)
class _Tracker:
    hashed_key: str
    advertisement_key: bytes
    run_id: int | None


def _unit(*parts) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class FindMySimulator:
    def __init__(self, config: SimulatorConfig | None = None, routes: RunRoutes | None = None):
        self.config = config or SimulatorConfig()
        self.routes = routes
        self._walking_runs: set[int | None] = set()  # runs already logged as walking
        self._lock = threading.Lock()
        self._forced: deque[str] = deque()
        self._rng = random.Random(self.config.seed)
        self._payload_cache: dict[tuple[str, int], tuple[bytes, bool]] = {}
        self.produced: dict[str, set[bytes]] = {}  # good payloads served, per hashed key
        self.damaged: dict[str, set[bytes]] = {}  # damaged payloads served, per hashed key
        self.requests: list[dict] = []  # path, ids, windows, outcome of every fetch request
        self.counters: Counter = Counter()
        self.gsa = GsaSimulator(self.config.login)  # Apple's login: GSA, 2FA, iCloud
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------

    def force(self, *faults: str) -> None:
        """Answer the next requests with these faults, in order (see FAULTS)."""
        for fault in faults:
            if fault not in (*FAULTS, "ok"):
                raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
        with self._lock:
            self._forced.extend(faults)

    def requested_ids(self) -> set[str]:
        with self._lock:
            return {i for r in self.requests for i in r["ids"]}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        self._server = self.make_server(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    def make_server(self, host: str, port: int) -> ThreadingHTTPServer:
        simulator = self

        class Handler(_Handler):
            sim = simulator

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        return server

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- faults -------------------------------------------------------------------------

    def _next_fault(self) -> str | None:
        c = self.config
        with self._lock:
            if self._forced:
                return self._forced.popleft()
            draw = self._rng.random()
        for fault, rate in (
            ("unauthorized", c.unauthorized_rate),
            ("server_error", c.server_error_rate),
            ("rate_limited", c.rate_limited_rate),
            ("empty", c.empty_rate),
            ("slow", c.slow_rate),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return None

    # --- trackers, routes and reports ---------------------------------------------------

    def _load_trackers(self, hashed_keys: list[str]) -> dict[str, _Tracker]:
        rows = Tracker.objects.filter(hashed_advertisement_key__in=hashed_keys).values_list(
            "hashed_advertisement_key", "advertisement_key", "production_run_id"
        )
        return {key: _Tracker(key, bytes(adv), run_id) for key, adv, run_id in rows}

    def _load_routes(self, run_ids: set[int]) -> dict[int, list[tuple[float, float]]]:
        """Each run's route points, from the RunRoutes function the simulator was given."""
        if self.routes is None or not run_ids:
            return {}
        return {run_id: list(points) for run_id, points in self.routes(run_ids).items()}

    def _note_walking(self, run_id: int | None) -> None:
        with self._lock:
            if run_id in self._walking_runs:
                return
            self._walking_runs.add(run_id)
        reason = "no routes were given" if self.routes is None else "it has under two points"
        logger.info("simulator: run %s walks at random (%s)", run_id, reason)

    def _home(self, run_id: int | None) -> tuple[float, float]:
        c = self.config
        lat = c.center[0] + (_unit(c.seed, "home-lat", run_id) - 0.5) * 6
        lon = c.center[1] + (_unit(c.seed, "home-lon", run_id) - 0.5) * 10
        return lat, lon

    def _walk_point(self, tracker: _Tracker, k: int) -> tuple[float, float]:
        c = self.config
        home_lat, home_lon = self._home(tracker.run_id)
        radius = c.walk_radius_km / 111.0
        lat = home_lat + (_unit(c.seed, "walk-lat", tracker.hashed_key, k) - 0.5) * 2 * radius
        lon = home_lon + (_unit(c.seed, "walk-lon", tracker.hashed_key, k) - 0.5) * 2 * (
            radius / max(math.cos(math.radians(home_lat)), 0.1)
        )
        return lat, lon

    def position(
        self, tracker: _Tracker, at_unix: int, places: list[tuple[float, float]]
    ) -> tuple[float, float]:
        """Where the tracker is at a time: dwelling at a route point (`places`) or travelling
        on; with fewer than two points, on its run's random walk."""
        c = self.config
        cycle = (c.leg_hours + c.dwell_hours) * 3600
        phase = _unit(c.seed, "phase", tracker.hashed_key) * cycle * 7
        step, into = divmod(at_unix + phase, cycle)
        step = int(step)
        if len(places) >= 2:
            offset = int(_unit(c.seed, "start", tracker.hashed_key) * len(places))
            origin = places[(step + offset) % len(places)]
            target = places[(step + offset + 1) % len(places)]
        else:
            origin = self._walk_point(tracker, step)
            target = self._walk_point(tracker, step + 1)
        dwell = c.dwell_hours * 3600
        frac = 0.0 if into < dwell else (into - dwell) / (c.leg_hours * 3600)
        lat = origin[0] + (target[0] - origin[0]) * frac
        lon = origin[1] + (target[1] - origin[1]) * frac
        # A finder's fix is a few tens of metres off.
        lat += (_unit(c.seed, "jit-lat", tracker.hashed_key, at_unix) - 0.5) * 0.0006
        lon += (_unit(c.seed, "jit-lon", tracker.hashed_key, at_unix) - 0.5) * 0.0006
        return max(-90.0, min(90.0, lat)), ((lon + 180.0) % 360.0) - 180.0

    def is_silent(self, hashed_key: str) -> bool:
        c = self.config
        return hashed_key in c.silent_keys or _unit(c.seed, "silent", hashed_key) < (
            c.silent_fraction
        )

    def report_times(self, hashed_key: str, start_unix: int, end_unix: int) -> list[int]:
        """The tracker's report times in [start, end] published by now, newest first, at most
        max per key."""
        c = self.config
        now = int(time.time())
        start_unix = max(start_unix, now - c.history_days * 86400)
        times = self.published_times(hashed_key, start_unix, min(end_unix, now), now)
        return times[: c.max_reports_per_key]

    def published_times(self, hashed_key: str, start_unix: int, end_unix: int, by: int):
        """Observation times in [start, end] whose report was published by `by`, newest
        first."""
        interval = self.config.report_interval_seconds
        offset = int(_unit(self.config.seed, "slot", hashed_key) * interval)
        first = math.ceil((start_unix - offset) / interval)
        last = math.floor((end_unix - offset) / interval)
        times = [offset + k * interval for k in range(last, first - 1, -1)]
        if self.config.late_fraction:
            times = [t for t in times if self.published_at(hashed_key, t) <= by]
        return times

    def published_at(self, hashed_key: str, at_unix: int) -> int:
        """When the report observed at `at_unix` reaches Apple's servers."""
        c = self.config
        late = _unit(c.seed, "late", hashed_key, at_unix) < c.late_fraction
        return at_unix + (c.late_seconds if late else 0)

    def payload(
        self, tracker: _Tracker, at_unix: int, places: list[tuple[float, float]]
    ) -> tuple[bytes, bool]:
        """The report for that time (cached: the same time gives the same bytes) and whether
        it was damaged."""
        key = (tracker.hashed_key, at_unix)
        with self._lock:
            cached = self._payload_cache.get(key)
        if cached:
            return cached
        c = self.config
        lat, lon = self.position(tracker, at_unix, places)
        eph = hashlib.sha224(f"{c.seed}|eph|{tracker.hashed_key}|{at_unix}".encode()).digest()
        try:
            crypto.load_private_key(eph)
        except ValueError:  # not a valid scalar: vanishingly rare
            eph = None
        payload = crypto.encrypt_report(
            tracker.advertisement_key,
            observed_at=datetime.fromtimestamp(at_unix, UTC),
            latitude=lat,
            longitude=lon,
            horizontal_accuracy=5 + int(_unit(c.seed, "acc", tracker.hashed_key, at_unix) * 95),
            status=int(_unit(c.seed, "status", tracker.hashed_key, at_unix) * 256),
            confidence=1 + int(_unit(c.seed, "conf", tracker.hashed_key, at_unix) * 3),
            layout=89 if _unit(c.seed, "layout", tracker.hashed_key, at_unix) < 0.5 else 88,
            ephemeral_private_key=eph,
        )
        damaged = _unit(c.seed, "bad", tracker.hashed_key, at_unix) < c.bad_payload_rate
        if damaged:
            payload = payload[:-1] + bytes((payload[-1] ^ 0xFF,))  # the GCM tag no longer fits
        result = (payload, damaged)
        with self._lock:
            if len(self._payload_cache) > 200_000:
                self._payload_cache.clear()
            self._payload_cache[key] = result
        return result

    def answer(self, entries: list[tuple[list[str], int, int]]) -> dict[str, list[bytes]]:
        """Payloads per hashed key for (ids, startDate ms, endDate ms) entries, counted as
        served."""
        result = self.answer_flagged(entries)
        self.register_served(result)
        return _unflagged(result)

    def answer_flagged(
        self, entries: list[tuple[list[str], int, int]]
    ) -> dict[str, list[tuple[bytes, bool]]]:
        """(payload, damaged) per hashed key, not yet counted as served."""
        all_ids = [i for ids, _, _ in entries for i in ids]
        try:
            trackers = self._load_trackers(all_ids)
            places = self._load_routes({t.run_id for t in trackers.values() if t.run_id})
        finally:
            connection.close()  # request threads come and go; keep no connection behind
        result: dict[str, list[tuple[bytes, bool]]] = {}
        for ids, start_ms, end_ms in entries:
            if self.config.respect_window:
                # Whole seconds inside [startDate, endDate] (both in milliseconds).
                start, end = -(-start_ms // 1000), end_ms // 1000
            else:
                start, end = 0, 2**32
            for hashed_key in ids:
                tracker = trackers.get(hashed_key)
                if tracker is None or self.is_silent(hashed_key):
                    continue
                run_places = places.get(tracker.run_id, [])
                if len(run_places) < 2:
                    self._note_walking(tracker.run_id)
                for at in self.report_times(hashed_key, start, end):
                    result.setdefault(hashed_key, []).append(self.payload(tracker, at, run_places))
        return self._cut(result, len(all_ids))

    def register_served(self, result: dict[str, list[tuple[bytes, bool]]]) -> None:
        with self._lock:
            for hashed_key, served in result.items():
                for payload, damaged in served:
                    bucket = self.damaged if damaged else self.produced
                    bucket.setdefault(hashed_key, set()).add(payload)
            self.counters["reports"] += sum(len(p) for p in result.values())

    def _cut(self, result: dict, keys_asked: int) -> dict:
        """Apple's cut answer: only the first N reports of a request for several keys."""
        if not self.config.cut_answers or keys_asked < 2:
            return result
        with self._lock:
            limit = self._rng.randint(*self.config.cut_answers)
        if sum(len(p) for p in result.values()) <= limit:
            return result
        cut: dict = {}
        for hashed_key, served in result.items():
            if limit <= 0:
                break
            cut[hashed_key] = served[:limit]
            limit -= len(cut[hashed_key])
        with self._lock:
            self.counters["cut"] += 1
        return cut


def _unflagged(result: dict[str, list[tuple[bytes, bool]]]) -> dict[str, list[bytes]]:
    return {key: [payload for payload, _ in served] for key, served in result.items()}


def anisette_headers() -> dict[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "X-Apple-I-Client-Time": now.isoformat().replace("+00:00", "Z"),
        "X-Apple-I-MD": base64.b64encode(b"\x01" * 28).decode(),
        "X-Apple-I-MD-M": base64.b64encode(b"\x02" * 60).decode(),
        "X-Apple-I-MD-RINFO": "17106176",
        "X-Apple-I-MD-LU": "0" * 64,
        "X-Apple-I-SRL-NO": "0",
        "X-MMe-Client-Info": "<MacBookPro13,2> <macOS;13.1;22C65> <com.apple.AuthKit/1>",
        "X-Apple-I-TimeZone": "UTC",
        "X-Apple-Locale": "en_US",
        "X-Mme-Device-Id": "00000000-0000-0000-0000-000000000000",
    }


class _Handler(BaseHTTPRequestHandler):
    sim: FindMySimulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        logger.debug("simulator: " + format, *args)

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body).encode())

    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.sim.gsa.handle(self, "GET"):
            return None
        if self.path.rstrip("/") == "":
            self.sim.counters["anisette"] += 1
            return self._json(200, anisette_headers())
        if self.path.startswith("/_simulator"):
            with self.sim._lock:
                stats = dict(self.sim.counters)
            return self._json(200, stats)
        return self._json(404, {"error": "not found"})

    def do_PUT(self):  # noqa: N802 - the stdlib's name
        if not self.sim.gsa.handle(self, "PUT"):
            self._json(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802 - the stdlib's name
        if self.sim.gsa.handle(self, "POST"):
            return None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path == V2_PATH or self.path.endswith("/v2/fetch"):
            protocol = "v2"
        elif self.path == LEGACY_PATH or self.path.endswith("/acsnservice/fetch"):
            protocol = "legacy"
        else:
            return self._json(404, {"error": "not found"})
        try:
            body = json.loads(raw)
            if protocol == "v2":
                entries = [
                    (e.get("primaryIds") or [], int(e["startDate"]), int(e["endDate"]))
                    for e in body["fetch"]
                ]
            else:
                entries = [
                    (e.get("ids") or [], int(e["startDate"]), int(e["endDate"]))
                    for e in body["search"]
                ]
        except (ValueError, KeyError, TypeError):
            return self._json(400, {"error": "bad request"})
        ids = [i for e in entries for i in e[0]]
        fault = self._check_auth() or self.sim._next_fault()
        if fault == "ok":
            fault = None
        with self.sim._lock:
            self.sim.counters["requests"] += 1
            self.sim.counters[fault or "ok"] += 1
            self.sim.requests.append(
                {
                    "path": self.path,
                    "protocol": protocol,
                    "ids": ids,
                    "windows": [(e[1], e[2]) for e in entries],  # (startDate, endDate) ms
                    "fault": fault,
                    "at": time.time(),
                }
            )
        if fault == "session_expired":  # every session the login handed out ends now
            self.sim.gsa.expire_sessions()
            return self._send(401, b"")
        if fault == "unauthorized":
            return self._send(401, b"")
        if fault == "server_error":
            return self._json(500, {"error": "internal"})
        if fault == "rate_limited":
            self.send_response(429)
            self.send_header("Retry-After", "60")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if fault == "empty":
            return self._send(200, b"")
        if fault == "slow":
            time.sleep(self.sim.config.slow_seconds)
        if fault == "oversized":
            return self._send_oversized()
        flagged = self.sim.answer_flagged(entries)
        body = self._answer_body(protocol, _unflagged(flagged))
        if fault == "truncated":
            return self._send(200, body[: len(body) // 2])
        self._send(200, body)
        # Only an answer that was sent whole counts as served (a client killed while it
        # waited never got it).
        self.sim.register_served(flagged)
        return None

    def _encode(self, body: dict) -> bytes:
        return json.dumps(body).encode()

    def _send_oversized(self) -> None:
        """A 200 that goes on and on, without Content-Length, until `oversized_bytes` or until
        the client hangs up; the bytes sent are counted."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"A" * 65536
        head = b'{"acsnLocations": {"statusCode": "200", "locationPayload": [{"id": "x", '
        sent = 0
        try:
            self.wfile.write(head + b'"locationInfo": ["')
            while sent < self.sim.config.oversized_bytes:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.write(b'"]}]}}')
        except (BrokenPipeError, ConnectionResetError):
            pass
        with self.sim._lock:
            self.sim.counters["oversized_bytes_sent"] += sent

    def _answer_body(self, protocol: str, payloads: dict[str, list[bytes]]) -> bytes:
        if protocol == "v2":
            return self._encode(
                {
                    "acsnLocations": {
                        "statusCode": "200",
                        "locationPayload": [
                            {"id": key, "locationInfo": [base64.b64encode(p).decode() for p in ps]}
                            for key, ps in payloads.items()
                        ],
                    }
                },
            )
        published = int(time.time() * 1000)
        return self._encode(
            {
                "statusCode": "200",
                "results": [
                    {
                        "id": key,
                        "payload": base64.b64encode(p).decode(),
                        "datePublished": published,
                        "statusCode": 0,
                        "description": "found",
                    }
                    for key, ps in payloads.items()
                    for p in ps
                ],
            },
        )

    def _check_auth(self) -> str | None:
        """Apple refuses a request without Basic auth or without anisette headers."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic ") or not self.headers.get("X-Apple-I-MD"):
            return "unauthorized"
        try:
            token = base64.b64decode(auth[6:]).decode().split(":", 1)[1]
        except (ValueError, IndexError):
            return "unauthorized"
        if self.sim.gsa.token_refused(token):  # a session the simulated login has expired
            return "unauthorized"
        return None
