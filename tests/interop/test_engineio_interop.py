"""socketeer's Engine.IO server against the official ``engine.io-client`` (Node).

Each test serves ``socketeer.ASGIApp(EngineServer(...))`` with uvicorn on 127.0.0.1 and drives
``js/engine_client.mjs``. The server side echoes every message and records what it sees in
queues; the assertions await events on both sides, never sleep.

Reference behaviour (engine.io-client 6.6 ``build/esm/socket.js`` and ``transports/*.js``):
a close packet from the server, or the WebSocket closing, ends the client with
``"transport close"``; ``socket.close()`` on the client gives ``"forced close"``, and with
polling the client POSTs a close packet (the server then sees ``"transport close"``, as it
does when the WebSocket closes). A server-side ``close()`` is ``"forced close"`` on the
server (engine.io ``lib/socket.ts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

import socketeer

from ..conftest import BOTH_FRONTENDS
from .node import DEFAULT_TIMEOUT, EngineClientFactory, NodeScript, big_string

pytestmark = BOTH_FRONTENDS  # uvicorn + ASGIApp, and the native front-end

T = TypeVar("T")

# Client options per transport mode. "upgrade" opens with polling and upgrades to WebSocket.
MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"]},
}
FIRST_TRANSPORT = {"polling": "polling", "websocket": "websocket", "upgrade": "polling"}
ALL_MODES = pytest.mark.parametrize("mode", list(MODES))
NO_UPGRADE_MODES = pytest.mark.parametrize("mode", ["polling", "websocket"])


async def get(queue: asyncio.Queue[T]) -> T:
    """The next item of ``queue``, waiting at most ``DEFAULT_TIMEOUT`` seconds."""
    try:
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            return await queue.get()
    except TimeoutError:
        raise AssertionError(f"nothing arrived on the server within {DEFAULT_TIMEOUT} s") from None


@dataclass
class EngineHarness:
    """A served EngineServer that echoes every message and records what it sees."""

    url: str
    server: socketeer.EngineServer
    sockets: asyncio.Queue[socketeer.EngineSocket] = field(default_factory=asyncio.Queue)
    messages: asyncio.Queue[tuple[str, str | bytes]] = field(default_factory=asyncio.Queue)
    upgrades: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    closes: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)


StartEngine = Callable[..., Awaitable[EngineHarness]]


@pytest.fixture
def start_engine(serve_asgi: Any, serve_native: Any, frontend: str) -> StartEngine:
    """``harness = await start_engine(**EngineServer options, greeting=None, echo=True)``."""

    async def start(
        *, greeting: str | bytes | None = None, echo: bool = True, **options: Any
    ) -> EngineHarness:
        server = socketeer.EngineServer(**options)
        harness = EngineHarness(url="", server=server)

        @server.on("connection")
        def connection(socket: socketeer.EngineSocket) -> None:
            sid = socket.sid

            @socket.on("message")
            def message(data: str | bytes) -> None:
                harness.messages.put_nowait((sid, data))
                if echo:
                    socket.send(data)

            @socket.on("upgrade")
            def upgrade(transport: str) -> None:
                harness.upgrades.put_nowait((sid, transport))

            @socket.on("close")
            def close(reason: str, description: object) -> None:
                harness.closes.put_nowait((sid, str(reason)))

            harness.sockets.put_nowait(socket)
            if greeting is not None:
                socket.send(greeting)

        if frontend == "native":
            harness.url = await serve_native(server)
        else:
            harness.url = await serve_asgi(socketeer.ASGIApp(server))
        return harness

    return start


async def connect(
    harness: EngineHarness, engine_client: EngineClientFactory, mode: str, **options: Any
) -> tuple[NodeScript, socketeer.EngineSocket, dict[str, Any]]:
    """Start a client in ``mode``; return it, the server's socket and the client's open event."""
    client = await engine_client(harness.url, **{**MODES[mode], **options})
    opened = await client.expect("open")
    socket = await get(harness.sockets)
    assert opened["sid"] == socket.sid
    assert opened["transport"] == FIRST_TRANSPORT[mode]
    return client, socket, opened


# ---- handshake ---------------------------------------------------------------------------


@ALL_MODES
async def test_handshake_carries_the_server_options(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    harness = await start_engine(
        ping_interval=12.5, ping_timeout=7.0, max_http_buffer_size=123_456, greeting="welcome"
    )
    client, socket, opened = await connect(harness, engine_client, mode)
    assert opened["handshake"] == {
        "sid": socket.sid,
        "upgrades": ["websocket"] if FIRST_TRANSPORT[mode] == "polling" else [],
        "pingInterval": 12500,
        "pingTimeout": 7000,
        "maxPayload": 123_456,
    }
    assert socket.transport == FIRST_TRANSPORT[mode]
    message = await client.expect("message")
    assert message["data"] == "welcome"


async def test_no_upgrades_offered_when_upgrades_are_disallowed(
    start_engine: StartEngine, engine_client: EngineClientFactory
) -> None:
    harness = await start_engine(allow_upgrades=False)
    _, _, opened = await connect(harness, engine_client, "upgrade")
    assert opened["handshake"]["upgrades"] == []


async def test_each_client_gets_its_own_session(
    start_engine: StartEngine, engine_client: EngineClientFactory
) -> None:
    harness = await start_engine()
    clients: list[tuple[NodeScript, socketeer.EngineSocket]] = []
    for mode in ["polling", "websocket", "upgrade", "polling", "websocket"]:
        client, socket, _ = await connect(harness, engine_client, mode)
        clients.append((client, socket))
    assert len({socket.sid for _, socket in clients}) == len(clients)
    for index, (client, _) in enumerate(clients):
        await client.send({"cmd": "send", "data": f"from client {index}"})
    for index, (client, socket) in enumerate(clients):
        assert (await client.expect("message"))["data"] == f"from client {index}"
        socket.send(f"to client {index}")
    for index, (client, _) in enumerate(clients):
        assert (await client.expect("message"))["data"] == f"to client {index}"
        assert client.seen("message")[-1]["data"] == f"to client {index}"
        assert len(client.seen("message")) == 2  # nothing from the other sessions


# ---- messages ----------------------------------------------------------------------------


@ALL_MODES
async def test_text_both_ways(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, mode)
    # (no "\x1e" in texts: it separates the packets of a polling payload, unescaped)
    texts = ["hello", "", "héllo wörld 🌍 \u2028 4 b64", '{"json": [1, 2]}']
    texts += [f"m{i}" for i in range(20)]
    for text in texts:
        await client.send({"cmd": "send", "data": text})
    for text in texts:
        assert await get(harness.messages) == (socket.sid, text)
    for text in texts:  # echoed back, in order
        assert (await client.expect("message"))["data"] == text
    assert all("binary" not in m for m in client.seen("message"))


@ALL_MODES
async def test_binary_both_ways(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, mode)
    payloads = [bytes(range(256)), b"\x00", b"4hello", b""]
    for payload in payloads:
        await client.send({"cmd": "send_binary", "hex": payload.hex()})
    for payload in payloads:
        sid, data = await get(harness.messages)
        assert sid == socket.sid
        assert isinstance(data, bytes)
        assert data == payload
    for payload in payloads:
        echoed = await client.expect("message")
        assert echoed.get("binary") == payload.hex()
    socket.send(b"\xff\xfe from the server")
    assert (await client.expect("message"))["binary"] == b"\xff\xfe from the server".hex()


@ALL_MODES
@pytest.mark.parametrize("kind", ["text", "binary"])
async def test_500_kb_message_both_ways(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str, kind: str
) -> None:
    size = 500_000
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, mode)
    expected: str | bytes
    if kind == "text":
        expected = big_string(size)
        await client.send({"cmd": "send_big", "size": size})
    else:
        expected = bytes(i % 251 for i in range(size))
        await client.send({"cmd": "send_binary", "hex": expected.hex()})
    sid, data = await get(harness.messages)
    assert sid == socket.sid
    assert type(data) is type(expected)
    assert len(data) == size
    assert data == expected
    echoed = await client.expect("message")
    assert echoed["length"] == size
    if kind == "text":
        assert echoed["data"] == expected
    else:
        assert isinstance(expected, bytes)
        assert echoed["binary"] == expected.hex()


@NO_UPGRADE_MODES
async def test_message_over_max_http_buffer_size_is_refused(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    limit = 1000
    harness = await start_engine(max_http_buffer_size=limit)
    client, socket, opened = await connect(harness, engine_client, mode)
    assert opened["handshake"]["maxPayload"] == limit
    # under the limit: accepted (so that the refusal below is about the size)
    await client.send({"cmd": "send_big", "size": 900})
    assert await get(harness.messages) == (socket.sid, big_string(900))
    assert (await client.expect("message"))["length"] == 900
    # over the limit: polling gets 413 ("transport error"), WebSocket is closed
    await client.send({"cmd": "send_big", "size": 2 * limit})
    closed = await client.expect("close")
    assert closed["reason"] in {"transport error", "transport close"}
    sid, _reason = await get(harness.closes)
    assert sid == socket.sid
    assert harness.messages.empty(), "the oversized message must not be delivered"


# ---- heartbeat ---------------------------------------------------------------------------


@ALL_MODES
async def test_idle_connection_stays_open(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    # The client closes with "ping timeout" when no ping comes within
    # pingInterval + pingTimeout (0.6 s); the server closes when no pong comes back.
    harness = await start_engine(ping_interval=0.3, ping_timeout=0.3)
    client, _, opened = await connect(harness, engine_client, mode)
    assert opened["handshake"]["pingInterval"] == 300
    assert opened["handshake"]["pingTimeout"] == 300
    await client.send({"cmd": "report_after", "ms": 1200})
    alive = await client.expect("alive")
    assert client.seen("close") == []
    assert alive["closed"] is False
    assert alive["pings"] >= 3, "the server must ping every 0.3 s"
    assert harness.closes.empty(), f"the server closed the session: {harness.closes.get_nowait()}"
    await client.send({"cmd": "send", "data": "still here"})
    assert (await client.expect("message"))["data"] == "still here"


# ---- upgrade -----------------------------------------------------------------------------


async def test_polling_upgrades_to_websocket_and_messages_keep_flowing(
    start_engine: StartEngine, engine_client: EngineClientFactory
) -> None:
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, "upgrade")
    before = [f"before {i}" for i in range(20)]
    for text in before:  # sent while the upgrade probe runs
        await client.send({"cmd": "send", "data": text})
    assert (await client.expect("upgrade"))["transport"] == "websocket"
    assert await get(harness.upgrades) == (socket.sid, "websocket")
    assert socket.transport == "websocket"
    after = [f"after {i}" for i in range(20)]
    for text in after:
        await client.send({"cmd": "send", "data": text})
    for text in before + after:
        assert await get(harness.messages) == (socket.sid, text)
    for text in before + after:
        assert (await client.expect("message"))["data"] == text
    socket.send("pushed by the server")
    await client.send({"cmd": "send_binary", "hex": "00ff"})
    assert (await client.expect("message"))["data"] == "pushed by the server"
    assert (await client.expect("message"))["binary"] == "00ff"
    assert client.seen("upgrade_error") == []
    assert harness.closes.empty()


# ---- close -------------------------------------------------------------------------------


@ALL_MODES
async def test_server_side_close(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, mode)
    if mode == "upgrade":
        await client.expect("upgrade")
        await get(harness.upgrades)
    await client.send({"cmd": "send", "data": "last words"})
    assert await get(harness.messages) == (socket.sid, "last words")
    assert (await client.expect("message"))["data"] == "last words"
    socket.close()
    closed = await client.expect("close")
    assert closed["reason"] == "transport close"
    assert await get(harness.closes) == (socket.sid, "forced close")


@ALL_MODES
async def test_client_side_close(
    start_engine: StartEngine, engine_client: EngineClientFactory, mode: str
) -> None:
    harness = await start_engine()
    client, socket, _ = await connect(harness, engine_client, mode)
    if mode == "upgrade":
        await client.expect("upgrade")
        await get(harness.upgrades)
    await client.send({"cmd": "send", "data": "bye"})
    assert (await client.expect("message"))["data"] == "bye"
    # with polling a GET is pending now: the client POSTs a close packet
    await client.send({"cmd": "close"})
    assert (await client.expect("close"))["reason"] == "forced close"
    assert await get(harness.closes) == (socket.sid, "transport close")
    assert harness.closes.empty()
