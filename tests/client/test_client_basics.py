"""The asyncio client against socketeer's own server: connecting over each transport,
events and acknowledgements both ways, binary data, catch-all listeners, namespaces
multiplexed on one connection, auth, refusals and the disconnect reasons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import socketeer
from socketeer.client import Client
from socketeer.exceptions import (
    AckTimeout,
    ConnectionFailed,
    ConnectionRefusedByServer,
    Disconnected,
    LocalProtocolError,
)

from .conftest import MakeClient
from .helpers import MODES, bounded, echo_server, eventually, get, queue_of


@pytest.mark.parametrize("transports", MODES.values(), ids=MODES.keys())
async def test_events_acks_and_binary_both_ways(
    serve_asgi: Any, make_client: MakeClient, transports: tuple[str, ...]
) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=transports)
    news = queue_of(client, "news")
    upgrades = queue_of(client.io, "upgrade")
    client.on("question", lambda a, b: {"sum": a + b, "bytes": b"\x00\xff"})

    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert client.connected
    assert client.id == server_socket.id
    assert not client.recovered

    client.emit("hello", {"nested": [b"\x01", {"deep": b"\x02"}]}, "text")
    assert await get(seen.events) == ("hello", [{"nested": [b"\x01", {"deep": b"\x02"}]}, "text"])
    assert await bounded(client.emit_with_ack("echo", 1, b"\xaa")) == (1, b"\xaa")
    assert await bounded(client.emit_with_ack("echo", "one")) == "one"
    assert await bounded(client.emit_with_ack("echo")) is None

    acked: asyncio.Queue[Any] = asyncio.Queue()
    client.emit("echo", [1, 2], callback=lambda *args: acked.put_nowait(args))
    assert await get(acked) == ([1, 2],)

    server_socket.emit("news", {"n": 1}, b"\x03")
    assert await get(news) == ({"n": 1}, b"\x03")
    answer = await bounded(server_socket.timeout(5).emit_with_ack("question", 2, 3))
    assert answer == {"sum": 5, "bytes": b"\x00\xff"}
    if transports == MODES["upgrade"]:
        await eventually(lambda: client.transport == "websocket")
        assert server_socket.conn.transport == "websocket"
        assert await get(upgrades) == "websocket"
        assert await bounded(client.emit_with_ack("echo", "after upgrade")) == "after upgrade"


async def test_async_handlers_and_acks_of_unhandled_events(
    serve_asgi: Any, make_client: MakeClient
) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",))

    async def slow(x: int) -> tuple[int, str]:
        await asyncio.sleep(0)
        return x * 2, "done"

    client.on("slow", slow)
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert await bounded(server_socket.timeout(5).emit_with_ack("slow", 21)) == (42, "done")
    # Nobody listens: the client still answers, with nothing.
    assert await bounded(server_socket.timeout(5).emit_with_ack("nobody")) is None


async def test_catch_all_listeners_both_ways(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",))
    incoming: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    first: list[str] = []

    def record_in(*args: Any) -> None:
        incoming.append(args)

    client.on_any(record_in)
    client.prepend_any(lambda name, *args: first.append(name))
    client.on_any_outgoing(lambda *args: outgoing.append(args))
    assert client.listeners_any() == [client.listeners_any()[0], record_in]
    assert len(client.listeners_any_outgoing()) == 1

    client.emit("offline", 0)  # buffered: reported when actually sent
    assert outgoing == []
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert await get(seen.events) == ("offline", [0])
    assert outgoing == [("offline", 0)]
    client.emit("up", b"\x01")
    server_socket.emit("down", 1, b"\x02")
    await get(seen.events)
    await eventually(lambda: len(incoming) == 1)
    assert incoming == [("down", 1, b"\x02")]
    assert first == ["down"]
    assert outgoing[-1] == ("up", b"\x01")

    client.off_any(record_in)
    client.off_any()
    client.prepend_any_outgoing(lambda *args: None)
    client.off_any_outgoing()
    assert client.listeners_any() == []
    assert client.listeners_any_outgoing() == []


async def test_namespaces_share_one_connection(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("polling",))
    chat = client.socket("/chat")
    assert client.socket("chat") is chat
    await bounded(client.connect())
    main_socket = await get(seen.connections)
    await bounded(chat.connect())
    chat_socket = await get(seen.connections)
    assert chat_socket.nsp.name == "/chat"
    assert chat_socket.conn is main_socket.conn  # one Engine.IO session
    assert await bounded(chat.emit_with_ack("echo", "in chat")) == "in chat"
    assert await get(seen.events) == ("echo", ["in chat"])

    # Leaving one namespace keeps the connection for the other.
    await bounded(chat.disconnect())
    assert await get(seen.disconnects) == "client namespace disconnect"
    assert client.connected
    assert await bounded(client.emit_with_ack("echo", "still here")) == "still here"

    # force_new: a connection of its own.
    other = client.socket("/chat", force_new=True)
    assert other.io is not client.io
    await bounded(other.connect())
    other_socket = await get(seen.connections)
    assert other_socket.conn is not main_socket.conn
    await bounded(other.disconnect())


async def test_url_namespace_and_query(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(f"{url}/chat?room=7", query={"extra": "x"}, transports=("websocket",))
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    assert server_socket.nsp.name == "/chat"
    assert server_socket.handshake["query"]["room"] == "7"
    assert server_socket.handshake["query"]["extra"] == "x"


async def test_auth_dict_and_callable_refusal_with_data(
    serve_asgi: Any, make_client: MakeClient
) -> None:
    io, seen = echo_server()
    private = io.of("/private")

    @private.use
    def check(socket: socketeer.Socket) -> None:
        if socket.handshake["auth"].get("token") != "secret":
            raise socketeer.ConnectionRefusedByServer("not authorized", {"reason": "bad token"})

    private.on("connection", seen.connections.put_nowait)
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",))
    await bounded(client.connect())
    await get(seen.connections)

    refused = client.socket("/private", auth={"token": "wrong"})
    errors = queue_of(refused, "connect_error")
    with pytest.raises(ConnectionRefusedByServer) as info:
        await bounded(refused.connect())
    assert (info.value.message, info.value.data) == ("not authorized", {"reason": "bad token"})
    error = await get(errors)
    assert isinstance(error, ConnectionRefusedByServer)
    assert not refused.active  # a refused socket does not reconnect

    calls = 0

    async def auth() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"token": "secret", "call": calls}

    client2 = client.socket("/private", auth=auth)  # the same socket, joining again
    assert client2 is refused
    await bounded(client2.connect())
    server_socket = await get(seen.connections)
    assert server_socket.handshake["auth"] == {"token": "secret", "call": 1}

    refused_nsp = client.socket("/nowhere")
    with pytest.raises(ConnectionRefusedByServer, match="Invalid namespace"):
        await bounded(refused_nsp.connect())


async def test_disconnect_reasons(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))

    # The server disconnects the socket: "io server disconnect", and no reconnection.
    client = make_client(url, transports=("websocket",), reconnection_delay=0.05)
    reasons = queue_of(client, "disconnect")
    closes = queue_of(client.io, "close")
    await bounded(client.connect())
    server_socket = await get(seen.connections)
    server_socket.disconnect()
    assert await get(reasons) == "io server disconnect"
    assert await get(closes) == "forced close"  # its last socket left: the manager closed
    assert not client.active
    await bounded(client.io.wait_closed())
    assert await get(seen.disconnects) == "server namespace disconnect"

    # The client disconnects: "io client disconnect" here, "client namespace disconnect" there.
    client = make_client(url, transports=("polling",))
    reasons = queue_of(client, "disconnect")
    await bounded(client.connect())
    await get(seen.connections)
    pending = asyncio.ensure_future(client.emit_with_ack("hang"))
    await get(seen.events)
    await bounded(client.disconnect())
    assert await get(reasons) == "io client disconnect"
    assert await get(seen.disconnects) == "client namespace disconnect"
    with pytest.raises(Disconnected, match="io client disconnect"):
        await bounded(pending)
    assert client.io.ready_state == "closed"
    seen.release.set()

    # The server closes the connection: "transport close", then a reconnection.
    client = make_client(url, transports=("websocket",), reconnection_delay=0.05)
    reasons = queue_of(client, "disconnect")
    connects = queue_of(client, "connect")
    await bounded(client.connect())
    await get(connects)
    server_socket = await get(seen.connections)
    server_socket.disconnect(close=True)
    assert await get(reasons) == "io server disconnect"

    client = make_client(url, transports=("polling",), reconnection_delay=0.05)
    reasons = queue_of(client, "disconnect")
    connects = queue_of(client, "connect")
    await bounded(client.connect())
    await get(connects)
    server_socket = await get(seen.connections)
    server_socket.conn.close()
    assert await get(reasons) == "transport close"
    await get(connects)  # reconnected
    assert client.connected


async def test_connect_failures(serve_asgi: Any, make_client: MakeClient) -> None:
    io, _ = echo_server(transports=("polling",))
    url = await serve_asgi(socketeer.ASGIApp(io))
    # The server refuses WebSockets: the transport fails, no reconnection -> ConnectionFailed.
    client = make_client(url, transports=("websocket",), reconnection=False)
    errors = queue_of(client, "connect_error")
    with pytest.raises(ConnectionFailed, match="websocket error"):
        await bounded(client.connect())
    assert isinstance(await get(errors), ConnectionFailed)

    # try_all_transports: WebSocket fails, polling works.
    client = make_client(url, transports=("websocket", "polling"), try_all_transports=True)
    await bounded(client.connect())
    assert client.transport == "polling"

    # Reconnection gives up after the attempts: reconnect_error each time, then failed.
    client = make_client(
        "http://127.0.0.1:9", reconnection_attempts=2, reconnection_delay=0.01, timeout=2
    )
    failed = queue_of(client.io, "reconnect_failed")
    attempts = queue_of(client.io, "reconnect_attempt")
    reconnect_errors = queue_of(client.io, "reconnect_error")
    with pytest.raises(ConnectionFailed, match="reconnection failed after 2 attempts"):
        await bounded(client.connect())
    assert [await get(attempts), await get(attempts)] == [1, 2]
    assert isinstance(await get(reconnect_errors), ConnectionFailed)
    await get(failed)


async def test_ack_timeouts_and_volatile(serve_asgi: Any, make_client: MakeClient) -> None:
    io, seen = echo_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",), ack_timeout=0.2)
    # Not connected: buffered; the timeout drops it from the buffer, as in JS.
    with pytest.raises(AckTimeout):
        await client.emit_with_ack("echo", "timed out while buffered")
    client.volatile.emit("volatile while disconnected")  # dropped, never buffered
    await bounded(client.connect())
    await get(seen.connections)
    client.emit("marker")
    assert await get(seen.events) == ("marker", [])  # nothing was sent before it

    with pytest.raises(AckTimeout):
        await client.emit_with_ack("hang")
    answers: asyncio.Queue[Any] = asyncio.Queue()
    client.timeout(0.05).emit("hang", callback=answers.put_nowait)
    assert isinstance(await get(answers), AckTimeout)
    assert await bounded(client.timeout(5).emit_with_ack("echo", 2)) == 2
    client.volatile.emit("volatile", 1)
    client.timeout(1).volatile.compress(False).emit("volatile", 2)
    client.compress(True).emit("volatile", 3)
    events = [await get(seen.events) for _ in range(6)]  # hang, hang, echo, 3 volatile
    assert [e for e in events if e[0] == "volatile"] == [
        ("volatile", [1]),
        ("volatile", [2]),
        ("volatile", [3]),
    ]
    seen.release.set()


async def test_emit_refuses_reserved_names_and_unencodable_data(
    serve_asgi: Any, make_client: MakeClient
) -> None:
    client = make_client("http://127.0.0.1:9")
    for name in ("connect", "disconnect", "connect_error", ""):
        with pytest.raises(LocalProtocolError):
            client.emit(name)
    with pytest.raises(LocalProtocolError):
        client.emit("x", object())
    with pytest.raises(ValueError, match="not an http"):
        Client("ftp://example.com")


async def test_dropped_volatile_event_still_times_out(make_client: MakeClient) -> None:
    client = make_client("http://127.0.0.1:9")
    with pytest.raises(AckTimeout):
        await bounded(client.volatile.timeout(0.05).emit_with_ack("dropped"))


async def test_sockets_of_other_namespaces_join_by_themselves(
    serve_asgi: Any, make_client: MakeClient
) -> None:
    # JS autoConnect: client.socket("/chat") joins when the connection opens (made before
    # connect()), or at once (made after), without its own connect() call.
    io, _ = echo_server()
    chat_nsp = io.of("/chat")
    chat_nsp.on("connection", lambda socket: socket.on("echo", lambda *args: args))
    joined: asyncio.Queue[str] = asyncio.Queue()
    chat_nsp.on("connection", lambda socket: joined.put_nowait(socket.nsp.name))
    io.of("/news").on("connection", lambda socket: joined.put_nowait(socket.nsp.name))
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = make_client(url, transports=("websocket",))
    chat = client.socket("/chat")
    chat_connects = queue_of(chat, "connect")
    await bounded(client.connect())
    await get(chat_connects)
    assert await get(joined) == "/chat"
    assert chat.connected
    assert await bounded(chat.timeout(2).emit_with_ack("echo", "hi")) == "hi"
    news = client.socket("/news")
    assert await get(joined) == "/news"
    await eventually(lambda: news.connected)
