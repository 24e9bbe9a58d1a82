"""CoalescingHttpProtocol: one write per response, on real sockets and a real uvicorn."""

from __future__ import annotations

import asyncio
import re
import socket

import orjson
import pytest
from prometheus_client import REGISTRY

from runtime.api.protocol import CoalescingTransport
from tests.runtime.api.harness import ApiServer


class _Sink(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def _pair() -> tuple[CoalescingTransport, _Sink, asyncio.Server]:
    loop = asyncio.get_running_loop()
    received: asyncio.Future[_Sink] = loop.create_future()

    def accept() -> _Sink:
        sink = _Sink()
        received.set_result(sink)
        return sink

    server = await loop.create_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    return CoalescingTransport(transport, loop), await received, server


async def test_writes_of_one_loop_turn_go_out_together_and_in_order() -> None:
    t, peer, server = await _pair()
    try:
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.writelines([b"he", bytearray(b"ll"), memoryview(b"o")])
        t.write(b"")  # nothing: no flush of its own
        # gathered, not yet sent: the buffer size says so
        assert t.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nhello")
        await asyncio.sleep(0.05)
        assert t.get_write_buffer_size() == 0
        assert bytes(peer.data) == b"HTTP/1.1 200 OK\r\n\r\nhello"
        t.write(b"bye")
        t.close()  # what was gathered goes out before the close
        await asyncio.wait_for(peer.closed, 5)
        assert bytes(peer.data).endswith(b"hellobye")
        assert t.is_closing()  # the rest is the real transport's
    finally:
        server.close()


async def test_abort_drops_what_was_gathered() -> None:
    t, peer, server = await _pair()
    try:
        t.write(b"never")
        t.abort()
        await asyncio.wait_for(peer.closed, 5)
        assert bytes(peer.data) == b""
    finally:
        server.close()


def _raw(server: ApiServer, payload: bytes) -> bytes:
    """Send ``payload`` and read until the server closes (its last request says so)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(payload)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_pipelined_requests_are_answered_in_order(embedded: ApiServer) -> None:
    req = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
    last = req.replace(b"host: x", b"host: x\r\nconnection: close")
    out = _raw(embedded, req + req.replace(b"healthz", b"nowhere") + last)
    answers = out.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200", b"404", b"200"]
    for answer in answers:  # each complete: headers, then a JSON body of its declared length
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head)
        assert length is not None and len(body) == int(length[1])
        assert isinstance(orjson.loads(body), dict)


def test_a_malformed_request_is_answered_and_closed(embedded: ApiServer) -> None:
    out = _raw(embedded, b"GARBAGE\x00 / HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"connection: close" in out.lower()


@pytest.mark.parametrize(
    "head",
    [
        b"GARBAGE\x00 / HTTP/1.1\r\n",
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n",
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: 1x\r\n",
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 5\r\n",
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
        b"transfer-encoding: chunked\r\n",
    ],
)
def test_a_request_the_http_parser_refuses_gets_the_json_error_shape(
    embedded: ApiServer, head: bytes
) -> None:
    """What uvicorn's parser refuses (a lying or doubled Content-Length, Content-Length
    with chunked, garbage) never reaches the app, and is answered in the one error shape
    and counted like every other error."""
    before = REGISTRY.get_sample_value(
        "ddtflow_api_errors_total", {"code": "bad_request", "status": "400"}
    )
    out = _raw(embedded, head + b"\r\n{}")
    status, _, rest = out.partition(b"\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert b"connection: close" in headers.lower()
    length = re.search(rb"content-length: (\d+)", headers.lower())
    assert length is not None and len(body) == int(length[1])
    error = orjson.loads(body)["error"]
    assert error["code"] == "bad_request" and error["message"] and error["details"] == {}
    after = REGISTRY.get_sample_value(
        "ddtflow_api_errors_total", {"code": "bad_request", "status": "400"}
    )
    assert (after or 0) - (before or 0) == 1
