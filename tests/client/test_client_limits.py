"""A misbehaving server: the client stays bounded. A server that stops pinging, sends
garbage, oversized messages, reserved names, endless attachments or a flood of events
gets a clear error or a disconnect (and a reconnection), never a hang or unbounded memory.

The server here is a scripted WebSocket-only Engine.IO "server" (``fake_server``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from socketeer.exceptions import BufferFull, ConnectionRefusedByServer
from socketeer.socketio import JsonCodec
from socketeer.socketio.client import V2_SERVER_MESSAGE

from .conftest import MakeClient
from .helpers import FAST, bounded, fake_server, get, handshake, queue_of

WS = {"transports": ("websocket",), **FAST}


async def accept(ws: ServerConnection, **handshake_options: Any) -> None:
    """Send the handshake and accept the CONNECT of the main namespace."""
    await ws.send(handshake(**handshake_options))
    assert await ws.recv() == "40"
    await ws.send('40{"sid":"abc"}')


async def test_a_server_that_stops_pinging_is_dead(make_client: MakeClient) -> None:
    connections = 0

    async def script(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await accept(ws, ping_interval=100, ping_timeout=100)
        if connections == 1:
            await ws.send("2")  # one ping, answered; then silence
            assert await ws.recv() == "3"
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, **WS)
        pings = queue_of(client.io, "ping")
        reasons = queue_of(client, "disconnect")
        connects = queue_of(client, "connect")
        await bounded(client.connect())
        await get(connects)
        assert await get(pings) == ()
        assert await get(reasons) == "ping timeout"
        await get(connects)  # reconnected
        assert connections == 2


@pytest.mark.parametrize(
    "garbage",
    ["x", "4{not a packet", '42["disconnect"]', "42[1]", '43["ack without id"]'],
    ids=["engine", "socketio", "reserved-name", "bad-event", "ack-without-id"],
)
async def test_garbage_is_a_parse_error(make_client: MakeClient, garbage: str) -> None:
    connections = 0

    async def script(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await accept(ws)
        if connections == 1:
            await ws.send(garbage)
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, **WS)
        reasons = queue_of(client, "disconnect")
        connects = queue_of(client, "connect")
        await bounded(client.connect())
        await get(connects)
        assert await get(reasons) == "parse error"
        await get(connects)  # and it reconnects


async def test_attachments_that_never_come(make_client: MakeClient) -> None:
    async def script(ws: ServerConnection) -> None:
        await accept(ws)
        await ws.send('451-["file",{"_placeholder":true,"num":0}]')
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, codec=JsonCodec(max_attachment_wait=0.1), **WS)
        reasons = queue_of(client, "disconnect")
        await bounded(client.connect())
        assert await get(reasons) == "parse error"


async def test_oversized_message_is_a_transport_error(make_client: MakeClient) -> None:
    async def script(ws: ServerConnection) -> None:
        await accept(ws)
        await ws.send('42["big","' + "x" * 2000 + '"]')
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, max_message_size=1000, reconnection=False, **WS)
        reasons = queue_of(client, "disconnect")
        errors = queue_of(client.io, "error")
        await bounded(client.connect())
        assert await get(reasons) == "transport error"
        assert "transport error" in str(await get(errors))


async def test_events_before_the_connect_reply_are_bounded(make_client: MakeClient) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(handshake())
        assert await ws.recv() == "40"
        for i in range(5):
            await ws.send(f'42["early",{i}]')
        await ws.send('40{"sid":"abc"}')
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, max_receive_buffer=3, reconnection=False, **WS)
        closes = queue_of(client.io, "close")
        await client.connect(wait=False)
        assert await get(closes) == "parse error"
        assert not client.connected


async def test_connect_reply_without_sid(make_client: MakeClient) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(handshake())
        assert await ws.recv() == "40"
        await ws.send("40")
        await ws.wait_closed()

    async with fake_server(script) as url:
        client = make_client(url, **WS)
        with pytest.raises(ConnectionRefusedByServer) as info:
            await bounded(client.connect())
        assert info.value.message == V2_SERVER_MESSAGE


async def test_a_flood_is_read_no_faster_than_handlers_finish(make_client: MakeClient) -> None:
    count = 2000
    sent = asyncio.Event()

    async def script(ws: ServerConnection) -> None:
        await accept(ws)
        for i in range(count):
            await ws.send(f'42["flood",{i}]')
        sent.set()
        await ws.wait_closed()

    release = asyncio.Event()
    seen: list[int] = []
    started = 0
    peak = 0

    async with fake_server(script) as url:
        client = make_client(url, max_pending_handlers=10, **WS)

        async def handler(i: int) -> None:
            nonlocal peak, started
            started += 1
            peak = max(peak, len(client.io._handler_tasks))
            await release.wait()
            seen.append(i)

        client.on("flood", handler)
        await bounded(client.connect())
        await bounded(sent.wait())  # everything is on its way; the client reads 10 only
        assert started == 10
        assert peak <= 10
        release.set()
        async with asyncio.timeout(10):
            while len(seen) < count:  # noqa: ASYNC110 (counting handler runs)
                await asyncio.sleep(0.01)
        assert seen == list(range(count))
        assert peak <= 10


async def test_buffered_events_are_capped(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9", max_buffered_events=3, max_buffered_bytes=100)
    for i in range(3):
        client.emit("e", i)
    with pytest.raises(BufferFull, match="max_buffered_events"):
        client.emit("e", 3)
    client2 = make_client("http://127.0.0.1:9", max_buffered_bytes=50)
    client2.emit("e", "x" * 20)
    with pytest.raises(BufferFull, match="max_buffered_bytes"):
        client2.emit("e", "x" * 30)
    client3 = make_client("http://127.0.0.1:9", retries=2, max_buffered_events=1)
    client3.emit("queued")
    with pytest.raises(BufferFull):
        client3.emit("queued")
    assert client.disconnected
