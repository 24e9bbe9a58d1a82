"""uvicorn's httptools HTTP protocol, sending each response in one write.

uvicorn writes a response's status line and headers, then its body, as two writes: two
system calls, and on loopback or a LAN two segments, so the client wakes twice for one
answer. ``CoalescingHttpProtocol`` gathers what is written during one turn of the event
loop and sends it in one write at the end of that turn. Nothing else changes: order, flow
control, keep-alive and closing are uvicorn's; a close or an EOF sends what is gathered
first. A WebSocket upgrade gets the plain transport.

    uvicorn.run(app, http=CoalescingHttpProtocol)   # what ``ddtflow serve`` does
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from runtime.api.metrics import ERRORS

__all__ = ["CoalescingHttpProtocol", "CoalescingTransport"]


class CoalescingTransport:
    """A transport whose writes within one loop iteration go out as one write."""

    __slots__ = ("_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what was gathered (called at the end of the loop turn, or before closing)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if self.transport.is_closing():
            return  # the peer went away; the real transport would drop it too
        self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._pending = []
        self.transport.abort()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading …
        return getattr(self.transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over a ``CoalescingTransport``; what the HTTP parser refuses is
    answered in the API's one error shape."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def send_400_response(self, msg: str) -> None:
        """A request the parser refused (a negative, doubled or non-numeric Content-Length,
        Content-Length with chunked, garbage) never reaches the app: uvicorn answers it in
        plain text; this answers ``400 bad_request`` in JSON, counted, and closes."""
        ERRORS.labels("bad_request", "400").inc()
        body = orjson.dumps({"error": {"code": "bad_request", "message": msg, "details": {}}})
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        wrapped = self.transport
        if isinstance(wrapped, CoalescingTransport):  # the WebSocket protocol writes itself
            wrapped.flush()
            self.transport = wrapped.transport
        super().handle_websocket_upgrade()
