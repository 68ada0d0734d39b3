"""socketeer's Socket.IO server against the official ``socket.io-client`` 4.8.4 (Node).

Each test serves ``socketeer.ASGIApp(Server(...))`` with uvicorn on 127.0.0.1 and drives
``js/socketio_client.mjs``: one Node process holds one or more labelled client sockets, each
on its own Manager (one Engine.IO connection) unless a test multiplexes namespaces on one.
The server records what it sees in queues; every wait is bounded and awaits an event. To
show that a client did *not* receive something, a test emits a final marker event: a
connection delivers packets in order, so everything sent before the marker has arrived (or
never will) once the marker is there.

Reference behaviour (socket.io-client 4.8.4 ``build/esm/socket.js`` and ``manager.js``,
checked against the JS ``socket.io`` 4.8.4 server from ``node_modules``):

- a DISCONNECT packet from the server: the client socket reports ``"io server disconnect"``
  and, being the Manager's last socket, closes it (``manager close`` ``"forced close"``), for
  ``disconnect_sockets(close=False)`` and ``close=True`` alike. With ``close=True`` on
  polling, the JS server sends the close packet only after the DISCONNECT packets were
  flushed (engine.io ``Socket.close()`` waits for "drain"; ``Polling.doClose()`` then waits
  for the next GET): a close packet in the same payload would make the client report
  ``"transport close"`` first, and every socket twice;
- ``socket.disconnect()`` on the client: ``"io client disconnect"``; the server sees
  ``"client namespace disconnect"``;
- closing the engine on the client: ``"forced close"``; the server sees ``"transport close"``;
- the server closing the engine: ``"transport close"``. The server's reason is "server
  shutting down" for ``io.close()`` (the JS client sees "transport error" on polling only
  because Node's HTTP server aborts the held poll; socketeer answers it with a close packet);
- a reserved event name from the client: the server closes the connection ("parse error" in
  socketeer; the JS server reports "forced close"), the client sees ``"transport close"``;
- ``socket.emit(reserved name)`` throws on the client, so the reserved-name tests hand the
  packet to ``socket.packet()`` directly.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import pytest

import socketeer

from ..conftest import BOTH_FRONTENDS
from .node import Event, NodeScript, NodeScripts

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

WAIT = 5.0  # seconds; every server-side wait is bounded by this

# Client transports per mode. "upgrade" opens with polling and upgrades to WebSocket.
MODES: dict[str, list[str]] = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": ["polling", "websocket"],
}
FIRST_TRANSPORT = {"polling": "polling", "websocket": "websocket", "upgrade": "polling"}
FINAL_TRANSPORT = {"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}
ALL_MODES = pytest.mark.parametrize("mode", list(MODES))
NO_UPGRADE_MODES = pytest.mark.parametrize("mode", ["polling", "websocket"])

# Binary nested anywhere: at the top level, in objects, in lists, empty.
PAYLOAD: list[Any] = [
    1,
    "two",
    {"bin": b"\x00\x01\xff", "list": [b"abc", {"deep": b""}], "none": None},
    [True, False, 1.5, -(2**40), "h\u00e9llo \u2713 \U0001f389", "sep\x1einside"],
    b"\xde\xad\xbe\xef",
    [bytes([i]) * i for i in range(1, 7)],  # 10 attachments in all: the parsers' cap
]


# ---- helpers -----------------------------------------------------------------------------


async def get(queue: asyncio.Queue[T], what: str = "item") -> T:
    """The next item of ``queue``, waiting at most ``WAIT`` seconds."""
    try:
        return await asyncio.wait_for(queue.get(), WAIT)
    except TimeoutError:
        raise AssertionError(f"the server saw no {what} within {WAIT} s") from None


def to_js(value: Any) -> Any:
    """Command arguments: ``bytes`` become ``{"$bytes": hex}`` at any depth."""
    if isinstance(value, bytes | bytearray):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [to_js(item) for item in value]
    if isinstance(value, dict):
        return {key: to_js(item) for key, item in value.items()}
    return value


def from_js(value: Any) -> Any:
    """Printed arguments: ``{"$bytes": hex}`` becomes ``bytes`` at any depth."""
    if isinstance(value, list):
        return [from_js(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {key: from_js(item) for key, item in value.items()}
    return value


class Queues(Generic[K, V]):
    """One asyncio queue per key, created on first use."""

    def __init__(self) -> None:
        self._queues: dict[K, asyncio.Queue[V]] = {}

    def __getitem__(self, key: K) -> asyncio.Queue[V]:
        return self._queues.setdefault(key, asyncio.Queue())

    def put(self, key: K, value: V) -> None:
        self[key].put_nowait(value)

    async def get(self, key: K) -> V:
        return await get(self[key], repr(key))


@dataclass
class Recorder:
    """A served ``socketeer.Server``; every watched namespace reports into these queues."""

    io: socketeer.Server
    url: str = ""
    sockets: dict[str, socketeer.Socket] = field(default_factory=dict)
    connections: Queues[str, socketeer.Socket] = field(default_factory=Queues)  # by namespace
    events: Queues[str, tuple[str, list[Any]]] = field(default_factory=Queues)  # by event name
    disconnecting: Queues[str, tuple[str, frozenset[str]]] = field(default_factory=Queues)
    disconnects: Queues[str, str] = field(default_factory=Queues)  # by socket id

    def watch(self, nsp: socketeer.Namespace) -> None:
        """Record connections, events (``on_any``) and disconnections of ``nsp``; every
        socket answers ``echo`` with its arguments."""

        @nsp.on("connection")
        def connection(socket: socketeer.Socket) -> None:
            self.sockets[socket.id] = socket

            def any_event(event: str, *args: Any) -> None:
                self.events.put(event, (socket.id, list(args)))

            def disconnecting(reason: str) -> None:
                self.disconnecting.put(socket.id, (reason, socket.rooms))

            def disconnect(reason: str) -> None:
                self.disconnects.put(socket.id, reason)

            def echo(*args: Any) -> tuple[Any, ...]:
                return args

            socket.on_any(any_event)
            socket.on("disconnecting", disconnecting)
            socket.on("disconnect", disconnect)
            socket.on("echo", echo)
            self.connections.put(nsp.name, socket)


StartServer = Callable[..., Awaitable[Recorder]]


@pytest.fixture
def start_server(serve_asgi: Any, serve_native: Any, frontend: str) -> StartServer:
    """``rec = await start_server(**Server options)``: the main namespace is watched.

    Served by uvicorn + ``ASGIApp``, or by the native front-end for tests marked
    ``BOTH_FRONTENDS``.
    """

    async def start(**options: Any) -> Recorder:
        rec = Recorder(socketeer.Server(**options))
        rec.watch(rec.io.of("/"))
        if frontend == "native":
            rec.url = await serve_native(rec.io)
        else:
            rec.url = await serve_asgi(socketeer.ASGIApp(rec.io))
        return rec

    return start


class Client:
    """One ``socketio_client.mjs`` process: labelled sockets, commands and events."""

    def __init__(self, script: NodeScript) -> None:
        self.script = script

    async def expect(self, label: str, kind: str) -> Event:
        return await self.script.expect(f"{label}:{kind}")

    async def connect(
        self,
        label: str,
        nsp: str = "/",
        *,
        mode: str = "websocket",
        auth: dict[str, Any] | None = None,
        manager: str | None = None,
        wait: str | None = "connect",
        **options: Any,
    ) -> Event:
        """Create socket ``label`` on ``nsp`` and wait for ``wait`` (its connect event)."""
        await self.script.send(
            {
                "cmd": "connect",
                "socket": label,
                "nsp": nsp,
                "manager": manager,
                "auth": auth,
                "options": {"transports": MODES[mode], **options},
            }
        )
        return await self.expect(label, wait) if wait else {}

    async def emit(
        self,
        label: str,
        event: str,
        *args: Any,
        ack: str | None = None,
        with_ack: bool = False,
        timeout_ms: int | None = None,
    ) -> None:
        await self.script.send(
            {
                "cmd": "emit",
                "socket": label,
                "event": event,
                "args": to_js(list(args)),
                "ack": ack,
                "with_ack": with_ack,
                "timeout": timeout_ms,
            }
        )

    async def ack(self, label: str, ref: str) -> Event:
        """The answer to an emit with ``ack=ref`` (bytes decoded)."""
        event = await self.expect(label, "ack")
        assert event["ref"] == ref, event
        for key in ("args", "value"):
            if key in event:
                event[key] = from_js(event[key])
        return event

    async def event(self, label: str) -> tuple[str, list[Any], bool]:
        """The next event socket ``label`` received: (name, args, whether it had an ack)."""
        event = await self.expect(label, "event")
        return event["name"], from_js(event["args"]), event["ack"]

    async def events_until(self, label: str, marker: str) -> list[tuple[str, list[Any]]]:
        """Every event ``label`` received before ``marker`` (which is consumed)."""
        seen: list[tuple[str, list[Any]]] = []
        while True:
            name, args, _ = await self.event(label)
            if name == marker:
                return seen
            seen.append((name, args))

    async def reply(self, label: str, event: str, *args: Any, never: bool = False) -> None:
        """Make ``label`` answer acks of ``event`` with ``args`` (or never).

        Returns once the script confirms: stdin and the socket are two channels, so an event
        sent right after could otherwise reach the client before this command.
        """
        await self.script.send(
            {
                "cmd": "reply",
                "socket": label,
                "event": event,
                "args": to_js(list(args)),
                "never": never,
            }
        )
        assert (await self.expect(label, "replying"))["name"] == event

    async def command(self, cmd: str, label: str, **fields: Any) -> None:
        await self.script.send({"cmd": cmd, "socket": label, **fields})


StartClient = Callable[[str], Awaitable[Client]]


@pytest.fixture
def sio(node: NodeScripts) -> StartClient:
    """``client = await sio(url)`` starts ``js/socketio_client.mjs`` (stopped at teardown)."""

    async def start(url: str) -> Client:
        script = await node("socketio_client", url)
        await script.expect("ready")
        return Client(script)

    return start


async def connect_three(
    rec: Recorder, client: Client, mode: str, labels: Iterable[str] = ("a", "b", "c")
) -> dict[str, socketeer.Socket]:
    """Connect one socket per label, each on its own connection; the server sockets by label.

    In "upgrade" mode, wait until every connection is on WebSocket.
    """
    found: dict[str, socketeer.Socket] = {}
    for label in labels:
        connected = await client.connect(label, mode=mode, auth={"label": label})
        socket = await rec.connections.get("/")
        assert socket.id == connected["id"]
        found[label] = socket
    if mode == "upgrade":
        for label in found:
            assert (await client.expect(label, "upgrade"))["transport"] == "websocket"
    return found


# ---- connecting --------------------------------------------------------------------------


@BOTH_FRONTENDS
@ALL_MODES
async def test_connect_ids_and_handshake(
    start_server: StartServer, sio: StartClient, mode: str
) -> None:
    rec = await start_server()
    rec.watch(rec.io.of("/admin"))
    client = await sio(rec.url)

    main = await client.connect(
        "a",
        mode=mode,
        auth={"token": "t0k", "list": [1, "2"]},
        query={"q": "1"},
        extraHeaders={"x-interop": "yes"},
    )
    server_main = await rec.connections.get("/")
    admin = await client.connect("b", "/admin", manager="a", auth={"role": "admin"})
    server_admin = await rec.connections.get("/admin")

    # the Socket.IO ids are the server's, per namespace, and not the Engine.IO session id
    assert main["id"] == server_main.id
    assert admin["id"] == server_admin.id
    assert len({main["id"], admin["id"], main["engine_sid"]}) == 3
    assert main["engine_sid"] == admin["engine_sid"] == server_main.conn.sid
    assert server_admin.conn is server_main.conn
    # (in "upgrade" mode the upgrade may be over before the CONNECT round trip is)
    assert main["transport"] in {FIRST_TRANSPORT[mode], FINAL_TRANSPORT[mode]}

    handshake = server_main.handshake
    assert set(handshake) == {
        "headers",
        "time",
        "address",
        "xdomain",
        "secure",
        "issued",
        "url",
        "query",
        "auth",
    }
    assert handshake["url"].startswith("/socket.io/?")
    assert f"transport={FIRST_TRANSPORT[mode]}" in handshake["url"]
    assert handshake["secure"] is False
    assert handshake["xdomain"] is False
    assert handshake["auth"] == {"token": "t0k", "list": [1, "2"]}
    assert handshake["query"]["q"] == "1"
    assert handshake["query"]["EIO"] == "4"
    assert handshake["query"]["transport"] == FIRST_TRANSPORT[mode]
    assert handshake["headers"]["x-interop"] == "yes"
    assert handshake["address"] == "127.0.0.1"
    assert server_admin.handshake["auth"] == {"role": "admin"}
    assert server_main.rooms == {server_main.id}
    assert server_admin.rooms == {server_admin.id}
    assert server_main.nsp is rec.io.of("/")
    assert server_admin.nsp.name == "/admin"

    if mode == "upgrade":
        assert (await client.expect("a", "upgrade"))["transport"] == "websocket"
    # events of both namespaces reach the right sockets (after the upgrade, if any)
    await client.emit("a", "hello", "from main")
    await client.emit("b", "hello", "from admin")
    assert await rec.events.get("hello") == (server_main.id, ["from main"])
    assert await rec.events.get("hello") == (server_admin.id, ["from admin"])
    assert server_main.conn.transport == FINAL_TRANSPORT[mode]

    # rooms are per namespace, even with the same name on the same connection
    server_main.join("shared")
    server_admin.join("shared")
    rec.io.of("/admin").to("shared").emit("admin-only", 1)
    rec.io.to("shared").emit("main-only", 2)
    assert await client.event("b") == ("admin-only", [1], False)
    assert await client.event("a") == ("main-only", [2], False)

    # leaving one namespace leaves the other connected on the same connection
    await client.command("disconnect", "b")
    assert (await client.expect("b", "disconnect"))["reason"] == "io client disconnect"
    assert await rec.disconnects.get(server_admin.id) == "client namespace disconnect"
    assert not rec.io.of("/admin").adapter.rooms
    await client.emit("a", "echo", "still here", ack="e")
    assert (await client.ack("a", "e"))["args"] == ["still here"]
    assert server_main.connected
    assert not client.script.seen("a:manager_close")
    # ... and joining it again on the same connection gives a new socket
    await client.command("reconnect", "b")
    again = await client.expect("b", "connect")
    server_again = await rec.connections.get("/admin")
    assert again["id"] == server_again.id != server_admin.id
    assert again["engine_sid"] == main["engine_sid"]
    await client.emit("b", "echo", "back", ack="back")
    assert (await client.ack("b", "back"))["args"] == ["back"]

    # disconnect(close=True) disconnects every namespace of the connection, then closes it
    server_main.disconnect(close=True)
    for label, server_socket in (("a", server_main), ("b", server_again)):
        assert await rec.disconnects.get(server_socket.id) == "server namespace disconnect"
        reason = (await client.expect(label, "disconnect"))["reason"]
        assert reason == "io server disconnect", f"{label}\n{client.script.output()}"
    assert (await client.expect("a", "manager_close"))["reason"] == "forced close"
    assert len(client.script.seen("a:disconnect")) == 1, client.script.output()


@NO_UPGRADE_MODES
async def test_middleware_refusal_and_invalid_namespace(
    start_server: StartServer, sio: StartClient, mode: str
) -> None:
    rec = await start_server()
    admin = rec.io.of("/admin")
    rec.watch(admin)

    @rec.io.use
    def check_token(socket: socketeer.Socket) -> None:
        if socket.handshake["auth"].get("token") != "good":
            raise socketeer.ConnectionRefusedByServer(
                "not authorized", {"code": 401, "hints": ["login", None], "n": 1.5}
            )

    @admin.use
    async def admins_only(socket: socketeer.Socket) -> None:
        if socket.handshake["auth"].get("role") != "admin":
            raise socketeer.ConnectionRefusedByServer("admins only")

    client = await sio(rec.url)
    refused = await client.connect("bad", mode=mode, auth={"token": "bad"}, wait="connect_error")
    assert refused["message"] == "not authorized"
    assert refused["data"] == {"code": 401, "hints": ["login", None], "n": 1.5}

    good = await client.connect("good", mode=mode, auth={"token": "good"})
    server_good = await rec.connections.get("/")
    assert server_good.id == good["id"]

    denied = await client.connect("adm", "/admin", manager="good", wait="connect_error")
    assert denied["message"] == "admins only"
    assert denied["data"] is None

    unknown = await client.connect("nope", "/nope", manager="good", wait="connect_error")
    assert unknown["message"] == "Invalid namespace"
    assert unknown["data"] is None

    # the refusals left the good socket working on the shared connection
    await client.emit("good", "echo", "still", b"\x01", ack="e")
    assert (await client.ack("good", "e"))["args"] == ["still", b"\x01"]
    assert rec.connections["/"].empty()
    assert rec.connections["/admin"].empty()
    assert set(rec.io.of("/").sockets) == {server_good.id}
    assert not rec.io.of("/admin").sockets


async def test_dynamic_namespaces(start_server: StartServer, sio: StartClient) -> None:
    rec = await start_server()
    created: asyncio.Queue[str] = asyncio.Queue()
    rec.io.on("new_namespace", lambda nsp: created.put_nowait(nsp.name))
    parent = rec.io.of(re.compile(r"/dyn-\d+"))
    rec.watch(parent)  # connection handlers of the parent run for every child

    @parent.use
    def remember(socket: socketeer.Socket) -> None:
        socket.data = {"nsp": socket.nsp.name}

    client = await sio(rec.url)
    one = await client.connect("one", "/dyn-1", auth={"k": 1})
    assert await get(created) == "/dyn-1"
    server_one = await rec.connections.get(parent.name)
    two = await client.connect("two", "/dyn-22", manager="one")
    assert await get(created) == "/dyn-22"
    server_two = await rec.connections.get(parent.name)
    bad = await client.connect("bad", "/dyn-x", manager="one", wait="connect_error")
    assert bad["message"] == "Invalid namespace"

    assert (server_one.id, server_two.id) == (one["id"], two["id"])
    assert server_one.nsp.name == "/dyn-1"
    assert server_two.nsp.name == "/dyn-22"
    assert server_one.data == {"nsp": "/dyn-1"}
    assert server_one.handshake["auth"] == {"k": 1}
    assert server_two.handshake["auth"] == {}  # no auth given (JS: {})
    assert rec.io.of("/dyn-1") is server_one.nsp  # the child is a regular namespace now

    rec.io.of("/dyn-1").emit("only-one", 1)
    parent.emit("everyone", b"\x02")
    assert await client.event("one") == ("only-one", [1], False)
    assert await client.event("one") == ("everyone", [b"\x02"], False)
    assert await client.event("two") == ("everyone", [b"\x02"], False)

    await client.emit("two", "echo", "dyn", ack="d")
    assert (await client.ack("two", "d"))["args"] == ["dyn"]
    assert await rec.events.get("echo") == (server_two.id, ["dyn"])


async def test_connect_timeout_drops_a_client_without_namespace(
    start_server: StartServer, node: NodeScripts
) -> None:
    rec = await start_server(connect_timeout=0.5)
    engine = await node(
        "engine_client", rec.url, '{"path": "/socket.io/", "transports": ["websocket"]}'
    )
    started = time.monotonic()
    opened = await engine.expect("open")
    assert opened["sid"] in rec.io.engine.sockets
    closed = await engine.expect("close")
    elapsed = time.monotonic() - started
    assert closed["reason"] == "transport close"
    assert 0.4 <= elapsed < 3.0
    assert opened["sid"] not in rec.io.engine.sockets
    assert rec.connections["/"].empty()


# ---- events and acknowledgements ---------------------------------------------------------


@BOTH_FRONTENDS
@ALL_MODES
async def test_events_and_acks_both_ways(
    start_server: StartServer, sio: StartClient, mode: str
) -> None:
    rec = await start_server()
    release = asyncio.Event()

    @rec.io.on("connection")
    def handlers(socket: socketeer.Socket) -> None:
        socket.on("sum", lambda *numbers: sum(numbers))

        async def later(text: str) -> tuple[str, bytes, int]:
            await asyncio.sleep(0)
            return text.upper(), text.encode(), len(text)

        async def stuck() -> str:
            await release.wait()
            return "too late"

        socket.on("later", later)
        socket.on("stuck", stuck)

    client = await sio(rec.url)
    await client.connect("a", mode=mode)
    socket = await rec.connections.get("/")

    # client -> server: several args, binary nested anywhere; the handler's tuple is the ack
    await client.emit("a", "echo", *PAYLOAD, ack="cb")
    assert await rec.events.get("echo") == (socket.id, PAYLOAD)
    assert (await client.ack("a", "cb"))["args"] == PAYLOAD
    await client.emit("a", "sum", 1, 2, 3, ack="wa", with_ack=True)
    assert (await client.ack("a", "wa"))["value"] == 6
    await client.emit("a", "later", "abc", ack="async")
    assert (await client.ack("a", "async"))["args"] == ["ABC", b"abc", 3]
    await client.emit("a", "echo", {"only": [b"\x07"]}, ack="one", with_ack=True)
    assert (await client.ack("a", "one"))["value"] == {"only": [b"\x07"]}
    # the client's own ack timeout
    await client.emit("a", "stuck", ack="late", timeout_ms=200)
    assert (await client.ack("a", "late"))["error"] == "operation has timed out"
    release.set()
    await client.emit("a", "plain", b"")  # no ack requested
    assert await rec.events.get("plain") == (socket.id, [b""])

    # server -> client
    socket.emit("news", *PAYLOAD)
    assert await client.event("a") == ("news", PAYLOAD, False)
    assert await socket.emit_with_ack("ask", *PAYLOAD) == tuple(PAYLOAD)  # the client echoes
    assert await client.event("a") == ("ask", PAYLOAD, True)
    assert await socket.emit_with_ack("ask", {"k": b"\x09"}) == {"k": b"\x09"}
    await client.event("a")
    await client.reply("a", "nothing")
    assert await socket.emit_with_ack("nothing", 1) is None
    assert await client.event("a") == ("nothing", [1], True)

    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    await client.reply("a", "multi", 1, {"b": b"\x0a\x0b"}, [None])
    socket.emit("multi", callback=lambda *args: answers.put_nowait(args))
    assert await get(answers) == (1, {"b": b"\x0a\x0b"}, [None])
    assert await client.event("a") == ("multi", [], True)

    # the client never answers: AckTimeout, for emit_with_ack and for a callback
    await client.reply("a", "silent", never=True)
    started = time.monotonic()
    with pytest.raises(socketeer.AckTimeout):
        await socket.timeout(0.3).emit_with_ack("silent", 1)
    assert time.monotonic() - started >= 0.25
    socket.timeout(0.2).emit("silent", 2, callback=lambda *args: answers.put_nowait(args))
    (error,) = await get(answers)
    assert isinstance(error, socketeer.AckTimeout)
    assert isinstance(error, TimeoutError)
    assert await client.event("a") == ("silent", [1], True)
    assert await client.event("a") == ("silent", [2], True)
    # acks keep working after timeouts
    assert await socket.timeout(2).emit_with_ack("ask", "again") == "again"
    assert await client.event("a") == ("ask", ["again"], True)

    # bursts keep their order both ways (many packets per polling payload)
    for index in range(50):
        await client.emit("a", "burst", index, bytes([index]))
    for index in range(50):
        assert await rec.events.get("burst") == (socket.id, [index, bytes([index])])
    for index in range(50):
        socket.emit("burst", index, {"b": bytes([index])})
    for index in range(50):
        assert await client.event("a") == ("burst", [index, {"b": bytes([index])}], False)

    # emit flags on one socket. Right after another event a polling transport is not
    # writable (the held poll was just answered), so a volatile event is dropped there.
    if mode == "upgrade":
        await client.expect("a", "upgrade")
    socket.emit("before", 1)
    socket.volatile.emit("volatile", 2)
    socket.compress(False).emit("uncompressed", b"\x03")
    socket.send("message!", 4)
    socket.emit("end")
    expected: list[tuple[str, list[Any]]] = [("before", [1])]
    if FINAL_TRANSPORT[mode] == "websocket":
        expected.append(("volatile", [2]))
    expected += [("uncompressed", [b"\x03"]), ("message", ["message!", 4])]
    assert await client.events_until("a", "end") == expected


async def test_ack_timeout_fires_when_the_client_disconnects_first(
    start_server: StartServer, sio: StartClient
) -> None:
    # JS (socket.io lib/socket.ts): a disconnect leaves pending acks alone, so the timeout of
    # socket.timeout(s).emitWithAck() / .emit(..., cb) still fires with "operation has timed out"
    rec = await start_server()
    client = await sio(rec.url)
    await client.connect("a")
    socket = await rec.connections.get("/")
    await client.reply("a", "slow", never=True)
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    socket.timeout(0.3).emit("slow", 1, callback=lambda *args: answers.put_nowait(args))
    pending = asyncio.ensure_future(socket.timeout(0.3).emit_with_ack("slow", 2))
    assert await client.event("a") == ("slow", [1], True)
    assert await client.event("a") == ("slow", [2], True)
    await client.command("disconnect", "a")
    assert await rec.disconnects.get(socket.id) == "client namespace disconnect"
    called = asyncio.ensure_future(answers.get())
    try:
        await asyncio.wait({called, pending}, timeout=WAIT)
        hung = [
            what for what, f in (("callback", called), ("emit_with_ack", pending)) if not f.done()
        ]
        assert not hung, f"no AckTimeout within {WAIT} s for: {', '.join(hung)}"
        (error,) = called.result()
        assert isinstance(error, socketeer.AckTimeout)
        with pytest.raises(socketeer.AckTimeout):
            pending.result()
    finally:
        called.cancel()
        pending.cancel()


async def test_socket_and_broadcast_ack_ids_do_not_collide(
    start_server: StartServer, sio: StartClient
) -> None:
    # JS numbers the acks of socket.emit and of broadcasts with one counter per namespace
    # (socket.io lib/socket.ts `this.nsp._ids++`; socket.io-adapter broadcastWithAck: "we can
    # use the same id for each packet, since the _ids counter is common"), so a pending
    # per-socket ack and a pending broadcast ack never share an id on one socket.
    rec = await start_server()
    client = await sio(rec.url)
    await client.connect("a")
    socket = await rec.connections.get("/")
    await client.reply("a", "to-all", "for-all")
    await client.reply("a", "to-socket", "for-socket")
    broadcast = asyncio.ensure_future(rec.io.timeout(1).emit_with_ack("to-all"))
    direct = asyncio.ensure_future(socket.timeout(1).emit_with_ack("to-socket"))
    try:
        await asyncio.wait({broadcast, direct}, timeout=WAIT)
        assert await client.event("a") == ("to-all", [], True)
        assert await client.event("a") == ("to-socket", [], True)
        outcome = {
            "socket.emit_with_ack": direct.exception() or direct.result(),
            "io.emit_with_ack": broadcast.exception() or broadcast.result(),
        }
        assert outcome == {"socket.emit_with_ack": "for-socket", "io.emit_with_ack": ["for-all"]}
    finally:
        broadcast.cancel()
        direct.cancel()


async def test_user_code_cannot_emit_reserved_events(
    start_server: StartServer, sio: StartClient
) -> None:
    rec = await start_server(ack_timeout=0.3)
    client = await sio(rec.url)
    await client.connect("a")
    socket = await rec.connections.get("/")
    for name in ("connect", "connect_error", "disconnect", "disconnecting", "newListener"):
        with pytest.raises(socketeer.LocalProtocolError):
            socket.emit(name)
        with pytest.raises(socketeer.LocalProtocolError):
            rec.io.emit(name, 1)
        with pytest.raises(socketeer.LocalProtocolError):
            rec.io.to("room").emit(name)
        with pytest.raises(socketeer.LocalProtocolError):
            await socket.emit_with_ack(name)
    # the client is still connected and saw none of them
    socket.emit("fine", 1)
    assert await client.event("a") == ("fine", [1], False)
    # the server's ack_timeout is the default of emit_with_ack
    await client.reply("a", "silent", never=True)
    started = time.monotonic()
    with pytest.raises(socketeer.AckTimeout):
        await socket.emit_with_ack("silent")
    assert 0.25 <= time.monotonic() - started < WAIT
    with pytest.raises(socketeer.AckTimeout) as info:
        await rec.io.emit_with_ack("silent")
    assert info.value.missing == {socket.id}
    assert info.value.responses == []


@pytest.mark.parametrize("reserved", ["disconnecting", "connect"])
async def test_reserved_event_from_the_client_closes_its_connection(
    start_server: StartServer, sio: StartClient, reserved: str
) -> None:
    rec = await start_server()
    client = await sio(rec.url)
    await client.connect("bad", auth={"label": "bad"})
    bad = await rec.connections.get("/")
    await client.connect("good", auth={"label": "good"})
    good = await rec.connections.get("/")
    bad.join("shared")
    good.join("shared")

    # socket.io-client refuses to emit a reserved name itself
    await client.command("try_emit", "bad", event=reserved)
    refused = await client.expect("bad", "try_emit")
    assert refused["error"] == f'"{reserved}" is a reserved event name'

    await client.command("raw", "bad", packet={"type": 2, "data": [reserved, 1]})
    assert await rec.disconnects.get(bad.id) == "parse error"
    assert (await client.expect("bad", "disconnect"))["reason"] == "transport close"
    assert rec.events[reserved].empty()
    assert bad.id not in rec.io.of("/").sockets
    assert rec.io.of("/").adapter.rooms["shared"] == {good.id}

    await client.emit("good", "echo", "alive", ack="g")
    assert (await client.ack("good", "g"))["args"] == ["alive"]
    rec.io.to("shared").emit("after", 2)
    assert await client.event("good") == ("after", [2], False)


async def test_too_many_attachments_close_the_connection(
    start_server: StartServer, sio: StartClient
) -> None:
    # socket.io-parser's maxAttachments (10) is the server's cap too: the 11th is refused
    rec = await start_server()
    client = await sio(rec.url)
    await client.connect("a")
    socket = await rec.connections.get("/")
    await client.emit("a", "echo", [bytes([i]) for i in range(10)], ack="ten")
    assert len((await client.ack("a", "ten"))["args"][0]) == 10
    await client.emit("a", "echo", [bytes([i]) for i in range(11)], ack="eleven")
    assert await rec.disconnects.get(socket.id) == "parse error"
    assert (await client.expect("a", "disconnect"))["reason"] == "transport close"
    assert rec.events["echo"].qsize() == 1  # only the first one


# ---- catch-all listeners and packet middlewares --------------------------------------------


async def test_catch_all_listeners_and_packet_middleware(
    start_server: StartServer, sio: StartClient
) -> None:
    rec = await start_server()
    order: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    outgoing: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
    errors: asyncio.Queue[str] = asyncio.Queue()

    @rec.io.on("connection")
    def setup(socket: socketeer.Socket) -> None:
        def first(event: str, *args: Any) -> None:
            order.put_nowait(("first", event))

        def removed(event: str, *args: Any) -> None:
            order.put_nowait(("removed", event))

        def last(event: str, *args: Any) -> None:
            order.put_nowait(("last", event))

        socket.on_any(removed)
        socket.on_any(last)
        socket.prepend_any(first)
        socket.off_any(removed)
        socket.on_any_outgoing(lambda event, *args: outgoing.put_nowait((event, list(args))))

        def forbid(event: str, args: list[Any]) -> None:
            if event == "forbidden":
                raise ValueError("no forbidden events")

        socket.use(forbid)
        socket.on("error", lambda exc: errors.put_nowait(str(exc)))
        socket.on("forbidden", lambda *args: "should not run")

    client = await sio(rec.url)
    await client.connect("a")
    socket = await rec.connections.get("/")
    await client.command("listen", "a", event="srv")

    # client -> server: the catch-all listeners run in order (the recorder's first)
    await client.emit("a", "ping-any", 1, b"\x01")
    assert await rec.events.get("ping-any") == (socket.id, [1, b"\x01"])
    assert await get(order) == ("first", "ping-any")
    assert await get(order) == ("last", "ping-any")
    outgoing_event = await client.expect("a", "outgoing")
    assert (outgoing_event["name"], from_js(outgoing_event["args"])) == (
        "ping-any",
        [1, b"\x01"],
    )

    # a packet middleware refuses: the socket emits "error"; the handler never runs
    await client.emit("a", "forbidden", 1)
    assert await get(errors) == "no forbidden events"
    await client.emit("a", "echo", "after", ack="x")
    assert (await client.ack("a", "x"))["args"] == ["after"]
    assert await rec.events.get("echo") == (socket.id, ["after"])
    assert rec.events["forbidden"].empty()

    # server -> client: on_any_outgoing sees it; the client's onAny and listener too
    socket.emit("srv", {"n": b"\x05"}, 2)
    assert await get(outgoing) == ("srv", [{"n": b"\x05"}, 2])
    assert await client.event("a") == ("srv", [{"n": b"\x05"}, 2], False)
    listened = await client.expect("a", "listener")
    assert (listened["name"], from_js(listened["args"])) == ("srv", [{"n": b"\x05"}, 2])
    # broadcasts reach the outgoing listeners too (socket.io-adapter broadcast() calls
    # socket.notifyOutgoingListeners for every recipient)
    rec.io.emit("broadcast-out", 3)
    assert await client.event("a") == ("broadcast-out", [3], False)
    rec.io.to(socket.id).emit("room-out", b"\x04")
    assert await client.event("a") == ("room-out", [b"\x04"], False)
    what = "on_any_outgoing call for a broadcast"
    assert [await get(outgoing, what), await get(outgoing, what)] == [
        ("broadcast-out", [3]),
        ("room-out", [b"\x04"]),
    ]
    socket.off_any_outgoing()
    socket.emit("quiet")
    assert await client.event("a") == ("quiet", [], False)
    assert outgoing.empty()


# ---- rooms and broadcasting --------------------------------------------------------------


@BOTH_FRONTENDS
@ALL_MODES
async def test_broadcast_operators(start_server: StartServer, sio: StartClient, mode: str) -> None:
    rec = await start_server()
    client = await sio(rec.url)
    s = await connect_three(rec, client, mode)
    a, b, c = s["a"], s["b"], s["c"]
    a.join("r1")
    b.join(["r1", "r2"])
    await c.join("r2")  # awaiting is optional
    a.join(["tmp", "tmp2"])
    await a.leave("tmp")
    a.leave(["tmp2"])
    assert a.rooms == {a.id, "r1"}
    io = rec.io

    expected: dict[str, list[tuple[str, list[Any]]]] = {"a": [], "b": [], "c": []}

    def sent(name: str, labels: str, *args: Any) -> None:
        for label in labels:
            expected[label].append((name, list(args)))

    io.emit("all", 1)
    sent("all", "abc", 1)
    io.to("r1").emit("to-r1", {"bin": b"\x01\x02"})
    sent("to-r1", "ab", {"bin": b"\x01\x02"})
    io.in_("r2").emit("in-r2")
    sent("in-r2", "bc")
    io.except_("r1").emit("except-r1")
    sent("except-r1", "c")
    io.to(["r1", "r2"]).emit("r1-or-r2")  # b is in both: once
    sent("r1-or-r2", "abc")
    io.to("r1").to("r2").emit("r1-then-r2")
    sent("r1-then-r2", "abc")
    io.to("r1").except_("r2").emit("r1-not-r2")
    sent("r1-not-r2", "a")
    io.to("nobody").emit("empty-room")
    io.to(["tmp", "tmp2"]).emit("left-rooms")
    io.except_([a.id, b.id]).emit("except-ids")
    sent("except-ids", "c")
    a.broadcast.emit("a-broadcast", b"\xff")
    sent("a-broadcast", "bc", b"\xff")
    a.to("r1").emit("a-to-r1")
    sent("a-to-r1", "b")
    b.in_("r2").emit("b-in-r2")
    sent("b-in-r2", "c")
    a.except_("r2").emit("a-except-r2")
    io.of("/").to("r2").emit("of-to-r2")
    sent("of-to-r2", "bc")
    io.to(c.id).emit("private", "for c")
    sent("private", "c", "for c")
    a.to(b.id).emit("a-to-b")
    sent("a-to-b", "b")
    io.local.emit("local")
    sent("local", "abc")
    a.local.emit("a-local")
    sent("a-local", "bc")
    io.compress(False).emit("uncompressed")
    sent("uncompressed", "abc")
    io.of("/other").emit("other-namespace")
    # volatile, right after another event: a polling transport is not writable until the
    # client polls again, so the event is dropped there; a WebSocket is always writable
    io.emit("before-volatile")
    sent("before-volatile", "abc")
    io.volatile.emit("volatile")
    if FINAL_TRANSPORT[mode] == "websocket":
        sent("volatile", "abc")
    io.emit("end")

    for label in "abc":
        assert await client.events_until(label, "end") == expected[label], label


@ALL_MODES
async def test_broadcast_with_acks(start_server: StartServer, sio: StartClient, mode: str) -> None:
    rec = await start_server()
    client = await sio(rec.url)
    s = await connect_three(rec, client, mode)
    s["a"].join("r1")
    s["b"].join("r1")
    for label in "ab":
        await client.reply(label, "q", label)
    await client.reply("c", "q", "c", {"bin": b"\x07"})
    await client.reply("c", "q2", never=True)
    io = rec.io

    responses = await io.timeout(2).emit_with_ack("q", 1)
    assert sorted(responses, key=repr) == sorted(["a", "b", ("c", {"bin": b"\x07"})], key=repr)
    assert sorted(await io.to("r1").timeout(2).emit_with_ack("q")) == ["a", "b"]
    assert await io.to("nobody").timeout(2).emit_with_ack("q") == []
    assert sorted(await s["c"].broadcast.timeout(2).emit_with_ack("q")) == ["a", "b"]

    started = time.monotonic()
    with pytest.raises(socketeer.AckTimeout) as info:
        await io.timeout(0.5).emit_with_ack("q2", b"\x01")
    assert time.monotonic() - started >= 0.45
    assert isinstance(info.value, TimeoutError)
    assert info.value.responses == [b"\x01", b"\x01"]  # a and b echo the argument
    assert info.value.missing == {s["c"].id}

    # the clients saw each broadcast once, with an ack id
    q1: tuple[str, list[Any], bool] = ("q", [1], True)
    q: tuple[str, list[Any], bool] = ("q", [], True)
    q2: tuple[str, list[Any], bool] = ("q2", [b"\x01"], True)
    for label, received in {"a": [q1, q, q, q2], "b": [q1, q, q, q2], "c": [q1, q2]}.items():
        assert [await client.event(label) for _ in received] == received, label
    for label in "ab":
        await client.reply(label, "q3", label, b"\x00")
    assert sorted(await io.timeout(2).except_(s["c"].id).emit_with_ack("q3"), key=repr) == [
        ("a", b"\x00"),
        ("b", b"\x00"),
    ]


@ALL_MODES
async def test_fetch_join_leave_and_disconnect_sockets(
    start_server: StartServer, sio: StartClient, mode: str
) -> None:
    rec = await start_server()

    @rec.io.on("connection")
    def label_data(socket: socketeer.Socket) -> None:
        socket.data = {"label": socket.handshake["auth"]["label"]}

    client = await sio(rec.url)
    s = await connect_three(rec, client, mode)
    a, b, c = s["a"], s["b"], s["c"]
    a.join("r1")
    b.join(["r1", "r2"])
    c.join("r2")
    io = rec.io
    adapter = io.of("/").adapter

    found = {remote.id: remote for remote in await io.fetch_sockets()}
    assert set(found) == {a.id, b.id, c.id}
    assert found[b.id].rooms == {b.id, "r1", "r2"}
    assert found[c.id].data == {"label": "c"}
    assert found[a.id].handshake["auth"] == {"label": "a"}
    assert {remote.id for remote in await io.in_("r1").fetch_sockets()} == {a.id, b.id}
    assert {remote.id for remote in await io.except_("r1").fetch_sockets()} == {c.id}

    found[c.id].emit("remote", b"\x03")
    await found[c.id].join("r9")
    assert c.rooms == {c.id, "r2", "r9"}
    await found[c.id].leave("r9")
    assert "r9" not in adapter.rooms

    await io.in_("r1").sockets_join("r3")
    assert adapter.rooms["r3"] == {a.id, b.id}
    io.to("r3").emit("to-r3")
    await io.sockets_join(["r4", "r5"])
    assert adapter.rooms["r5"] == {a.id, b.id, c.id}
    await io.sockets_leave("r3")
    await io.except_("r2").sockets_leave(["r4"])
    assert "r3" not in adapter.rooms
    assert adapter.rooms["r4"] == {b.id, c.id}
    io.to("r3").emit("r3-again")
    io.to("r4").emit("to-r4")
    io.emit("end")
    assert await client.events_until("a", "end") == [("to-r3", [])]
    assert await client.events_until("b", "end") == [("to-r3", []), ("to-r4", [])]
    assert await client.events_until("c", "end") == [("remote", [b"\x03"]), ("to-r4", [])]

    # close=False: a DISCONNECT packet for the namespace
    await io.in_("r2").except_("r1").disconnect_sockets()
    assert await rec.disconnects.get(c.id) == "server namespace disconnect"
    assert (await client.expect("c", "disconnect"))["reason"] == "io server disconnect"
    assert (await client.expect("c", "manager_close"))["reason"] == "forced close"
    # close=True: DISCONNECT packets, then the connections close
    await io.in_("r1").disconnect_sockets(close=True)
    for label in "ab":
        assert await rec.disconnects.get(s[label].id) == "server namespace disconnect"
        assert (await client.expect(label, "disconnect"))["reason"] == "io server disconnect"
        assert (await client.expect(label, "manager_close"))["reason"] == "forced close"
    assert adapter.rooms == {}
    assert adapter.sids == {}
    assert await io.fetch_sockets() == []
    await io.server_side_emit("hello", 1)  # a single node: nobody to tell
    assert await io.server_side_emit_with_ack("hello", 1) == []
    for label in "abc":
        assert len(client.script.seen(f"{label}:disconnect")) == 1


# ---- disconnections ----------------------------------------------------------------------


@BOTH_FRONTENDS
@ALL_MODES
async def test_disconnect_reasons(start_server: StartServer, sio: StartClient, mode: str) -> None:
    rec = await start_server()
    adapter = rec.io.of("/").adapter
    room_events: list[tuple[str, ...]] = []
    for kind in ("create-room", "join-room", "leave-room", "delete-room"):
        adapter.on(kind, lambda *args, kind=kind: room_events.append((kind, *args)))

    client = await sio(rec.url)
    s = await connect_three(rec, client, mode, labels=("quits", "closes", "kicked", "shut"))
    killed_client = await sio(rec.url)
    s.update(await connect_three(rec, killed_client, mode, labels=("killed",)))
    for label, socket in s.items():
        socket.join(["everyone", f"room-{label}"])
    # the adapter announced the rooms: each socket's own, then the joined ones
    quits = s["quits"].id
    assert room_events[:2] == [("create-room", quits), ("join-room", quits, quits)]
    assert room_events.count(("create-room", "everyone")) == 1
    assert len([e for e in room_events if e[:2] == ("join-room", "everyone")]) == 5
    assert ("join-room", "room-quits", quits) in room_events

    async def check(label: str, server_reason: str) -> None:
        socket = s[label]
        reason, rooms = await rec.disconnecting.get(socket.id)
        assert reason == server_reason, label
        assert rooms == {socket.id, "everyone", f"room-{label}"}, label  # still in its rooms
        assert await rec.disconnects.get(socket.id) == server_reason, label
        assert socket.id not in adapter.sids
        assert f"room-{label}" not in adapter.rooms
        assert socket.id not in rec.io.of("/").sockets
        assert not socket.connected

    await client.command("disconnect", "quits")
    assert (await client.expect("quits", "disconnect"))["reason"] == "io client disconnect"
    await check("quits", "client namespace disconnect")

    await client.command("close_engine", "closes")
    assert (await client.expect("closes", "disconnect"))["reason"] == "forced close"
    await check("closes", "transport close")

    s["kicked"].disconnect()
    assert (await client.expect("kicked", "disconnect"))["reason"] == "io server disconnect"
    await check("kicked", "server namespace disconnect")

    killed_client.script.process.kill()  # SIGKILL by PID
    # a killed WebSocket closes; a held long-poll request is aborted (JS: "transport error")
    await check("killed", "transport close" if mode != "polling" else "transport error")

    assert adapter.rooms["everyone"] == {s["shut"].id}
    await rec.io.close()
    await check("shut", "server shutting down")
    assert (await client.expect("shut", "disconnect"))["reason"] == "transport close"
    assert adapter.rooms == {}
    assert adapter.sids == {}
    assert rec.io.engine.clients_count == 0
    # every room created was deleted once; every join was matched by a leave
    created = sorted(e[1] for e in room_events if e[0] == "create-room")
    assert created == sorted(e[1] for e in room_events if e[0] == "delete-room")
    joins = sorted(e[1:] for e in room_events if e[0] == "join-room")
    assert joins == sorted(e[1:] for e in room_events if e[0] == "leave-room")
    assert len(joins) == 15  # 5 sockets x (own room, "everyone", "room-<label>")


@BOTH_FRONTENDS
@ALL_MODES
async def test_ping_timeout(start_server: StartServer, sio: StartClient, mode: str) -> None:
    rec = await start_server(ping_interval=0.2, ping_timeout=0.3)
    client = await sio(rec.url)
    s = await connect_three(rec, client, mode, labels=("frozen",))
    socket = s["frozen"]
    for _ in range(3):  # the client answers the pings in time, across the upgrade if any
        await client.expect("frozen", "ping")
    assert socket.connected
    pid = client.script.pid
    os.kill(pid, signal.SIGSTOP)  # the Node process can no longer answer pings
    try:
        started = time.monotonic()
        assert await rec.disconnects.get(socket.id) == "ping timeout"
        assert time.monotonic() - started < 2.0
    finally:
        os.kill(pid, signal.SIGCONT)
        client.script.process.kill()  # SIGKILL by PID; the fixture reaps it
    assert socket.id not in rec.io.of("/").adapter.sids
