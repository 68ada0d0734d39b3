"""``socketeer.instrument``: the server side of the ``@socket.io/admin-ui`` protocol, spoken
to the official socket.io-client exactly as the dashboard speaks it (the dashboard itself is
driven in a real browser by tests/browser/test_admin.py).
"""

from __future__ import annotations

import asyncio
import re
import socket as _socket
from collections.abc import Callable
from typing import Any

import pytest

import socketeer
from socketeer import admin
from socketeer._types import SocketId
from socketeer.exceptions import LocalProtocolError

from .node import NodeScript, NodeScripts

PASSWORD = "s3cret"
AUTH = {"type": "basic", "username": "admin", "password": PASSWORD}
LOGIN = {"username": "admin", "password": PASSWORD}
ALL_FEATURES = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
    "AGGREGATED_EVENTS",
    "ALL_EVENTS",
]


def chat_server(**options: Any) -> tuple[socketeer.Server, admin.Instrumentation]:
    """A server whose sockets join room "lobby"; instrumented (development mode)."""
    io = socketeer.Server()

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> Any:
        socket.join("lobby")

        @socket.on("ping")
        def ping(*args: Any) -> str:
            socket.emit("pong", *args)
            return "ok"

        @socket.on("set_data")
        def set_data(value: Any) -> None:
            socket.data = value

    admin_nsp = io.of("/admin")

    @admin_nsp.on("connection")
    def admin_connection(socket: socketeer.Socket) -> None:
        socket.on("probe", lambda: "pong")  # an ordering barrier for negative checks

    return io, socketeer.instrument(io, **{"auth": AUTH, **options})


async def start(node: NodeScripts, url: str) -> NodeScript:
    client = await node("socketio_client", url)
    await client.expect("ready")
    return client


async def connect_admin(client: NodeScript, label: str = "adm", **auth: Any) -> dict[str, Any]:
    await client.send({"cmd": "connect", "socket": label, "nsp": "/admin", "auth": auth or LOGIN})
    return await client.expect(f"{label}:connect")


async def event(client: NodeScript, label: str, name: str, timeout: float = 10.0) -> list[Any]:  # noqa: ASYNC109
    """The arguments of the next event ``name`` that socket ``label`` receives (the
    events of other names before it are passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        found = await client.expect(f"{label}:event", timeout=left)
        if found["name"] == name:
            args: list[Any] = found["args"]
            return args
    raise AssertionError(f"{label} received no {name!r} within {timeout} s\n{client.output()}")


async def received(
    client: NodeScript, label: str, name: str, count: int, **where: Any
) -> list[list[Any]]:
    """Wait until ``label`` has received ``count`` events ``name`` (whose arguments at the
    positions given as ``where={"a2": value}`` match), in any order; return their
    arguments."""

    def found() -> list[list[Any]]:
        return [
            e["args"]
            for e in client.seen(f"{label}:event")
            if e["name"] == name and all(e["args"][int(k[1:])] == v for k, v in where.items())
        ]

    await until(client, label, lambda: len(found()) >= count, f"{count} x {name} {where}")
    return found()


async def until(
    client: NodeScript, label: str, condition: Callable[[], bool], what: str = "condition"
) -> None:
    """Wait (10 s at most) until ``condition()`` holds, looking again at each new event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not condition():
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"{label}: no {what} within 10 s\n{client.output()}")
        await client.expect(f"{label}:event", timeout=left)


async def barrier(client: NodeScript, label: str = "adm") -> None:
    """Everything the server sent ``label`` before now has been printed."""
    await client.send(
        {"cmd": "emit", "socket": label, "event": "probe", "args": [], "ack": "barrier"}
    )
    await client.expect(f"{label}:ack")


def names(client: NodeScript, label: str = "adm") -> list[str]:
    return [e["name"] for e in client.seen(f"{label}:event")]


async def test_login_config_stats_and_all_sockets(serve_asgi: Any, node: NodeScripts) -> None:
    io, _ = chat_server(server_id="node-1")
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    await client.send({"cmd": "connect", "socket": "u", "options": {"transports": ["websocket"]}})
    user = await client.expect("u:connect")

    # Wrong credentials (and none at all) are refused with the message the UI expects.
    for auth in ({"username": "admin", "password": "nope"}, {"username": "root"}, {}):
        label = f"bad{len(client.seen('command_error'))}{len(auth)}"
        await client.send({"cmd": "connect", "socket": label, "nsp": "/admin", "auth": auth})
        refused = await client.expect(f"{label}:connect_error")
        assert refused["message"] == "invalid credentials"

    await connect_admin(client)
    session = await event(client, "adm", "session")
    assert re.fullmatch(r"[0-9a-f]{16}", session[0])
    assert await event(client, "adm", "config") == [{"supportedFeatures": ALL_FEATURES}]
    [stats] = await event(client, "adm", "server_stats")
    assert stats["serverId"] == "node-1"
    assert stats["hostname"] == _socket.gethostname()
    assert stats["clientsCount"] == 2
    assert stats["pollingClientsCount"] in (0, 1)  # the admin socket may still be polling
    assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
    assert {"name": "/admin", "socketsCount": 1} in stats["namespaces"]
    [sockets] = await event(client, "adm", "all_sockets")
    [described] = [s for s in sockets if s["id"] == user["id"]]
    assert described["nsp"] == "/"
    assert described["transport"] == "websocket"
    assert described["clientId"] == user["engine_sid"][:12]
    assert sorted(described["rooms"]) == sorted([user["id"], "lobby"])
    assert described["data"] == {}
    handshake = described["handshake"]
    assert handshake["address"] == "127.0.0.1"
    assert handshake["query"]["EIO"] == "4"
    assert "auth" not in handshake
    assert {s["nsp"] for s in sockets} == {"/", "/admin"}

    # The session id from the login lets the dashboard reconnect without the password.
    await connect_admin(client, "again", sessionId=session[0])
    assert await event(client, "again", "config") == [{"supportedFeatures": ALL_FEATURES}]
    assert "session" not in names(client, "again")
    await client.send(
        {"cmd": "connect", "socket": "forged", "nsp": "/admin", "auth": {"sessionId": "0" * 16}}
    )
    assert (await client.expect("forged:connect_error"))["message"] == "invalid credentials"


async def test_live_events(serve_asgi: Any, node: NodeScripts, monkeypatch: Any) -> None:
    monkeypatch.setattr(admin, "STATS_INTERVAL", 0.2)
    io, _ = chat_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    await connect_admin(client)
    await event(client, "adm", "all_sockets")

    # A client connects (polling, then it upgrades), joins rooms, talks, changes its data.
    await client.send({"cmd": "connect", "socket": "u"})
    user = await client.expect("u:connect")
    uid = user["id"]
    [described, when] = await event(client, "adm", "socket_connected")
    assert described["id"] == uid
    assert described["transport"] == "polling"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", when)
    joined = await received(client, "adm", "room_joined", 2, a2=uid)
    assert sorted(j[:3] for j in joined) == sorted([["/", uid, uid], ["/", "lobby", uid]])
    await client.expect("u:upgrade")
    assert await event(client, "adm", "socket_updated") == [
        {"id": uid, "nsp": "/", "transport": "websocket"}
    ]
    await client.send(
        {"cmd": "emit", "socket": "u", "event": "ping", "args": [1, {"$bytes": "0102"}], "ack": "p"}
    )
    incoming = await event(client, "adm", "event_received")
    assert incoming[:3] == ["/", uid, ["ping", 1, {"$bytes": "0102"}]]
    sent = await event(client, "adm", "event_sent")
    assert sent[:3] == ["/", uid, ["pong", 1, {"$bytes": "0102"}]]
    await client.send({"cmd": "emit", "socket": "u", "event": "set_data", "args": [{"nick": "u"}]})
    update = await event(client, "adm", "socket_updated")
    assert update == [{"id": uid, "nsp": "/", "data": {"nick": "u"}}]

    # The periodic statistics aggregate what happened (in whole seconds, by type).
    def aggregated() -> list[dict[str, Any]]:
        return [
            entry
            for e in client.seen("adm:event")
            if e["name"] == "server_stats"
            for entry in e["args"][0]["aggregatedEvents"]
        ]

    wanted = {"rawConnection", "packetsIn", "bytesIn", "packetsOut", "bytesOut"}
    await until(client, "adm", lambda: wanted <= {entry["type"] for entry in aggregated()})
    for entry in aggregated():
        assert entry["count"] > 0
        assert entry["timestamp"] % 1000 == 0

    # It leaves: the disconnection first, then the rooms it left (as JS orders them).
    await client.send({"cmd": "disconnect", "socket": "u"})
    gone = await event(client, "adm", "socket_disconnected")
    assert gone[:3] == ["/", uid, "client namespace disconnect"]
    left = await received(client, "adm", "room_left", 2, a2=uid)
    assert sorted(entry[:3] for entry in left) == sorted([["/", uid, uid], ["/", "lobby", uid]])
    assert names(client).index("socket_disconnected") < names(client).index("room_left")
    await client.send({"cmd": "close_engine", "socket": "u"})
    await until(client, "adm", lambda: any(e["type"] == "rawDisconnection" for e in aggregated()))


async def test_commands(serve_asgi: Any, node: NodeScripts) -> None:
    io, _ = chat_server()
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    for label in ("u", "v"):
        await client.send({"cmd": "connect", "socket": label})
    uid = (await client.expect("u:connect"))["id"]
    await client.expect("v:connect")
    await connect_admin(client)
    await event(client, "adm", "all_sockets")

    async def command(*args: Any) -> None:
        await client.send(
            {"cmd": "emit", "socket": "adm", "event": args[0], "args": list(args[1:])}
        )
        await barrier(client)

    # emit: to a namespace, or to the sockets of one room.
    await command("emit", "/", None, "news", "for all", 1)
    for label in ("u", "v"):
        assert await event(client, label, "news") == ["for all", 1]
    await command("emit", "/", uid, "news", "for u")
    assert await event(client, "u", "news") == ["for u"]
    # join / leave: every socket, or the sockets of one room.
    await command("join", "/", "vip", uid)
    assert (await event(client, "adm", "room_joined"))[:3] == ["/", "vip", uid]
    assert io.sockets.adapter.rooms["vip"] == {uid}
    await command("join", "/", "all")
    assert len(io.sockets.adapter.rooms["all"]) == 2
    await command("leave", "/", "all", uid)
    assert uid not in io.sockets.adapter.rooms["all"]
    await command("leave", "/", "all")
    assert "all" not in io.sockets.adapter.rooms
    # Bad commands are ignored: unknown namespaces are never created, reserved names fail.
    await command("emit", "/nowhere", None, "news", "lost")
    await command("join", "/nowhere", "room")
    await command("emit", "/", None, "connect")
    await command("emit", "/", 42, "news")
    await command("join", "/", 42)
    assert "/nowhere" not in io._nsps
    # _disconnect: the sockets of one room, then everyone (close=True closes connections).
    await command("_disconnect", "/", False, uid)
    assert (await client.expect("u:disconnect"))["reason"] == "io server disconnect"
    await command("_disconnect", "/", True)
    assert (await client.expect("v:disconnect"))["reason"] == "io server disconnect"
    assert [e["args"] for e in client.seen("v:event")] == [["for all", 1]]


async def test_read_only(serve_asgi: Any, node: NodeScripts) -> None:
    io, _ = chat_server(read_only=True)
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    await client.send({"cmd": "connect", "socket": "u"})
    await client.expect("u:connect")
    await connect_admin(client)
    assert await event(client, "adm", "config") == [
        {"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}
    ]
    for args in (["_disconnect", "/", True], ["emit", "/", None, "x"], ["join", "/", "r"]):
        await client.send({"cmd": "emit", "socket": "adm", "event": args[0], "args": args[1:]})
    await barrier(client)
    assert len(io.sockets.sockets) == 1
    assert "r" not in io.sockets.adapter.rooms
    assert client.seen("u:disconnect") == []
    assert client.seen("u:event") == []


async def test_production_mode(serve_asgi: Any, node: NodeScripts) -> None:
    io, _ = chat_server(mode="production")
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    await connect_admin(client)
    assert await event(client, "adm", "config") == [{"supportedFeatures": ALL_FEATURES[:-1]}]
    await event(client, "adm", "server_stats")
    await client.send({"cmd": "connect", "socket": "u"})
    await client.expect("u:connect")
    await client.send({"cmd": "emit", "socket": "u", "event": "ping", "args": [], "ack": "p"})
    await client.expect("u:ack")
    await barrier(client)
    assert set(names(client)) == {"session", "config", "server_stats"}


async def test_no_auth_and_dynamic_namespaces(serve_asgi: Any, node: NodeScripts) -> None:
    io = socketeer.Server()
    io.of(re.compile(r"/team-\d+"))
    socketeer.instrument(io, namespace_name="/ops")
    url = await serve_asgi(socketeer.ASGIApp(io))
    client = await start(node, url)
    await client.send({"cmd": "connect", "socket": "adm", "nsp": "/ops"})
    await client.expect("adm:connect")
    await event(client, "adm", "all_sockets")
    for label, nsp in (("a", "/team-1"), ("b", "/team-2"), ("c", "/team-2")):
        await client.send({"cmd": "connect", "socket": label, "nsp": nsp})
        sid = (await client.expect(f"{label}:connect"))["id"]
        [described, _] = await event(client, "adm", "socket_connected")
        assert (described["nsp"], described["id"]) == (nsp, sid)
    await barrier(client)
    # One socket_connected per connection, although the children share their handlers.
    teams = await received(client, "adm", "socket_connected", 3)
    assert sorted(args[0]["nsp"] for args in teams if args[0]["nsp"] != "/ops") == [
        "/team-1",
        "/team-2",
        "/team-2",
    ]
    assert "session" not in names(client)


# ---- without Node ----------------------------------------------------------------------------


def test_auth_options_are_checked() -> None:
    io = socketeer.Server()
    with pytest.raises(LocalProtocolError, match="basic"):
        socketeer.instrument(io, auth={"type": "digest"})
    with pytest.raises(LocalProtocolError, match="username and a password"):
        socketeer.instrument(io, auth={"type": "basic", "username": "a"})
    with pytest.raises(LocalProtocolError, match="mode"):
        socketeer.instrument(io, mode="staging")  # type: ignore[arg-type]


async def test_passwords_plain_and_bcrypt(monkeypatch: Any) -> None:
    bcrypt = pytest.importorskip("bcrypt")
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    check = admin._PasswordCheck(hashed)
    assert await check("s3cret")
    assert not await check("S3cret")
    plain = admin._PasswordCheck("s3cret")
    assert await plain("s3cret")
    assert not await plain(hashed)
    assert not await plain("s3cre")
    assert await admin._PasswordCheck("h\u00e9")("h\u00e9")  # non-ASCII text is fine
    monkeypatch.setitem(__import__("sys").modules, "bcrypt", None)  # "not installed"
    with pytest.raises(LocalProtocolError, match="bcrypt package"):
        admin._PasswordCheck(hashed)


def test_sessions_are_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(admin, "MAX_SESSIONS", 3)
    sessions = admin._Sessions()
    ids = [sessions.create() for _ in range(4)]
    assert [sessions.valid(i) for i in ids] == [False, True, True, True]
    monkeypatch.setattr(admin, "SESSION_LIFETIME", -1.0)
    expired = sessions.create()
    assert not sessions.valid(expired)
    assert not sessions.valid("unknown")


def test_serialize_data() -> None:
    assert admin.serialize_data(None) == {}
    assert admin.serialize_data({"_admin": 1, "nick": "a", 2: b"xy"}) == {
        "nick": "a",
        "2": "<2 bytes>",
    }
    assert admin.serialize_data([1, {3, 1}]) == [1, "[1, 3]"]
    assert admin.serialize_data(object()).startswith("<object object")
    circular: list[Any] = []
    circular.append(circular)
    assert admin.serialize_data(circular) == "[[...]]"
    assert admin.serialize_data("x" * (admin.MAX_DATA_CHARS + 1)).endswith("characters of data>")


def test_event_buffer() -> None:
    buffer = admin._EventBuffer()
    buffer.push("packetsIn")
    buffer.push("packetsIn")
    buffer.push("rawDisconnection", "transport close")
    values = buffer.drain()
    assert sorted((v["type"], v.get("subType"), v["count"]) for v in values) == [
        ("packetsIn", None, 2),
        ("rawDisconnection", "transport close", 1),
    ]
    assert buffer.drain() == []


async def test_stats_timer_stops_when_idle() -> None:
    io = socketeer.Server()
    instrumentation = socketeer.instrument(io, auth=AUTH)
    instrumentation._ensure_timer()
    assert instrumentation._timer is not None
    instrumentation._tick()  # nobody connected: it does not re-arm
    assert instrumentation._timer is None
    instrumentation._ensure_timer()
    instrumentation.close()
    assert instrumentation._timer is None


def test_describe_and_count_without_a_connection() -> None:
    io = socketeer.Server()
    instrumentation = socketeer.instrument(io, auth=AUTH)
    # A socket of another node (a JS server instrumented too keeps these in its data).
    data = {"_admin": {"transport": "polling", "clientId": "abc"}, "nick": "x"}
    handshake = {"headers": {"x-forwarded-for": "10.0.0.1"}, "address": "127.0.0.1"}
    described = instrumentation._describe("/", SocketId("remote"), handshake, frozenset(), data)
    assert (described["transport"], described["clientId"]) == ("polling", "abc")
    assert described["handshake"]["address"] == "10.0.0.1"
    assert described["data"] == {"nick": "x"}
    # Statistics never break an emit, even of something that cannot be encoded; the size
    # of a broadcast is computed once for all its recipients.
    instrumentation._count_outgoing("odd", object())
    args = ("news", {"a": 1})
    for _ in range(3):
        instrumentation._count_outgoing(*args)
    counts = {(e["type"], e["count"]) for e in instrumentation._events.drain()}
    assert ("packetsOut", 4) in counts
    assert ("bytesOut", 3 * len('2["news",{"a":1}]')) in counts  # the Socket.IO packet
