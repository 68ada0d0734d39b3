"""socketeer's client against the official ``socket.io`` 4.8.4 server (Node).

``js/sio_server.mjs`` is a driveable official server: it echoes acknowledgements, joins
rooms on request, refuses ``/private`` without the right token, keeps connection-state
recovery on when asked, and obeys commands (broadcast, emit with ack, disconnect a socket,
cut its transport, stop listening and come back). Each test covers polling, WebSocket and
the upgrade where the transport matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from socketeer.client import Client
from socketeer.exceptions import AckTimeout, ConnectionRefusedByServer
from socketeer.socketio import MsgpackCodec

from .node import NodeScript, NodeScripts

TIMEOUT = 5.0
MODES: dict[str, tuple[str, ...]] = {
    "polling": ("polling",),
    "websocket": ("websocket",),
    "upgrade": ("polling", "websocket"),
}
FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.2, "randomization_factor": 0}
DROPPED = {"transport close", "transport error"}


async def start_server(node: NodeScripts, **options: Any) -> tuple[NodeScript, str]:
    server = await node("sio_server", json.dumps(options))
    port = (await server.expect("listening"))["port"]
    return server, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def connected_client(url: str, **options: Any) -> AsyncIterator[Client]:
    client = Client(url, **options)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), TIMEOUT)


def queue_of(emitter: Any, event: str) -> asyncio.Queue[Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    emitter.on(event, lambda *args: queue.put_nowait(args[0] if len(args) == 1 else args))
    return queue


async def get(queue: asyncio.Queue[Any], within: float = TIMEOUT) -> Any:
    try:
        return await asyncio.wait_for(queue.get(), within)
    except TimeoutError:
        raise AssertionError(f"nothing arrived within {within} s") from None


async def server_events_until(server: NodeScript, name: str) -> list[tuple[str, list[Any]]]:
    """The server's "event" lines up to and including the first named ``name``."""
    events = []
    while True:
        event = await server.expect("event")
        events.append((event["name"], event["args"]))
        if event["name"] == name:
            return events


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_events_acks_binary_and_rooms(node: NodeScripts, transports: tuple[str, ...]) -> None:
    server, url = await start_server(node)
    async with connected_client(url, transports=transports) as client:
        news = queue_of(client, "news")
        outgoing: list[tuple[Any, ...]] = []
        client.on_any_outgoing(lambda *args: outgoing.append(args))
        client.on("question", lambda a, b: {"got": [a, b], "bytes": b"\x09"})
        await asyncio.wait_for(client.connect(), TIMEOUT)
        connection = await server.expect("connection")
        assert connection["id"] == client.id
        assert connection["recovered"] is False

        answer = await asyncio.wait_for(
            client.emit_with_ack("echo", {"bin": b"\x00\x01"}, [1, "two"]), TIMEOUT
        )
        assert answer == ({"bin": b"\x00\x01"}, [1, "two"])
        event = await server.expect("event")
        assert event["args"] == [{"bin": {"$bytes": "0001"}}, [1, "two"]]
        assert event["ack"] is True
        assert outgoing == [("echo", {"bin": b"\x00\x01"}, [1, "two"])]

        await server.send(
            {"cmd": "emit_ack", "id": client.id, "event": "question", "args": [1, {"$bytes": "ff"}]}
        )
        assert (await server.expect("ack"))["args"] == [
            {"got": [1, {"$bytes": "ff"}], "bytes": {"$bytes": "09"}}
        ]

        assert await asyncio.wait_for(client.emit_with_ack("join", "room-1"), TIMEOUT) == "room-1"
        await server.send({"cmd": "emit", "to": "room-2", "event": "news", "args": ["not mine"]})
        await server.send(
            {"cmd": "emit", "to": "room-1", "event": "news", "args": [{"$bytes": "aa"}]}
        )
        assert await get(news) == b"\xaa"  # room-2's never came (it was sent first)
        if transports == MODES["upgrade"]:
            assert (await server.expect("upgrade"))["transport"] == "websocket"
            assert client.transport == "websocket"
            assert await asyncio.wait_for(client.emit_with_ack("echo", "ws"), TIMEOUT) == "ws"
    disconnect = await server.expect("disconnect")
    assert disconnect["reason"] == "client namespace disconnect"


async def test_namespaces_one_connection_auth_and_refusal(node: NodeScripts) -> None:
    server, url = await start_server(node)
    async with connected_client(url, transports=("websocket",)) as client:
        chat = client.socket("/chat")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await asyncio.wait_for(chat.connect(), TIMEOUT)
        first, second = await server.expect("connection"), await server.expect("connection")
        assert {first["nsp"], second["nsp"]} == {"/", "/chat"}
        assert first["engine"] == second["engine"]  # multiplexed on one Engine.IO session
        assert await asyncio.wait_for(chat.emit_with_ack("echo", "chat"), TIMEOUT) == "chat"

        refused = client.socket("/private", auth={"token": "wrong"})
        errors = queue_of(refused, "connect_error")
        with pytest.raises(ConnectionRefusedByServer) as info:
            await asyncio.wait_for(refused.connect(), TIMEOUT)
        assert info.value.message == "not authorized"
        assert info.value.data == {"reason": "bad token"}
        assert isinstance(await get(errors), ConnectionRefusedByServer)

        calls = 0

        async def auth() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            return {"token": "secret", "n": calls}

        private = client.socket("/private", auth=auth)  # the same socket, joining again
        assert private is refused
        await asyncio.wait_for(private.connect(), TIMEOUT)
        connection = await server.expect("connection")
        assert connection["nsp"] == "/private"
        assert connection["auth"] == {"token": "secret", "n": 1}


async def test_disconnect_reasons(node: NodeScripts) -> None:
    server, url = await start_server(node)
    async with connected_client(url, transports=("polling",), **FAST) as client:
        reasons = queue_of(client, "disconnect")
        connects = queue_of(client, "connect")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(connects)
        await server.expect("connection")
        await server.send({"cmd": "cut", "id": client.id})
        assert await get(reasons) == "transport close"
        await get(connects)  # reconnected
        connection = await server.expect("connection")
        await server.send({"cmd": "disconnect", "id": connection["id"]})
        assert await get(reasons) == "io server disconnect"
        assert not client.active
    async with connected_client(url, transports=("websocket",)) as client:
        reasons = queue_of(client, "disconnect")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await server.expect("connection")
        await asyncio.wait_for(client.disconnect(), TIMEOUT)
        assert await get(reasons) == "io client disconnect"
    reasons_seen = [e["reason"] for e in server.seen("disconnect")]
    assert reasons_seen[-1:] == ["client namespace disconnect"]


async def test_ping_events(node: NodeScripts) -> None:
    _, url = await start_server(node, pingInterval=100, pingTimeout=1000)
    async with connected_client(url, transports=("websocket",)) as client:
        pings = queue_of(client.io, "ping")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(pings)
        await get(pings)
        assert client.connected


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_recovery_after_a_cut(node: NodeScripts, transports: tuple[str, ...]) -> None:
    server, url = await start_server(node, recovery=True)
    async with connected_client(url, transports=transports, **FAST) as client:
        news: list[tuple[Any, ...]] = []
        client.on("news", lambda *args: news.append(args))
        received = queue_of(client, "news")
        connects = queue_of(client, "connect")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(connects)
        first = await server.expect("connection")
        # (A command on stdin and a packet on the network race in Node: wait for the event.)
        await server.send({"cmd": "emit", "event": "news", "args": [0]})
        await get(received)
        assert [args[:-1] for args in news] == [(0,)]  # the offset is the last argument

        await server.send({"cmd": "cut", "id": client.id})
        assert (await server.expect("disconnect"))["reason"] in DROPPED | {"forced close"}
        for i in range(1, 6):
            await server.send({"cmd": "emit", "event": "news", "args": [i]})
        await get(connects)
        again = await server.expect("connection")
        assert again["recovered"] is True
        assert client.recovered
        assert client.id == first["id"] == again["id"]
        assert [args[:-1] for args in news] == [(i,) for i in range(6)]


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_outage_with_retries_and_recovery(
    node: NodeScripts, transports: tuple[str, ...]
) -> None:
    """The server stops listening and drops every connection, then comes back on the same
    port (its state kept): the client reconnects with backoff, what it emitted meanwhile
    arrives once, in order, and the broadcasts it missed are replayed."""
    server, url = await start_server(node, recovery=True, pingInterval=300, pingTimeout=300)
    async with connected_client(
        url, transports=transports, retries=3, ack_timeout=2.0, **FAST
    ) as client:
        news: list[Any] = []
        client.on("news", lambda *args: news.append(args[0]))
        received = queue_of(client, "news")
        reasons = queue_of(client, "disconnect")
        connects = queue_of(client, "connect")
        attempts = queue_of(client.io, "reconnect_attempt")
        reconnected = queue_of(client.io, "reconnect")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(connects)
        await server.expect("connection")
        await server.send({"cmd": "emit", "event": "news", "args": ["before"]})
        await get(received)  # the client has an offset now: the JS server needs one

        await server.send({"cmd": "stop"})
        assert await get(reasons) in DROPPED
        assert (await server.expect("disconnect"))["reason"] in DROPPED | {
            "forced close",
            "ping timeout",
        }
        acks: list[Any] = []
        for i in range(5):
            client.emit("outage", i, callback=lambda *args, i=i: acks.append(i))
            await server.send({"cmd": "emit", "event": "news", "args": [f"missed {i}"]})
        assert [await get(attempts), await get(attempts)] == [1, 2]

        await server.send({"cmd": "start"})
        await server.expect("listening")
        assert await get(reconnected, within=10) >= 2
        await get(connects)
        assert client.recovered
        assert await asyncio.wait_for(client.emit_with_ack("echo", "after"), TIMEOUT) == "after"
        events = await server_events_until(server, "echo")
        assert [e for e in events if e[0] == "outage"] == [("outage", [i]) for i in range(5)]
        assert acks == list(range(5))
        assert news == ["before"] + [f"missed {i}" for i in range(5)]


async def test_killed_server_replaced_on_the_same_port(node: NodeScripts) -> None:
    server, url = await start_server(node)
    port = int(url.rsplit(":", 1)[1])
    async with connected_client(
        url, transports=("websocket",), retries=2, ack_timeout=2.0, **FAST
    ) as client:
        reasons = queue_of(client, "disconnect")
        connects = queue_of(client, "connect")
        attempts = queue_of(client.io, "reconnect_attempt")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(connects)
        server.process.kill()  # SIGKILL, to the pid of the process this test started
        assert await get(reasons) == "transport close"
        for i in range(5):
            client.emit("outage", i)
        await get(attempts)
        replacement, _ = await start_server(node, port=port)
        await get(connects, within=10)
        assert not client.recovered
        assert await asyncio.wait_for(client.emit_with_ack("echo", "after"), TIMEOUT) == "after"
        events = await server_events_until(replacement, "echo")
        assert events == [("outage", [i]) for i in range(5)] + [("echo", ["after"])]


@pytest.mark.parametrize("transports", [("polling",), ("websocket",)], ids=["polling", "websocket"])
async def test_msgpack_parser(node: NodeScripts, transports: tuple[str, ...]) -> None:
    server, url = await start_server(node, parser="msgpack")
    async with connected_client(url, transports=transports, codec=MsgpackCodec()) as client:
        news = queue_of(client, "news")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        assert await asyncio.wait_for(
            client.emit_with_ack("echo", {"b": b"\x01\x02"}, 3.5), TIMEOUT
        ) == ({"b": b"\x01\x02"}, 3.5)
        await server.send({"cmd": "emit", "event": "news", "args": [{"$bytes": "0a0b"}]})
        assert await get(news) == b"\x0a\x0b"


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_headers_query_and_cookies(node: NodeScripts, transports: tuple[str, ...]) -> None:
    server, url = await start_server(node, cookie=True, logRequests=True)
    async with connected_client(
        url, transports=transports, headers={"X-Token": "t0k"}, query={"tenant": "acme"}
    ) as client:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        connection = await server.expect("connection")
        assert connection["query"]["tenant"] == "acme"
        assert connection["headers"]["x-token"] == "t0k"
        assert await asyncio.wait_for(client.emit_with_ack("echo", 1), TIMEOUT) == 1
        if transports == MODES["upgrade"]:
            await server.expect("upgrade")
        sid = connection["engine"]
    requests = server.seen("request")
    assert {r["kind"] for r in requests} == {
        "http" if t == "polling" else "websocket" for t in transports
    }
    for request in requests:
        assert request["headers"]["x-token"] == "t0k"
        assert "tenant=acme" in request["url"]
        if "sid=" in request["url"]:  # after the handshake: the session cookie comes back
            assert request["headers"]["cookie"] == f"io={sid}"


async def test_listeners_timeouts_buffering_and_transport_options(node: NodeScripts) -> None:
    """The remaining client bullets against the official server: catch-all listeners both
    ways, ack timeouts, the offline buffer (volatile events are not buffered), force_new,
    remember_upgrade, and try_all_transports."""
    server, url = await start_server(node)
    client = Client(url, remember_upgrade=True, **FAST)
    try:
        incoming: list[tuple[Any, ...]] = []
        client.on_any(lambda *args: incoming.append(args))
        news = queue_of(client, "news")
        # Emitted before connecting: buffered and sent in order; the volatile one is dropped.
        client.emit("buffered", 1)
        client.volatile.emit("buffered", "volatile, dropped")
        client.emit("buffered", 2)
        connects = queue_of(client, "connect")
        await asyncio.wait_for(client.connect(), TIMEOUT)
        await get(connects)
        first = await server.expect("connection")
        assert first["transport"] == "polling"
        assert [
            e["args"] for e in (await server.expect("event"), await server.expect("event"))
        ] == [
            [1],
            [2],
        ]
        with pytest.raises(AckTimeout):
            await asyncio.wait_for(client.timeout(0.3).emit_with_ack("silent", 1), TIMEOUT)
        await server.send({"cmd": "emit", "event": "news", "args": ["hi", {"$bytes": "01"}]})
        assert await get(news) == ("hi", b"\x01")
        assert incoming[-1] == ("news", "hi", b"\x01")

        # remember_upgrade: once upgraded, the next connection opens on WebSocket directly.
        assert (await server.expect("upgrade"))["transport"] == "websocket"
        await server.send({"cmd": "cut", "id": client.id})
        await get(connects)
        again = await server.expect("connection")
        assert again["transport"] == "websocket"

        # force_new: a socket with an Engine.IO connection of its own.
        other = client.socket("/chat", force_new=True)
        await asyncio.wait_for(other.connect(), TIMEOUT)
        chat = await server.expect("connection")
        assert chat["nsp"] == "/chat"
        assert chat["engine"] != again["engine"]
        await asyncio.wait_for(other.disconnect(), TIMEOUT)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), TIMEOUT)

    # try_all_transports: this server refuses WebSocket; the client falls back to polling.
    polling_only, polling_url = await start_server(node, transports=["polling"])
    async with connected_client(
        polling_url, transports=("websocket", "polling"), try_all_transports=True, **FAST
    ) as fallback:
        await asyncio.wait_for(fallback.connect(), TIMEOUT)
        assert fallback.transport == "polling"
        assert (await polling_only.expect("connection"))["transport"] == "polling"
