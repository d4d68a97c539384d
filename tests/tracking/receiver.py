"""A real HTTP webhook receiver on 127.0.0.1 for the delivery tests: it answers each request
with the next status of a script, can hold a request open until released, and records what
arrived."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None  # None: the connection was dropped before an answer


@dataclass
class WebhookReceiver:
    script: list[int] = field(default_factory=list)  # statuses to answer, then 200s
    hold_first: bool = False  # keep the first request open until release()
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.holding = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    index = len(receiver.received)
                    entry = Received(dict(self.headers), body, None)
                    receiver.received.append(entry)
                    status = receiver.script[index] if index < len(receiver.script) else 200
                if index == 0 and receiver.hold_first:
                    receiver.holding.set()
                    receiver._release.wait(60)
                    return  # never answered: the sender died waiting
                entry.answered = status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
