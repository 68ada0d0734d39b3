"""Connection-state recovery and the msgpack parser, driven by the official socket.io-client.

Recovery: a client's transport is cut, the server broadcasts while it is away, and on
reconnection the client gets its socket id, rooms and data back and every missed event,
in order, exactly once — also when it had received no event before the cut (which the JS
server does not recover).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

import socketeer
from socketeer.adapters.recovery import ConnectionStateRecovery
from socketeer.socketio.msgpack_codec import MsgpackCodec

from .node import NodeScript, NodeScripts

TIMEOUT = 10.0
TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}


@dataclass
class Events:
    connections: asyncio.Queue[socketeer.Socket] = field(default_factory=asyncio.Queue)
    disconnects: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    received: asyncio.Queue[tuple[str, list[Any]]] = field(default_factory=asyncio.Queue)


def recovering_server(events: Events, **options: Any) -> socketeer.Server:
    io = socketeer.Server(**options)

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> None:
        if not socket.recovered:
            socket.join("news")
            socket.data = {"joined": True}
        socket.on("disconnect", lambda reason: events.disconnects.put_nowait((socket.id, reason)))
        socket.on_any(lambda name, *args: events.received.put_nowait((name, list(args))))
        events.connections.put_nowait(socket)

    return io


async def start_client(
    node: NodeScripts, url: str, transports: list[str], **options: Any
) -> NodeScript:
    client = await node("recovery_client", url, json.dumps({"transports": transports, **options}))
    await client.expect("ready")
    return client


def payloads(client: NodeScript, name: str) -> list[Any]:
    """The first argument of every ``name`` event the client reported, in order."""
    return [event["args"][0] for event in client.seen("event") if event["name"] == name]


@pytest.mark.parametrize("transports", TRANSPORTS.values(), ids=TRANSPORTS.keys())
@pytest.mark.parametrize("received_before", [False, True], ids=["fresh", "after-events"])
async def test_missed_broadcasts_arrive_once_in_order_after_reconnection(
    serve_asgi: Any, node: NodeScripts, transports: list[str], received_before: bool
) -> None:
    events = Events()
    io = recovering_server(events, connection_state_recovery=True)
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start_client(node, url, transports)
    first = await client.expect("connect")
    assert first["recovered"] is False
    socket = await asyncio.wait_for(events.connections.get(), TIMEOUT)
    assert socket.id == first["id"]
    if received_before:
        io.to("news").emit("news", "before")
        await client.expect("event")
    other = await start_client(node, url, transports)  # a client that never drops
    await other.expect("connect")
    await asyncio.wait_for(events.connections.get(), TIMEOUT)

    await client.send({"cmd": "cut"})
    assert await asyncio.wait_for(events.disconnects.get(), TIMEOUT) == (
        socket.id,
        "transport close",
    )
    for i in range(10):
        io.to("news").emit("news", i)
    io.except_("news").emit("news", "not for the news room")

    again = await client.expect("connect")
    assert again["recovered"] is True
    assert again["id"] == first["id"]
    restored = await asyncio.wait_for(events.connections.get(), TIMEOUT)
    assert restored.recovered
    assert restored.id == socket.id
    assert restored.rooms == {socket.id, "news"}
    assert restored.data == {"joined": True}

    io.emit("done")
    for _ in range(11):  # ten missed, then "done"
        await client.expect("event")
    names = [event["name"] for event in client.seen("event")]
    assert names[-1] == "done"
    expected = ["before"] if received_before else []
    assert payloads(client, "news") == [*expected, *range(10)]
    # The client that stayed connected (it joined after "before") saw the ten once, live.
    for _ in range(11):
        await other.expect("event")
    assert payloads(other, "news") == list(range(10))


async def test_no_recovery_after_the_disconnection_window(
    serve_asgi: Any, node: NodeScripts
) -> None:
    events = Events()
    io = recovering_server(
        events,
        connection_state_recovery=ConnectionStateRecovery(max_disconnection_duration=0.2),
    )
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start_client(
        node, url, ["websocket"], reconnectionDelay=600, reconnectionDelayMax=600
    )
    first = await client.expect("connect")
    await asyncio.wait_for(events.connections.get(), TIMEOUT)
    await client.send({"cmd": "cut"})
    await asyncio.wait_for(events.disconnects.get(), TIMEOUT)
    again = await client.expect("connect")  # reconnects after 600 ms, past the window
    assert again["recovered"] is False
    assert again["id"] != first["id"]


async def test_without_recovery_a_reconnection_is_a_new_socket(
    serve_asgi: Any, node: NodeScripts
) -> None:
    events = Events()
    io = recovering_server(events)
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start_client(node, url, ["websocket"])
    first = await client.expect("connect")
    await client.send({"cmd": "cut"})
    again = await client.expect("connect")
    assert not again.get("recovered")  # the JS client leaves it undefined without a pid
    assert again["id"] != first["id"]


@pytest.mark.parametrize("transports", TRANSPORTS.values(), ids=TRANSPORTS.keys())
async def test_msgpack_parser_events_binary_and_acks(
    serve_asgi: Any, node: NodeScripts, transports: list[str]
) -> None:
    events = Events()
    io = recovering_server(events, codec=MsgpackCodec())
    io.of("/chat")

    @io.on("connection")
    def on_connection(socket: socketeer.Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.emit("hello", {"bytes": b"\x00\x01", "list": [1, 2.5, None, "x"]})

    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start_client(node, url, transports, parser="msgpack")
    await client.expect("connect")
    hello = await client.expect("event")
    assert hello == {
        "event": "event",
        "name": "hello",
        "args": [{"bytes": {"hex": "0001"}, "list": [1, 2.5, None, "x"]}],
    }
    await client.send({"cmd": "emit", "event": "upload", "args": ["hex:ff00", {"n": 1}]})
    assert await asyncio.wait_for(events.received.get(), TIMEOUT) == (
        "upload",
        [b"\xff\x00", {"n": 1}],
    )
    await client.send({"cmd": "ack", "event": "echo", "args": ["hex:0102", 3]})
    assert (await client.expect("ack"))["args"] == [{"hex": "0102"}]
    socket = await asyncio.wait_for(events.connections.get(), TIMEOUT)
    answer = await socket.timeout(5).emit_with_ack("question", b"\x09", "text")
    assert answer == (b"\x09", "text")
