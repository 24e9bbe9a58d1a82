"""A real slow HTTP backend on loopback that counts its calls (the bank's identity
service of examples/bank_card_block), for tests of retries and concurrent turns."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
BANK = ROOT / "examples" / "bank_card_block"
VERIFY_URL = "https://cards.banca-esempio.example/api/v2/identity/verify"
ANSWER = {"match": True, "customer": {"first_name": "Mario"}, "card": {"id": "c-1", "masked": "x"}}


class SlowBackend:
    """The bank's identity service: answers every POST after ``delay_s``, counts them."""

    def __init__(self, delay_s: float) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with backend.lock:
                    backend.calls += 1
                time.sleep(delay_s)
                body = json.dumps(ANSWER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/verify"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
