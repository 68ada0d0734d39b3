"""Fault tests against socketeer's own server: the server dies mid-session and comes back
on the same port. The client reconnects with backoff; what it emitted during the outage
arrives once, in order; with connection-state recovery the events it missed are replayed.

``LiveServer.kill()`` stops listening and aborts every TCP connection at once, as a
crashed process would (no close frame, no answer to the held poll).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import socketeer
from socketeer.client import Client

from .conftest import MakeClient
from .helpers import FAST, MODES, LiveServer, bounded, echo_server, get, queue_of

# The server pings often, so that it notices dead connections quickly too.
SERVER = {"ping_interval": 0.5, "ping_timeout": 0.5}
DROP_REASONS = {"transport close", "transport error"}


async def drain_until(queue: asyncio.Queue[tuple[str, list[Any]]], name: str) -> list[Any]:
    """The events of ``queue`` up to and including the first named ``name``."""
    events = []
    while True:
        event = await get(queue)
        events.append(event)
        if event[0] == name:
            return events


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_outage_events_are_delivered_once_in_order_after_reconnection(
    live: LiveServer, make_client: MakeClient, transports: tuple[str, ...]
) -> None:
    io, seen = echo_server(**SERVER)
    url = await live.start(socketeer.ASGIApp(io))
    auth_calls = 0

    async def auth() -> dict[str, Any]:
        nonlocal auth_calls
        auth_calls += 1
        return {"call": auth_calls}

    client = make_client(url, transports=transports, auth=auth, retries=3, ack_timeout=2.0, **FAST)
    disconnects = queue_of(client, "disconnect")
    attempts = queue_of(client.io, "reconnect_attempt")
    reconnects = queue_of(client.io, "reconnect")
    reconnect_errors = queue_of(client.io, "reconnect_error")
    acks: list[Any] = []

    await bounded(client.connect())
    first = await get(seen.connections)
    assert first.handshake["auth"] == {"call": 1}
    assert await bounded(client.emit_with_ack("echo", "before")) == "before"
    assert await get(seen.events) == ("echo", ["before"])

    await live.kill()
    assert await get(disconnects) in DROP_REASONS
    for i in range(5):
        client.emit("outage", i, callback=lambda *args, i=i: acks.append((i, args)))
    # Backoff: attempts go on (and fail) while the server is down.
    assert [await get(attempts), await get(attempts)] == [1, 2]
    await get(reconnect_errors)

    io2, seen2 = echo_server(**SERVER)
    await live.start(socketeer.ASGIApp(io2))
    attempt = await get(reconnects, within=10)
    assert attempt >= 2
    second = await get(seen2.connections)
    assert second.handshake["auth"] == {"call": 2}  # evaluated again
    assert await bounded(client.emit_with_ack("echo", "after")) == "after"
    received = await drain_until(seen2.events, "echo")
    assert received == [("outage", [i]) for i in range(5)] + [("echo", ["after"])]
    assert acks == [(i, ()) for i in range(5)]  # each acknowledged once, in order
    await io.close()


async def test_buffered_events_without_retries_are_sent_in_order_on_reconnection(
    live: LiveServer, make_client: MakeClient
) -> None:
    io, _ = echo_server(**SERVER)
    url = await live.start(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",), **FAST)
    disconnects = queue_of(client, "disconnect")
    connects = queue_of(client, "connect")
    await bounded(client.connect())
    await get(connects)
    await live.kill()
    assert await get(disconnects) == "transport close"
    for i in range(20):
        client.emit("buffered", i, b"\x00" * i)
    client.volatile.emit("volatile")  # not buffered
    io2, seen2 = echo_server(**SERVER)
    await live.start(socketeer.ASGIApp(io2))
    await get(connects, within=10)
    client.emit("marker")
    received = await drain_until(seen2.events, "marker")
    assert received == [("buffered", [i, b"\x00" * i]) for i in range(20)] + [("marker", [])]
    await io.close()


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_recovery_replays_missed_events(
    live: LiveServer, make_client: MakeClient, transports: tuple[str, ...]
) -> None:
    io, seen = echo_server(connection_state_recovery=True, **SERVER)
    app = socketeer.ASGIApp(io)
    url = await live.start(app)
    client = make_client(url, transports=transports, **FAST)
    news: list[tuple[Any, ...]] = []
    order: list[str] = []

    def on_news(*args: Any) -> None:
        news.append(args)
        order.append("news")

    client.on("news", on_news)
    connects = queue_of(client, "connect")
    client.on("connect", lambda: order.append("connect"))
    disconnects = queue_of(client, "disconnect")
    await bounded(client.connect())
    await get(connects)
    socket = await get(seen.connections)
    client.emit("join", "room")
    assert await get(seen.events) == ("join", ["room"])
    first_id = client.id

    await live.kill()
    assert await get(disconnects) in DROP_REASONS
    assert await get(seen.disconnects) in DROP_REASONS | {"ping timeout"}
    for i in range(5):
        io.to("room").emit("news", i)
    io.except_("room").emit("news", "not for the room")

    order.clear()
    await live.start(app)  # the same server: its recovery state survived
    await get(connects, within=10)
    restored = await get(seen.connections)
    assert client.recovered
    assert client.id == first_id == restored.id != socket.conn.sid
    assert order == ["news"] * 5 + ["connect"]  # missed events come first, as in JS
    # As with the JS client, each event carries its offset as a last argument.
    assert [args[:-1] for args in news] == [(i,) for i in range(5)]
    assert all(isinstance(args[-1], str) for args in news)

    # A second drop: the offset of the last event is sent back, nothing is replayed twice.
    news.clear()
    await live.kill()
    assert await get(disconnects) in DROP_REASONS
    await live.start(app)
    await get(connects, within=10)
    assert client.recovered
    io.emit("news", "live")
    await get(seen.connections)
    assert await bounded(client.emit_with_ack("echo", "sync")) == "sync"
    assert [args[:-1] for args in news] == [("live",)]
    await io.close()


async def test_reconnection_off_stays_disconnected(
    live: LiveServer, make_client: MakeClient
) -> None:
    io, _ = echo_server(**SERVER)
    url = await live.start(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",), reconnection=False)
    disconnects = queue_of(client, "disconnect")
    closes = queue_of(client.io, "close")
    await bounded(client.connect())
    await live.kill()
    assert await get(disconnects) == "transport close"
    assert await get(closes) == "transport close"
    await bounded(client.io.wait_closed())
    assert client.io.ready_state == "closed"
    assert client.active  # connect() again reconnects
    await live.start(socketeer.ASGIApp(io))
    await bounded(client.connect())
    assert client.connected
    await io.close()


def test_backoff_formula() -> None:
    from socketeer.client.manager import backoff_delay

    delays = [backoff_delay(n, delay=1.0, delay_max=5.0, jitter=0) for n in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    # Jitter: an even tenth of the draw moves the delay down, an odd one up.
    assert backoff_delay(1, delay=1.0, delay_max=5.0, jitter=0.5, rand=lambda: 0.25) == 1.75
    assert backoff_delay(1, delay=1.0, delay_max=5.0, jitter=0.5, rand=lambda: 0.35) == 2.35
    assert backoff_delay(10_000, delay=1.0, delay_max=5.0, jitter=0) == 5.0


async def test_disconnect_while_reconnecting_stops_it(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9", reconnection_delay=0.05, timeout=1)
    attempts = queue_of(client.io, "reconnect_attempt")
    await client.connect(wait=False)
    await get(attempts)
    assert client.io.reconnecting
    await bounded(client.disconnect())
    assert not client.io.reconnecting
    assert client.io.ready_state == "closed"
    assert isinstance(client, Client)
