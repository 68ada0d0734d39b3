"""Helpers of the client runtime tests: a server that can be killed and brought back on the
same port, a scriptable fake Engine.IO server, and bounded waits.

Every wait is bounded by ``TIMEOUT``; tests await queues and events, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
from websockets.asyncio.server import Server as WSServer
from websockets.asyncio.server import ServerConnection, serve

import socketeer
from socketeer.client import Client

T = TypeVar("T")

TIMEOUT = 5.0
"""The longest any single expected event may take."""

FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.2, "randomization_factor": 0}
"""Client options for quick reconnections."""

MODES: dict[str, tuple[str, ...]] = {
    "polling": ("polling",),
    "websocket": ("websocket",),
    "upgrade": ("polling", "websocket"),
}


async def get(queue: asyncio.Queue[T], within: float = TIMEOUT) -> T:
    """The next item of ``queue``, waiting at most ``within`` seconds."""
    try:
        return await asyncio.wait_for(queue.get(), within)
    except TimeoutError:
        raise AssertionError(f"nothing arrived within {within} s") from None


async def bounded(awaitable: Awaitable[T], within: float = TIMEOUT) -> T:
    """``awaitable``'s result, within ``within`` seconds."""
    return await asyncio.wait_for(awaitable, within)


async def eventually(predicate: Callable[[], bool], within: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` holds (for states no event reports)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (there is no event to wait for)
            await asyncio.sleep(0.005)


def queue_of(client: Any, event: str) -> asyncio.Queue[Any]:
    """A queue receiving the arguments of each ``event`` of ``client`` (a tuple if several)."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(*args: Any) -> None:
        queue.put_nowait(args[0] if len(args) == 1 else args)

    client.on(event, put)
    return queue


@dataclass
class Seen:
    """What a test server saw: connections, events (name, args), disconnect reasons."""

    connections: asyncio.Queue[socketeer.Socket] = field(default_factory=asyncio.Queue)
    events: asyncio.Queue[tuple[str, list[Any]]] = field(default_factory=asyncio.Queue)
    disconnects: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    sockets: list[socketeer.Socket] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    transports: list[str] = field(default_factory=list)  # of each connection, when it came


def echo_server(seen: Seen | None = None, **options: Any) -> tuple[socketeer.Server, Seen]:
    """A socketeer server whose sockets report everything to ``seen``, answer "echo" with
    its arguments, join the room "join" names, and answer "hang" only once
    ``seen.release`` is set."""
    seen = seen or Seen()
    io = socketeer.Server(**options)

    def on_connection(socket: socketeer.Socket) -> None:
        seen.sockets.append(socket)
        seen.transports.append(socket.conn.transport)

        def on_any(name: str, *args: Any) -> None:
            seen.events.put_nowait((name, list(args)))
            if name == "join":
                socket.join(args[0])

        socket.on_any(on_any)
        socket.on("echo", lambda *args: args)

        async def hang(*args: Any) -> None:
            await seen.release.wait()

        socket.on("hang", hang)
        socket.on("disconnect", seen.disconnects.put_nowait)
        seen.connections.put_nowait(socket)

    io.on("connection", on_connection)
    io.of("/chat").on("connection", on_connection)
    return io, seen


class _ReadyServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # pytest owns the signals

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.ready.set()


class LiveServer:
    """An ASGI app served by uvicorn on a port it keeps: ``kill()`` drops every connection
    at once (as a crashed process would), ``start()`` brings a server back on the port."""

    def __init__(self) -> None:
        self.port = 0
        self._server: _ReadyServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, app: Any, **config: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        settings: dict[str, Any] = {
            "lifespan": "off",
            "log_level": "warning",
            "log_config": None,
            "ws": "websockets-sansio",
            **config,
        }
        server = _ReadyServer(uvicorn.Config(app, **settings))
        self._server, self._sock = server, sock
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        ready = asyncio.create_task(server.ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=TIMEOUT, return_when="FIRST_COMPLETED"
        )
        ready.cancel()
        if ready not in done:
            raise RuntimeError("uvicorn did not start")
        return self.url

    async def kill(self) -> None:
        """Stop listening and abort every connection (no close frames, no answers)."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        if server is None or task is None or sock is None:
            return
        server.should_exit = server.force_exit = True
        for listener in server.servers:
            listener.close()  # stop accepting now (uvicorn would notice within 0.1 s)
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        try:
            await asyncio.wait_for(task, TIMEOUT)
        finally:
            sock.close()


@contextlib.asynccontextmanager
async def live_server() -> AsyncIterator[LiveServer]:
    server = LiveServer()
    try:
        yield server
    finally:
        await server.kill()


Script = Callable[[ServerConnection], Awaitable[None]]


def handshake(ping_interval: int = 25000, ping_timeout: int = 20000, **extra: Any) -> str:
    data = {
        "sid": "fake",
        "upgrades": [],
        "pingInterval": ping_interval,
        "pingTimeout": ping_timeout,
        "maxPayload": 1000000,
        **extra,
    }
    return "0" + json.dumps(data)


@contextlib.asynccontextmanager
async def fake_server(script: Script, **options: Any) -> AsyncIterator[str]:
    """A WebSocket-only Engine.IO "server" that runs ``script(ws)`` for each connection.

    Yields the URL for ``Client(url, transports=("websocket",))``.
    """

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            await script(ws)

    server: WSServer
    async with serve(handler, "127.0.0.1", 0, **options) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


async def close_quietly(client: Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.close(), TIMEOUT)
