"""The worker's own listening socket (``qa.serving.reuse_port_socket``)."""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from qa.serving import reuse_port_socket

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or sys.platform == "win32", reason="SO_REUSEPORT"
)


def test_connections_accepted_by_a_worker_socket_have_nagle_off() -> None:
    """A response written in two pieces (headers, then body) must not wait for the client's
    delayed ACK: every --workers request took 48 ms when the socket said proto 0."""

    async def run() -> int:
        sock = reuse_port_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) != 0


def test_two_worker_sockets_share_a_port() -> None:
    a = reuse_port_socket("127.0.0.1", 0)
    try:
        b = reuse_port_socket("127.0.0.1", a.getsockname()[1])
        assert b.getsockname() == a.getsockname()
        assert b.proto == socket.IPPROTO_TCP
        b.close()
    finally:
        a.close()
