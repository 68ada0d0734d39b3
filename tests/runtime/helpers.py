"""A served ``EngineServer`` that records what it sees, and short HTTP/WebSocket helpers.

A test starts its server with ``await start(**EngineServer options)``: uvicorn serves it on
127.0.0.1 through ``socketeer.ASGIApp``. The server echoes each message back (unless
``echo=False``) and puts every event into an ``asyncio.Queue``; tests await those queues with
``get`` (bounded by ``TIMEOUT``) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

import socketeer
from socketeer._types import SessionId

T = TypeVar("T")

TIMEOUT = 5.0
"""The longest any single expected event may take."""

SEP = "\x1e"
"""The record separator of polling payloads."""

PATH = "/engine.io/"


async def get(queue: asyncio.Queue[T], within: float = TIMEOUT) -> T:
    """The next item of ``queue``, waiting at most ``within`` seconds."""
    try:
        return await asyncio.wait_for(queue.get(), within)
    except TimeoutError:
        raise AssertionError(f"nothing arrived within {within} s") from None


async def eventually(predicate: Callable[[], bool], within: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` holds.

    Only for server states that no event reports (e.g. "a poll is now held"): the server runs
    in this event loop, so a few turns of the loop are all it takes.
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 (there is no event to wait for)
            await asyncio.sleep(0.002)


def error_body(code: int, message: str) -> dict[str, Any]:
    """The JSON body of a refused Engine.IO request."""
    return {"code": code, "message": message}


@dataclass(frozen=True, slots=True)
class Closed:
    """A ``close`` event of one session."""

    sid: str
    reason: str
    description: str


@dataclass
class Harness:
    """A served EngineServer, its HTTP client, and queues of what the server saw."""

    server: socketeer.EngineServer
    base_url: str = ""
    path: str = PATH
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=TIMEOUT))
    sockets: asyncio.Queue[socketeer.EngineSocket] = field(default_factory=asyncio.Queue)
    messages: asyncio.Queue[tuple[str, str | bytes]] = field(default_factory=asyncio.Queue)
    closes: asyncio.Queue[Closed] = field(default_factory=asyncio.Queue)
    upgradings: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    upgrades: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    drains: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    errors: asyncio.Queue[socketeer.EngineConnectionError] = field(default_factory=asyncio.Queue)
    _closed: dict[str, Closed] = field(default_factory=dict)
    _connected: dict[str, socketeer.EngineSocket] = field(default_factory=dict)

    # -- URLs ------------------------------------------------------------------------------

    def url(self, path: str | None = None, **query: str) -> str:
        """An HTTP URL of the endpoint; ``EIO=4&transport=polling`` unless overridden."""
        params = {"EIO": "4", "transport": "polling", **query}
        params = {k: v for k, v in params.items() if v is not None}
        return f"{self.base_url}{self.path if path is None else path}?{urlencode(params)}"

    def raw_url(self, query: str, path: str | None = None) -> str:
        """An HTTP URL with exactly this query string."""
        return f"{self.base_url}{self.path if path is None else path}?{query}"

    def raw_ws_url(self, query: str, path: str | None = None) -> str:
        """A WebSocket URL with exactly this query string."""
        return "ws" + self.raw_url(query, path).removeprefix("http")

    def ws_url(self, path: str | None = None, **query: str) -> str:
        """A WebSocket URL of the endpoint; ``EIO=4&transport=websocket`` unless overridden."""
        url = self.url(path, **{"transport": "websocket", **query})
        return "ws" + url.removeprefix("http")

    # -- polling ---------------------------------------------------------------------------

    async def handshake(self, **headers: str) -> tuple[str, dict[str, Any]]:
        """Open a polling session; return its sid and the handshake data."""
        response = await self.http.get(self.url(), headers=headers)
        assert response.status_code == 200, response.text
        assert response.text.startswith("0")
        data: dict[str, Any] = json.loads(response.text[1:])
        return data["sid"], data

    async def open_polling(self) -> tuple[str, socketeer.EngineSocket]:
        """Open a polling session; return its sid and the server's socket."""
        sid, _ = await self.handshake()
        return sid, await self.socket_of(sid)

    async def poll(self, sid: str, **headers: str) -> httpx.Response:
        """One GET for ``sid`` (it may be held until the server has something to say)."""
        return await self.http.get(self.url(sid=sid), headers=headers)

    async def post(self, sid: str, body: str | bytes) -> httpx.Response:
        """One POST of ``body`` for ``sid``."""
        content = body.encode() if isinstance(body, str) else body
        return await self.http.post(self.url(sid=sid), content=content)

    async def held_poll(self, sid: str) -> asyncio.Task[httpx.Response]:
        """Start a GET for ``sid`` and return once the server holds it."""
        task = asyncio.create_task(self.poll(sid))
        socket = self.server.sockets[SessionId(sid)]
        await eventually(lambda: socket.session.poll_pending or task.done())
        return task

    async def assert_echoes(self, sid: str, text: str = "still here") -> None:
        """``sid`` (an echoing polling session) still sends and receives."""
        response = await self.post(sid, "4" + text)
        assert (response.status_code, response.text) == (200, "ok")
        response = await self.poll(sid)
        assert (response.status_code, response.text) == (200, "4" + text)

    def assert_refused(
        self, response: httpx.Response, status: int, code: int, message: str
    ) -> None:
        """``response`` is the official JSON error ``{"code":N,"message":"..."}``.

        Code 5 also carries ``context``, saying which protocol version the server speaks.
        """
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        if code == 5:
            context = body.pop("context")
            assert context["supported"] == [4], context
            assert "EIO=4" in context["detail"], context
        assert body == error_body(code, message)

    async def closed(self, sid: str, within: float = TIMEOUT) -> Closed:
        """The ``close`` event of session ``sid`` (waiting at most ``within`` seconds)."""
        async with asyncio.timeout(within):
            while sid not in self._closed:
                event = await self.closes.get()
                assert event.sid not in self._closed, f"two close events for {event.sid}"
                self._closed[event.sid] = event
        return self._closed[sid]

    async def socket_of(self, sid: str, within: float = TIMEOUT) -> socketeer.EngineSocket:
        """The socket that the ``connection`` event reported for session ``sid``."""
        async with asyncio.timeout(within):
            while sid not in self._connected:
                socket = await self.sockets.get()
                self._connected[socket.sid] = socket
        return self._connected[sid]

    async def drained(self, sid: str, within: float = TIMEOUT) -> bool:
        """Wait for a ``drain`` event of session ``sid``."""
        async with asyncio.timeout(within):
            while await self.drains.get() != sid:
                pass
        return True

    async def upgraded(self, sid: str, within: float = TIMEOUT) -> bool:
        """Wait for the ``upgrade`` event of session ``sid`` (to "websocket")."""
        async with asyncio.timeout(within):
            while True:
                upgraded_sid, transport = await self.upgrades.get()
                if upgraded_sid == sid:
                    return transport == "websocket"

    def is_closed(self, sid: str) -> bool:
        """Whether the ``close`` event of ``sid`` has been reported (without waiting)."""
        while not self.closes.empty():
            event = self.closes.get_nowait()
            assert event.sid not in self._closed, f"two close events for {event.sid}"
            self._closed[event.sid] = event
        return sid in self._closed

    # -- WebSocket -------------------------------------------------------------------------

    @asynccontextmanager
    async def websocket(
        self, path: str | None = None, **query: str
    ) -> AsyncIterator[ClientConnection]:
        """A WebSocket to the endpoint (no client-side keepalive pings)."""
        async with connect(
            self.ws_url(path, **query), ping_interval=None, open_timeout=TIMEOUT
        ) as ws:
            yield ws

    @asynccontextmanager
    async def websocket_from(self, origin: str, **query: str) -> AsyncIterator[ClientConnection]:
        """A WebSocket to the endpoint, sent with this ``Origin``."""
        async with connect(
            self.ws_url(**query),
            origin=Origin(origin),
            ping_interval=None,
            open_timeout=TIMEOUT,
        ) as ws:
            yield ws

    async def open_websocket(self) -> tuple[ClientConnection, str, socketeer.EngineSocket]:
        """Open a WebSocket session (the caller closes it); return it, its sid, its socket."""
        ws = await connect(self.ws_url(), ping_interval=None, open_timeout=TIMEOUT)
        opening = await recv(ws)
        assert isinstance(opening, str)
        assert opening.startswith("0")
        sid: str = json.loads(opening[1:])["sid"]
        return ws, sid, await self.socket_of(sid)

    async def ws_refused(self, url: str, **options: Any) -> httpx.Response:
        """Open a WebSocket that the server must refuse; return the HTTP response it got."""
        try:
            async with connect(url, ping_interval=None, open_timeout=TIMEOUT, **options):
                pass
        except InvalidStatus as exc:
            return httpx.Response(
                exc.response.status_code,
                headers=list(exc.response.headers.raw_items()),
                content=bytes(exc.response.body or b""),
            )
        raise AssertionError(f"the WebSocket to {url} was accepted")

    async def upgrade(self, sid: str) -> ClientConnection:
        """Upgrade polling session ``sid`` to WebSocket (probe, noop poll, upgrade)."""
        ws = await connect(self.ws_url(sid=sid), ping_interval=None, open_timeout=TIMEOUT)
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        assert await get(self.upgradings) == (sid, "websocket")
        await ws.send("5")
        assert await get(self.upgrades) == (sid, "websocket")
        return ws


async def recv(ws: ClientConnection, within: float = TIMEOUT) -> str | bytes:
    """The next WebSocket message, waiting at most ``within`` seconds."""
    return await asyncio.wait_for(ws.recv(), within)


async def recv_message(ws: ClientConnection, within: float = TIMEOUT) -> str | bytes:
    """The next message that is not a server ping; pings are answered, as a client does.

    With the suite's 0.3 s ping interval a ping may come before the message a test waits
    for (after an upgrade, the held ping is the first thing on the WebSocket).
    """
    async with asyncio.timeout(within):
        while True:
            message = await ws.recv()
            if message != "2":
                return message
            await ws.send("3")


async def ws_close_code(ws: ClientConnection, within: float = TIMEOUT) -> int | None:
    """Wait until the server closes ``ws`` (messages meanwhile are dropped); its close code."""
    async with asyncio.timeout(within):
        await ws.wait_closed()
    return ws.close_code


def record(harness: Harness, *, echo: bool) -> None:
    """Make ``harness.server`` echo messages and report every event into the queues."""
    server = harness.server

    @server.on("connection")
    def connection(socket: socketeer.EngineSocket) -> None:
        sid = socket.sid

        @socket.on("message")
        def message(data: str | bytes) -> None:
            harness.messages.put_nowait((sid, data))
            if echo:
                socket.send(data)

        @socket.on("close")
        def close(reason: str, description: str) -> None:
            harness.closes.put_nowait(Closed(sid, reason, description))

        @socket.on("upgrading")
        def upgrading(transport: str) -> None:
            harness.upgradings.put_nowait((sid, transport))

        @socket.on("upgrade")
        def upgrade(transport: str) -> None:
            harness.upgrades.put_nowait((sid, transport))

        @socket.on("drain")
        def drain() -> None:
            harness.drains.put_nowait(sid)

        harness.sockets.put_nowait(socket)

    @server.on("connection_error")
    def connection_error(error: socketeer.EngineConnectionError) -> None:
        harness.errors.put_nowait(error)


Start = Callable[..., Awaitable[Harness]]
