"""A mixed cluster on Redis: two socketeer ``Server`` nodes (uvicorn + ``ASGIApp``) and one
official ``socket.io`` 4.8.4 node on ``@socket.io/redis-adapter`` 8.3.0
(``js/redis_node.mjs``), with an official ``socket.io-client`` on each node
(``js/socketio_client.mjs``), in both formats of the adapter (classic ``createAdapter`` and
``createShardedAdapter``).

Every cluster operation is done from a Python node and from the Node node, and must reach
the clients of every node: broadcasts (rooms, except, a socket-id room), ``fetch_sockets``
and operations on the remote sockets it returns, ``sockets_join`` / ``sockets_leave``,
server-side events with and without acks, broadcasts with acks, ``disconnect_sockets``; and
``@socket.io/redis-emitter`` drives the Python nodes while socketeer's ``Emitter`` drives
the Node node.

Messages from one node arrive in the order it sent them, but messages from different nodes
interleave: each check waits for an end marker sent by the node under test, then looks at
what that node's broadcasts delivered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

import socketeer
from socketeer.adapters.emitter import Emitter
from socketeer.adapters.redis import (
    RedisAdapterFactory,
    create_adapter,
    create_sharded_adapter,
)

from .node import NodeScript, NodeScripts

pytestmark = pytest.mark.redis

REDIS_URL = "redis://127.0.0.1:6379/0"
WAIT = 5.0


def to_js(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, list | tuple):
        return [to_js(item) for item in value]
    if isinstance(value, dict):
        return {key: to_js(item) for key, item in value.items()}
    return value


def from_js(value: Any) -> Any:
    if isinstance(value, list):
        return [from_js(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {key: from_js(item) for key, item in value.items()}
    return value


# ---- the nodes and their clients -------------------------------------------------------


@dataclass
class PyNode:
    label: str
    io: socketeer.Server
    factory: RedisAdapterFactory
    url: str = ""
    server_events: asyncio.Queue[tuple[str, list[Any]]] = field(default_factory=asyncio.Queue)

    async def server_event(self, name: str, args: list[Any]) -> None:
        """Wait for the server-side event ``name(*args)``, skipping others (10 at most)."""
        for _ in range(10):
            async with asyncio.timeout(WAIT):
                if await self.server_events.get() == (name, args):
                    return
        raise AssertionError(f"{self.label} never got the server-side event {name}{args}")

    def socket(self, id: str) -> socketeer.Socket:
        return self.io.of("/").sockets[id]  # type: ignore[index]

    def joining(self, room: str) -> Callable[[], Awaitable[None]]:
        """Call before a join that another node makes; await the result to know the join is
        applied here and (sharded, dynamic mode) the room's channel subscribed. In JS too a
        broadcast to a room sent right after a remote join may miss its new members."""
        joined = asyncio.Event()
        adapter = self.io.of("/").adapter

        def on_join(name: str, sid: str) -> None:
            if name == room:
                joined.set()

        adapter.on("join-room", on_join)

        async def wait() -> None:
            async with asyncio.timeout(WAIT):
                await joined.wait()
            adapter.off("join-room", on_join)
            assert await self.factory.link.subscriber.wait_synced(WAIT)

        return wait


@dataclass
class JsNode:
    script: NodeScript
    refs: int = 0

    async def call(self, cmd: str, answer: str, **fields: Any) -> dict[str, Any]:
        self.refs += 1
        ref = f"r{self.refs}"
        await self.script.send({"cmd": cmd, "ref": ref, **fields})
        found = await self.script.expect(answer)
        assert found["ref"] == ref, found
        return found

    async def send(self, cmd: str, **fields: Any) -> None:
        await self.script.send({"cmd": cmd, **fields})

    async def server_event(self, name: str, args: list[Any]) -> None:
        """Wait for the server-side event ``name(*args)``, skipping others (10 at most)."""
        for _ in range(10):
            event = await self.script.expect("server_event")
            if (event["name"], from_js(event["args"])) == (name, args):
                return
        raise AssertionError(f"the Node node never got the server-side event {name}{args}")


@dataclass
class Client:
    """One ``socket.io-client`` socket (its own Node process, connected to one node)."""

    label: str
    script: NodeScript
    id: str = ""
    seen: list[tuple[str, list[Any]]] = field(default_factory=list)

    async def until(self, name: str) -> list[tuple[str, list[Any]]]:
        """Every event received, once one named ``name`` (a unique marker) is among them."""
        for _ in range(100):
            if any(seen == name for seen, _ in self.seen):
                return list(self.seen)
            event = await self.script.expect(f"{self.label}:event", WAIT)
            self.seen.append((event["name"], from_js(event["args"])))
        raise AssertionError(f"{self.label}: no {name!r} among 100 events")

    def of(self, prefix: str) -> list[tuple[str, list[Any]]]:
        """The events seen so far whose name starts with ``prefix``."""
        return [item for item in self.seen if item[0].startswith(prefix)]


@dataclass
class Cluster:
    py1: PyNode
    py2: PyNode
    js: JsNode
    a: Client  # on py1, rooms red
    b: Client  # on py2, rooms red + blue
    c: Client  # on js, rooms blue
    prefix: str

    @property
    def clients(self) -> tuple[Client, Client, Client]:
        return self.a, self.b, self.c

    async def all_until(self, name: str) -> None:
        for client in self.clients:
            await client.until(name)


def factory_for(fmt: str, prefix: str) -> RedisAdapterFactory:
    if fmt == "classic":
        return create_adapter(REDIS_URL, key=prefix)
    return create_sharded_adapter(REDIS_URL, channel_prefix=prefix)


async def start_py(serve_asgi: Any, label: str, fmt: str, prefix: str) -> PyNode:
    factory = factory_for(fmt, prefix)
    node = PyNode(label, socketeer.Server(adapter=factory), factory)

    @node.io.on("connection")
    def connected(socket: socketeer.Socket) -> None:
        auth = socket.handshake["auth"]
        socket.data = auth.get("data")
        socket.join(auth.get("rooms", []))

    @node.io.on("hello")
    def hello(*args: Any) -> None:
        node.server_events.put_nowait(("hello", list(args)))

    @node.io.on("ping")
    async def ping(*args: Any) -> dict[str, Any]:
        node.server_events.put_nowait(("ping", list(args)))
        return {"node": label, "args": list(args)}

    node.url = await serve_asgi(socketeer.ASGIApp(node.io))  # lifespan: io.start()
    return node


async def connect(node: NodeScripts, url: str, label: str, rooms: list[str]) -> Client:
    script = await node("socketio_client", url, json.dumps({"transports": ["websocket"]}))
    await script.expect("ready")
    auth = {"label": label, "rooms": rooms, "data": {"label": label}}
    await script.send({"cmd": "connect", "socket": label, "auth": auth})
    connected = await script.expect(f"{label}:connect")
    return Client(label, script, connected["id"])


StartCluster = Callable[[str], Awaitable[Cluster]]


@pytest.fixture
def start_cluster(serve_asgi: Any, node: NodeScripts) -> StartCluster:
    prefix = f"sk-mixed-{id(node):x}"

    async def start(fmt: str) -> Cluster:
        py1 = await start_py(serve_asgi, "py1", fmt, prefix)
        py2 = await start_py(serve_asgi, "py2", fmt, prefix)
        options = {"redis": REDIS_URL, "key": prefix, "sharded": fmt == "sharded", "label": "js"}
        script = await node("redis_node", json.dumps(options))
        listening = await script.expect("listening")
        js_url = f"http://127.0.0.1:{listening['port']}"
        a = await connect(node, py1.url, "a", ["red"])
        b = await connect(node, py2.url, "b", ["red", "blue"])
        c = await connect(node, js_url, "c", ["blue"])
        return Cluster(py1, py2, JsNode(script), a, b, c, prefix)

    return start


# ---- the test --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["classic", "sharded"])
async def test_mixed_cluster(start_cluster: StartCluster, fmt: str) -> None:
    cl = await start_cluster(fmt)
    a, b, c = cl.clients
    io1, io2, js = cl.py1.io, cl.py2.io, cl.js
    assert await io1.of("/").adapter.server_count() == 3
    assert (await js.call("count", "count"))["count"] == 3

    # -- broadcasts from a Python node and from the Node node, both ways
    io1.emit("p1-all", b"\x01", {"n": 1})
    io1.to("red").except_("blue").emit("p1-red-not-blue")
    io1.to("blue").emit("p1-blue")
    io1.to(c.id).emit("p1-to-c")
    io1.emit("p1-end")
    await js.send("emit", event="js-all", args=to_js([{"bin": b"\x02"}]))
    await js.send("emit", to=["blue"], event="js-blue")
    await js.send("emit", **{"except": ["red"]}, event="js-not-red")
    await js.send("emit", to=[a.id], event="js-to-a")
    await js.send("emit", event="js-end")
    for client in cl.clients:
        await client.until("p1-end")
        await client.until("js-end")
    p1_all = ("p1-all", [b"\x01", {"n": 1}])
    js_all = ("js-all", [{"bin": b"\x02"}])
    assert a.of("p1") == [p1_all, ("p1-red-not-blue", []), ("p1-end", [])]
    assert b.of("p1") == [p1_all, ("p1-blue", []), ("p1-end", [])]
    assert c.of("p1") == [p1_all, ("p1-blue", []), ("p1-to-c", []), ("p1-end", [])]
    assert a.of("js") == [js_all, ("js-to-a", []), ("js-end", [])]
    assert b.of("js") == [js_all, ("js-blue", []), ("js-end", [])]
    assert c.of("js") == [js_all, ("js-blue", []), ("js-not-red", []), ("js-end", [])]

    # -- fetch_sockets from Python: the Node node's socket too, with its details
    found = {s.id: s for s in await io2.fetch_sockets()}
    assert set(found) == {a.id, b.id, c.id}
    remote_c = found[c.id]
    assert remote_c.rooms == {c.id, "blue"}
    assert remote_c.data == {"label": "c"}
    assert remote_c.handshake["auth"]["label"] == "c"
    assert {s.id for s in await io1.in_("blue").except_("red").fetch_sockets()} == {c.id}
    # ... and the remote socket can be used
    remote_c.emit("to-remote-c", b"\x03")
    await remote_c.join("green")
    await remote_c.leave("blue")
    io2.emit("p2-end")
    assert (await c.until("p2-end"))[-2:] == [("to-remote-c", [b"\x03"]), ("p2-end", [])]
    fetched = await js.call("fetch", "fetched", to=["green"])
    assert [s["rooms"] for s in fetched["sockets"]] == [sorted([c.id, "green"])]

    # -- fetchSockets from Node: the Python sockets, with their details
    fetched = await js.call("fetch", "fetched", to=["red"])
    details = {s["id"]: s for s in fetched["sockets"]}
    assert set(details) == {a.id, b.id}
    assert details[b.id]["rooms"] == sorted([b.id, "red", "blue"])
    assert details[a.id]["data"] == {"label": "a"}
    assert details[a.id]["auth"]["label"] == "a"
    # RemoteSocket operations from Node on a Python socket
    assert (await js.call("remote", "remote", id=a.id, op="emit", event="js-remote"))["found"]
    yellow = cl.py1.joining("yellow")
    await js.call("remote", "remote", id=a.id, op="join", room="yellow")
    await yellow()
    await a.until("js-remote")
    await js.send("emit", to=["yellow"], event="js-yellow")
    assert (await a.until("js-yellow"))[-1] == ("js-yellow", [])
    assert "yellow" in cl.py1.socket(a.id).rooms

    # -- sockets_join / sockets_leave both ways (c left "blue" above: b is its only member)
    team = cl.py2.joining("team")
    await js.send("join", to=["blue"], rooms=["team"])
    await team()
    await js.send("emit", to=["team"], event="js-team")
    await js.send("emit", event="js-end-2")
    await cl.all_until("js-end-2")
    assert [n for n, _ in b.of("js-")][-2:] == ["js-team", "js-end-2"]
    assert "js-team" not in [n for n, _ in a.seen + c.seen]
    assert "team" in cl.py2.socket(b.id).rooms
    reds = cl.py2.joining("reds")
    await io1.in_("red").sockets_join("reds")
    await reds()
    await io1.in_("reds").sockets_leave("blue")
    io1.to("blue").emit("p1-blue-again")  # nobody is in "blue" any more
    io1.to("reds").emit("p1-reds")
    io1.emit("p1-end-2")
    await cl.all_until("p1-end-2")
    for client in cl.clients:
        assert "p1-blue-again" not in [n for n, _ in client.seen]
    assert [n for n, _ in a.of("p1")][-2:] == ["p1-reds", "p1-end-2"]
    assert [n for n, _ in b.of("p1")][-2:] == ["p1-reds", "p1-end-2"]
    assert [n for n, _ in c.of("p1")][-2:] == ["p1-end", "p1-end-2"]
    assert cl.py2.socket(b.id).rooms == {b.id, "red", "team", "reds"}

    # -- server-side events, with and without acks, both ways
    await io1.server_side_emit("hello", 1, {"x": b"\x04"})
    # the classic format sends server-side events as JSON, where bytes become what
    # JSON.stringify makes of a Buffer (as between JS nodes); the sharded one uses msgpack
    sent_bytes: Any = {"type": "Buffer", "data": [4]} if fmt == "classic" else b"\x04"
    await cl.py2.server_event("hello", [1, {"x": sent_bytes}])
    await js.server_event("hello", [1, {"x": sent_bytes}])
    assert cl.py1.server_events.empty()  # never to itself
    answers = await io1.server_side_emit_with_ack("ping", 2)
    assert sorted(answers, key=repr) == sorted(
        [{"node": "py2", "args": [2]}, {"node": "js", "args": [2]}], key=repr
    )
    result = await js.call("sse_ack", "sse_ack", event="ping", args=[3])
    assert sorted(result["responses"], key=repr) == sorted(
        [{"node": "py1", "args": [3]}, {"node": "py2", "args": [3]}], key=repr
    )
    await js.send("sse", event="hello", args=["from-js"])
    for py in (cl.py1, cl.py2):
        await py.server_event("hello", ["from-js"])

    # -- broadcasts with acks across every node, both ways (clients echo the arguments)
    assert await io2.timeout(WAIT).emit_with_ack("q", 5) == [5, 5, 5]
    assert await io1.to("green").timeout(WAIT).emit_with_ack("q", "x") == ["x"]  # c, on Node
    result = await js.call("emit_ack", "emit_ack", event="q", args=[6], timeout=int(WAIT * 1000))
    assert result["responses"] == [6, 6, 6]

    # -- emitters: @socket.io/redis-emitter drives the Python nodes (classic format only: the
    # package has no other), socketeer's Emitter drives the Node node
    if fmt == "classic":
        await js.call("emitter", "emitted", op="emit", to=["red"], event="em-red", args=[7])
        await js.call("emitter", "emitted", op="join", to=["red"], rooms=["em-room"])
        await js.call("emitter", "emitted", op="sse", event="hello", args=["emitter"])
        await js.call("emitter", "emitted", op="emit", to=["em-room"], event="em-end")
        for client in (a, b):
            assert [n for n, _ in (await client.until("em-end")) if n.startswith("em")] == [
                "em-red",
                "em-end",
            ]
        for py in (cl.py1, cl.py2):
            await py.server_event("hello", ["emitter"])
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        emitter = Emitter(client, key=cl.prefix, sharded=fmt == "sharded")
        await emitter.to("green").emit("py-em", b"\x05")
        await emitter.in_("green").except_("red").sockets_join("py-em-room")
        # one publisher, one subscriber: the join is applied before this arrives
        await emitter.emit("py-em-end")
        assert [n for n, _ in (await c.until("py-em-end")) if n.startswith("py-em")] == [
            "py-em",
            "py-em-end",
        ]
        assert ("py-em", [b"\x05"]) in c.seen
        fetched = await js.call("fetch", "fetched", to=["py-em-room"])
        assert [s["id"] for s in fetched["sockets"]] == [c.id]
        await emitter.server_side_emit("hello", "py-emitter")
        await js.server_event("hello", ["py-emitter"])
    finally:
        await client.aclose()

    # -- disconnect_sockets both ways
    await remote_c.disconnect()  # the RemoteSocket fetched above, on the Node node
    assert (await c.script.expect("c:disconnect"))["reason"] == "io server disconnect"
    await js.send("disconnect", to=["reds"], close=True)
    for client in (a, b):
        assert (await client.script.expect(f"{client.label}:disconnect"))[
            "reason"
        ] == "io server disconnect"
    assert await io1.fetch_sockets() == []
