"""Real processes for the fault drills: a Redis server, a TCP proxy in front of PostgreSQL, a
Celery worker and beat, the simulator on a port of its own, and the tally of what was served
against what was stored."""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent.parent
LINES: list[str] = []  # the DRILL lines of this session, repeated in the terminal summary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every=0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class RedisServer:
    """A redis-server of the drill's own on a free port: the shared one is never touched."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="drill-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, 10, f"redis-server on port {self.port}")

    def cli(self, *args: str) -> str:
        binary = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        done = subprocess.run(
            [binary, "-p", str(self.port), *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout.strip()

    def ping(self) -> bool:
        return self.cli("ping") == "PONG"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresProxy:
    """A TCP proxy on 127.0.0.1 between the Celery processes and PostgreSQL.

    `cut()` drops every connection and closes the listening socket, so new connections are
    refused, as while a database server restarts; `restore()` listens again on the same port.
    `cut_on(marker, seconds)` does the same the moment a client sends bytes containing
    `marker` (say the COPY that starts storing reports), then restores after `seconds`.
    """

    def __init__(self, upstream=("127.0.0.1", 5432)):
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._cut_seconds = 0.0
        self.cuts = 0
        self.dropped = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.add((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        sockets = [client, server]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and self._marker and self._marker in data:
                        self._marker = None
                        threading.Thread(target=self._cut_for, daemon=True).start()
                        return
                    (server if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._pairs.discard((client, server))
            client.close()
            server.close()

    def cut(self) -> None:
        self.cuts += 1
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for client, server in pairs:
            self.dropped += 1
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self) -> None:
        if self._listener is None:
            self.start()

    def cut_on(self, marker: bytes, seconds: float) -> None:
        self._cut_seconds = seconds
        self._marker = marker

    def _cut_for(self) -> None:
        self.cut()
        time.sleep(self._cut_seconds)
        self.restore()

    def close(self) -> None:
        self.cut()


class CeleryProcess:
    """`celery worker` or `celery beat` in a process group of its own, its log in a file."""

    def __init__(self, kind: str, env: dict[str, str], log_dir: Path):
        self.kind = kind
        self.env = env
        self.log_path = log_dir / f"{kind}.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        if self.kind == "worker":
            # prefork, as in production: time limits only work with a pool of processes.
            args = ["worker", "--pool=prefork", "--concurrency=1", "--without-heartbeat",
                    "--without-gossip", "--without-mingle"]  # fmt: skip
            args.append(f"--hostname=drill{os.getpid()}@%h")
        else:
            args = ["beat", "--schedule", str(self.log_path.with_suffix(".db"))]
        self.starts += 1
        log = open(self.log_path, "a")  # noqa: SIM115 - the child writes to it
        log.write(f"\n===== start {self.starts} =====\n")
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "trackersite", *args, "--loglevel=INFO"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: the worker and its pool child die mid-task."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 60) -> None:
        """A warm shutdown: the running task finishes, nothing new starts."""
        if not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)  # the main process only: it stops its pool
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def tally(name: str, simulator, **extra) -> dict[str, int]:
    """Compare what the simulator served with the LocationReport rows, print the DRILL line.

    served: distinct good payloads the simulator sent in complete answers; stored: those of
    them in the table; lost: served but not stored; duplicated: rows beyond one per payload or
    per (tracker, observed time); foreign: rows the simulator never served."""
    served = {
        hashlib.sha256(p).digest() for payloads in simulator.produced.values() for p in payloads
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload_hash FROM tracking_locationreport")
        rows = [bytes(r[0]) for r in cursor.fetchall()]
        cursor.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n "
            "FROM tracking_locationreport GROUP BY tracker_id, observed_at) AS g"
        )
        same_observation = int(cursor.fetchone()[0])
    stored_set = set(rows)
    missing = served - stored_set
    if missing:
        by_hash = {hashlib.sha256(v[0]).digest(): k for k, v in simulator._payload_cache.items()}
        for digest in list(missing)[:10]:
            key, at = by_hash.get(digest, ("?", 0))
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT extract(epoch from min(r.observed_at)), "
                    "extract(epoch from max(r.observed_at)), count(*), "
                    "extract(epoch from t.last_report_at) FROM tracking_locationreport r "
                    "JOIN tracking_tracker t ON t.id = r.tracker_id "
                    "WHERE t.hashed_advertisement_key = %s GROUP BY t.last_report_at",
                    [key],
                )
                print("LOST", key, at, cursor.fetchall(), flush=True)
    result = {
        "served": len(served),
        "stored": len(stored_set & served),
        "lost": len(served - stored_set),
        "duplicated": len(rows) - len(stored_set) + same_observation,
        "foreign": len(stored_set - served),
    }
    line = f"DRILL {name}: served={result['served']} stored={result['stored']} " + (
        f"lost={result['lost']} duplicated={result['duplicated']}"
    )
    if extra:
        line += " (" + " ".join(f"{k}={v}" for k, v in extra.items()) + ")"
    print("\n" + line, flush=True)
    LINES.append(line)
    return result
