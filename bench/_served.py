"""What the benches that serve the app share: a gunicorn on a free port of 127.0.0.1 and a
bounded load generator (threads, each with its own HTTP client, a fixed number of requests).

Import it after django.setup() (the benches set DJANGO_SETTINGS_MODULE first)."""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, **env_overrides: str) -> subprocess.Popen:
    """gunicorn with the dev settings, DEBUG off and persistent connections; returns once
    /healthz answers (exits the bench when it never does)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.dev",
        "DEBUG": "false",
        "CONN_MAX_AGE": "600",
        **env_overrides,
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "trackersite.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
         "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    sys.exit("gunicorn did not come up")


def load(
    base: str,
    make_path,
    requests: int,
    *,
    concurrency: int = 4,
    headers: dict | None = None,
    cookies: dict | None = None,
) -> dict:
    """`concurrency` threads, `requests` in all, each path from make_path(rng). Returns p50
    and p95 in ms, requests per second, and the errors (anything but a 200, with the first
    few statuses seen)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_thread = max(1, requests // concurrency)

    def run(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, headers=headers, cookies=cookies, timeout=60) as client:
            mine = []
            for _ in range(per_thread):
                path = make_path(rng)
                started = time.perf_counter()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                mine.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    with lock:
                        errors.append(f"{path} -> {status}")
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    latencies.sort()
    return summary(latencies, errors, wall) | {"latencies": latencies, "wall": wall,
                                                "error_list": errors}  # fmt: skip


def summary(latencies: list[float], errors: list[str], wall: float) -> dict:
    """p50 and p95 in ms, requests per second and the errors of a set of requests."""
    latencies = sorted(latencies)
    return {
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "rps": len(latencies) / wall,
        "errors": len(errors),
        "error_samples": errors[:3],
        "n": len(latencies),
    }
