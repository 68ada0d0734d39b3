"""Malformed Socket.IO packets over a raw WebSocket: each one closes that connection with
"parse error" (or is refused as specified), while another client keeps being served, and
a thousand such connections leave no memory behind."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import socketeer
from socketeer.socketio.codecs import JsonCodec

TIMEOUT = 5.0


@dataclass
class App:
    io: socketeer.Server
    url: str
    disconnects: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    events: asyncio.Queue[tuple[str, list[Any]]] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def app(serve_asgi: Any) -> App:
    io = socketeer.Server(codec=JsonCodec(max_attachment_wait=0.3))
    holder: list[App] = []

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> None:
        socket.on("disconnect", lambda reason: holder[0].disconnects.put_nowait(reason))
        socket.on_any(lambda event, *args: holder[0].events.put_nowait((event, list(args))))
        socket.on("echo", lambda *args: args)

    io.of("/chat")  # a second static namespace
    base = await serve_asgi(socketeer.ASGIApp(io))
    holder.append(App(io, base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"))
    return holder[0]


async def open_socket(url: str, namespace: str = "/") -> ClientConnection:
    """A raw WebSocket that completed the Engine.IO and Socket.IO handshakes."""
    ws = await connect(url)
    handshake = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert isinstance(handshake, str)
    assert handshake.startswith("0{")
    prefix = "" if namespace == "/" else f"{namespace},"
    await ws.send(f"40{prefix}")
    reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert isinstance(reply, str)
    assert reply.startswith(f"40{prefix}{{"), reply
    return ws


async def assert_closed(ws: ClientConnection) -> None:
    """The server closes the connection (every message before the close is skipped)."""

    async def drain() -> None:
        while True:
            await ws.recv()

    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(drain(), TIMEOUT)


async def assert_echo(ws: ClientConnection, value: str) -> None:
    await ws.send(f'421["echo",{json.dumps(value)}]')
    reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert reply == f"431[{json.dumps(value)}]"


# Each closes the connection; the server reports "parse error" for the socket.
PARSE_ERRORS: dict[str, list[str | bytes]] = {
    "unknown packet type": ["49"],
    "letter as packet type": ["4x"],
    "event payload not an array": ['42{"a":1}'],
    "event name not a string": ["42[1,2]"],
    "empty event array": ["42[]"],
    "empty event name": ['42[""]'],
    "huge ack id": ['4299999999999999999999["a"]'],
    "truncated JSON": ['42["a",'],
    "text while attachments pending": ['451-["a",{"_placeholder":true,"num":0}]', '42["b"]'],
    "placeholder num out of range": ['451-["a",{"_placeholder":true,"num":1}]', b"\x01"],
    "placeholder num negative": ['451-["a",{"_placeholder":true,"num":-1}]', b"\x01"],
    "placeholder num bool": ['451-["a",{"_placeholder":true,"num":true}]', b"\x01"],
    "placeholder num string": ['451-["a",{"_placeholder":true,"num":"0"}]', b"\x01"],
    "placeholder num float": ['451-["a",{"_placeholder":true,"num":0.5}]', b"\x01"],
    "placeholder flag not true": ['451-["a",{"_placeholder":1,"num":0}]', b"\x01"],
    "more than max_attachments": ['4511-["a"]'],
    "binary when none expected": [b"\xff\xfe\x00"],
    "deep nesting": ['42["a",' + "[" * 200 + "]" * 200 + "]"],
    "namespace without slash": ['42chat,["a"]'],
    "reserved event from client": ['42["disconnecting"]'],
    "reserved connect event": ['42["connect"]'],
    "event on a namespace not joined": ['42/chat,["a"]'],
    "second CONNECT": ["40"],
    "CONNECT_ERROR from the client": ['44{"message":"x"}'],
    "DISCONNECT with a payload": ['41{"a":1}'],
    "ACK without id": ["43[]"],
    "ACK payload not an array": ['431{"a":1}'],
    "engine packet type unknown": ["9"],
    "client ping (wrong heartbeat direction)": ["2"],
}


@pytest.mark.parametrize("messages", PARSE_ERRORS.values(), ids=PARSE_ERRORS.keys())
async def test_malformed_packet_closes_only_that_connection(
    app: App, messages: list[str | bytes]
) -> None:
    witness = await open_socket(app.url)
    ws = await open_socket(app.url)
    for message in messages:
        await ws.send(message)
    await assert_closed(ws)
    reason = await asyncio.wait_for(app.disconnects.get(), TIMEOUT)
    assert reason in ("parse error", "transport error")
    await assert_echo(witness, "still here")
    await witness.close()


async def test_withheld_attachments_time_out(app: App) -> None:
    ws = await open_socket(app.url)
    await ws.send('451-["a",{"_placeholder":true,"num":0}]')
    await assert_closed(ws)  # max_attachment_wait is 0.3 s
    assert await asyncio.wait_for(app.disconnects.get(), TIMEOUT) == "parse error"


@pytest.mark.parametrize("name", ["__proto__", "__class__", "constructor", "error"])
async def test_peer_chosen_event_names_are_plain_names(app: App, name: str) -> None:
    ws = await open_socket(app.url)
    await ws.send(f'42["{name}",1]')
    assert await asyncio.wait_for(app.events.get(), TIMEOUT) == (name, [1])
    await assert_echo(ws, name)
    await ws.close()


@pytest.mark.parametrize("name", ["/__proto__", "/__class__", "/constructor", "/nope"])
async def test_unknown_namespace_is_refused_with_connect_error(app: App, name: str) -> None:
    ws = await connect(app.url)
    await asyncio.wait_for(ws.recv(), TIMEOUT)
    await ws.send(f"40{name},")
    reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert reply == f'44{name},{{"message":"Invalid namespace"}}'
    await ws.send("40")  # the connection itself is still usable
    assert str(await asyncio.wait_for(ws.recv(), TIMEOUT)).startswith('40{"sid":')
    await ws.close()


async def test_unknown_ack_id_is_ignored(app: App) -> None:
    ws = await open_socket(app.url)
    await ws.send("43999[1]")
    await assert_echo(ws, "after a stray ack")
    await ws.close()


async def test_a_thousand_bad_connections_leave_no_memory_behind(app: App) -> None:
    async def one_bad_client(payload: str) -> None:
        ws = await open_socket(app.url)
        await ws.send(payload)
        await assert_closed(ws)

    async def batch(count: int) -> None:
        payloads = ['42{"bad":1}', "4x", '451-["a",{"_placeholder":true,"num":9}]', "42[]"]
        await asyncio.gather(*(one_bad_client(payloads[i % 4]) for i in range(count)))

    await batch(100)  # warm up caches, imports, the loop's internals
    while not app.disconnects.empty():
        app.disconnects.get_nowait()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(10):
            await batch(100)
        while not app.disconnects.empty():
            app.disconnects.get_nowait()
        await asyncio.sleep(0)  # let the close callbacks of the last batch run
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 512 * 1024, f"memory grew by {grown} bytes over 1,000 bad connections"
    assert app.io.engine.clients_count == 0
    assert not app.io.sockets.sockets
    assert not app.io.sockets.adapter.rooms
