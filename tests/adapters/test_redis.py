"""The Redis adapters over a real Redis, nodes in one process (each with its own
connections, as separate processes would have), in both formats; the Python emitter; and
resilience: a Redis restart, a subscriber connection that goes silent, garbage on the
channels, nodes that stop, requests that time out.

Each test uses its own channel prefix; the restart and watchdog tests run their own
``redis-server`` (or a TCP proxy in front of it) and never touch the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

import socketeer
from socketeer.adapters.base import BroadcastFlags, BroadcastOptions, RemoteAcks
from socketeer.adapters.emitter import Emitter, SyncEmitter
from socketeer.adapters.memory import InMemoryAdapter
from socketeer.adapters.redis import (
    RedisAdapter,
    RedisAdapterFactory,
    RedisOptions,
    ShardedRedisAdapter,
    create_adapter,
    create_sharded_adapter,
)
from socketeer.exceptions import AdapterTimeout
from socketeer.socketio.packets import Packet, PacketType

from .helpers import ENCODE, WAIT, FakeNamespace

pytestmark = pytest.mark.redis

FORMATS = ["classic", "sharded"]
FAST = RedisOptions(
    health_check_interval=0.3, health_check_timeout=0.3, command_timeout=2.0, subscribe_timeout=3
)


def factory_for(fmt: str, url: str, prefix: str, **options: Any) -> RedisAdapterFactory:
    if fmt == "classic":
        return create_adapter(url, key=prefix, **options)
    return create_sharded_adapter(url, channel_prefix=prefix, **options)


@dataclass
class Node:
    factory: RedisAdapterFactory
    adapter: InMemoryAdapter
    fake: FakeNamespace


@dataclass
class Nodes:
    url: str
    prefix: str
    started: list[Node] = field(default_factory=list)

    async def start(self, fmt: str, nsp: str = "/", url: str | None = None, **kw: Any) -> Node:
        factory = factory_for(fmt, url or self.url, self.prefix, **kw)
        fake = FakeNamespace(nsp)
        adapter = factory(fake, ENCODE)
        fake.adapter = adapter
        await adapter.init()
        node = Node(factory, adapter, fake)
        self.started.append(node)
        return node

    async def stop_all(self) -> None:
        for node in self.started:
            await node.adapter.close()
            await node.factory.close()


@pytest.fixture
async def nodes(redis_url: str, prefix: str) -> AsyncIterator[Nodes]:
    started = Nodes(redis_url, prefix)
    try:
        yield started
    finally:
        await started.stop_all()


def event(*data: Any, nsp: str = "/") -> Packet:
    return Packet(PacketType.EVENT, nsp, list(data))


def rooms(*names: str) -> frozenset[str]:
    return frozenset(names)


ALL = BroadcastOptions()


def ends(events: list[list[Any]]) -> list[list[Any]]:
    return [e for e in events if e[0] == "end"]


def events_of(node: Node, sid: str) -> list[list[Any]]:
    return [e for e in node.fake.events(sid) if e[0] != "end"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_three_nodes(nodes: Nodes, fmt: str) -> None:
    a, b, c = [await nodes.start(fmt) for _ in range(3)]
    assert await a.adapter.server_count() == 3
    a1 = a.fake.connect("a1" * 10, "room")
    b1 = b.fake.connect("b1" * 10, "room", "vip", data={"n": 1})
    c1 = c.fake.connect("c1" * 10)

    # broadcasts: everyone, one room (its own channel in dynamic mode), rooms minus except
    a.adapter.broadcast(event("all", b"\x01"), ALL)
    b.adapter.broadcast(event("room"), BroadcastOptions(rooms("room")))
    c.adapter.broadcast(event("not-vip"), BroadcastOptions(except_rooms=rooms("vip")))
    c.adapter.broadcast(event("to-b1"), BroadcastOptions(rooms(b1)))  # a socket-id room
    # each node's messages arrive in order: once every node's "end" is in, all is
    for index, node in enumerate((a, b, c)):
        node.adapter.broadcast(event("end", index), ALL)
    for node, sid in ((a, a1), (b, b1), (c, c1)):
        await node.fake.until(lambda n=node, s=sid: len(ends(n.fake.events(s))) == 3)
    assert sorted(events_of(a, a1)) == sorted([["all", b"\x01"], ["room"], ["not-vip"]])
    assert sorted(events_of(b, b1)) == sorted([["all", b"\x01"], ["room"], ["to-b1"]])
    assert sorted(events_of(c, c1)) == sorted([["all", b"\x01"], ["not-vip"]])

    # fetch_sockets, all rooms
    found = {s.id: s for s in await c.adapter.fetch_sockets(ALL)}
    assert set(found) == {a1, b1, c1}
    assert found[b1].rooms == {b1, "room", "vip"}
    assert found[b1].data == {"n": 1}
    assert found[a1].handshake["auth"] == {"label": a1}
    assert {s.id for s in await a.adapter.fetch_sockets(BroadcastOptions(rooms("vip")))} == {b1}
    assert await b.adapter.all_rooms() == {a1, b1, c1, "room", "vip"}

    # join / leave / disconnect, applied everywhere
    await a.adapter.add_sockets(BroadcastOptions(rooms("room")), ["joined"])
    await c.fake.until(lambda: "joined" in b.adapter.socket_rooms(b1))
    assert "joined" in a.adapter.socket_rooms(a1)
    await b.adapter.del_sockets(ALL, ["room"])
    await a.fake.until(lambda: "room" not in a.adapter.rooms)
    await c.adapter.disconnect_sockets(BroadcastOptions(rooms("joined")), close=False)
    await a.fake.until(lambda: a.fake.disconnected == [(a1, False)])
    await b.fake.until(lambda: b.fake.disconnected == [(b1, False)])

    # server-side events, with and without acks
    b.fake.server_answers["ping"] = "b"
    c.fake.server_answers["ping"] = {"c": b"\x02"}
    await a.adapter.server_side_emit(["hello", 1])
    await c.fake.until(lambda: c.fake.server_events == [["hello", 1]])
    await b.fake.until(lambda: b.fake.server_events == [["hello", 1]])
    # the classic format answers in JSON, where bytes become what JSON.stringify makes of a
    # Buffer (as in JS); the sharded one switches to msgpack
    c_answer = {"c": {"type": "Buffer", "data": [2]} if fmt == "classic" else b"\x02"}
    answers = await a.adapter.server_side_emit_with_ack(["ping"])
    assert sorted(answers, key=repr) == sorted(["b", c_answer], key=repr)
    assert a.fake.server_events == []


@pytest.mark.parametrize("fmt", FORMATS)
async def test_broadcast_with_acks(nodes: Nodes, fmt: str) -> None:
    a, b = await nodes.start(fmt), await nodes.start(fmt)
    b1 = b.fake.connect("b1" * 10)
    b2 = b.fake.connect("b2" * 10)
    a1 = a.fake.connect("a1" * 10)
    b.fake.ack_answers.update({b1: ["x", "ignored"], b2: [b"\x03"]})
    counts: list[int] = []
    acks: list[Any] = []
    remote = RemoteAcks(counts.append, acks.append)
    local = a.adapter.broadcast_with_ack(
        Packet(PacketType.EVENT, "/", ["q"], 1),
        BroadcastOptions(flags=BroadcastFlags(timeout=2)),
        a.fake.ack_registrar(lambda id, args: None, set()),
        remote,
    )
    assert local == 1
    await b.fake.until(lambda: len(acks) == 2)
    assert counts == [2]
    assert sorted(acks, key=repr) == ["x", b"\x03"]
    assert a.fake.events(a1) == b.fake.events(b1) == [["q"]]
    a.adapter.release_acks(remote)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_python_emitter(nodes: Nodes, fmt: str, redis_url: str) -> None:
    a, b = await nodes.start(fmt, "/chat"), await nodes.start(fmt, "/chat")
    a1 = a.fake.connect("a1" * 10, "r1")
    b1 = b.fake.connect("b1" * 10, "r2")
    client = aioredis.Redis.from_url(redis_url)
    sharded = fmt == "sharded"
    emitter = Emitter(client, key=nodes.prefix, sharded=sharded).of("chat")
    await emitter.emit("all", {"bin": b"\x00"})
    await emitter.to("r1").emit("r1-only")
    await emitter.except_("r1").volatile.emit("not-r1")
    await b.fake.until(lambda: len(b.fake.events(b1)) == 2)
    assert a.fake.events(a1) == [["all", {"bin": b"\x00"}], ["r1-only"]]
    assert b.fake.events(b1) == [["all", {"bin": b"\x00"}], ["not-r1"]]

    sync = SyncEmitter(redis_url, key=nodes.prefix, nsp="/chat", sharded=sharded)
    try:
        await asyncio.to_thread(sync.in_("r2").sockets_join, "joined")
        await b.fake.until(lambda: "joined" in b.adapter.socket_rooms(b1))
        await asyncio.to_thread(sync.server_side_emit, "reload", 7)
        await a.fake.until(lambda: a.fake.server_events == [["reload", 7]])
        await b.fake.until(lambda: b.fake.server_events == [["reload", 7]])
        await asyncio.to_thread(sync.to("joined").sockets_leave, ["r2"])
        await b.fake.until(lambda: "r2" not in b.adapter.rooms)
        await asyncio.to_thread(sync.except_("joined").disconnect_sockets, True)
        await a.fake.until(lambda: a.fake.disconnected == [(a1, True)])
        assert b.fake.disconnected == []
    finally:
        sync.close()
        await client.aclose()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_time_out_with_partial_results(
    nodes: Nodes, fmt: str, redis_url: str
) -> None:
    a = await nodes.start(fmt, requests_timeout=0.3)
    b = await nodes.start(fmt)
    a1 = a.fake.connect("a1" * 10)
    b1 = b.fake.connect("b1" * 10)
    b.fake.server_answers["ping"] = "pong"
    # a third "node" that subscribes like one but never answers
    mute = aioredis.Redis.from_url(redis_url)
    pubsub = mute.pubsub()
    adapter = a.adapter
    if isinstance(adapter, RedisAdapter):
        await pubsub.subscribe(adapter.request_channel)
    else:
        assert isinstance(adapter, ShardedRedisAdapter)
        await pubsub.ssubscribe(adapter.channel)
    try:
        assert await adapter.server_count() == 3
        with pytest.raises(AdapterTimeout, match="only 1 responses received out of 2") as info:
            await adapter.fetch_sockets(ALL)
        assert sorted(s.id for s in info.value.responses) == [a1, b1]
        with pytest.raises(AdapterTimeout) as info:
            await adapter.server_side_emit_with_ack(["ping"])
        assert info.value.responses == ["pong"]
        # the mute node stops: it is not counted any more, requests complete again
        await pubsub.aclose()
        assert await adapter.server_count() == 2
        assert {s.id for s in await adapter.fetch_sockets(ALL)} == {a1, b1}
        # and a node that closes is forgotten the same way
        await b.adapter.close()
        assert await adapter.server_count() == 1
        assert await adapter.server_side_emit_with_ack(["ping"]) == []
    finally:
        await mute.aclose()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_garbage_on_the_channels_is_dropped(
    nodes: Nodes, fmt: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "socketeer.adapters")
    a, b = await nodes.start(fmt), await nodes.start(fmt)
    b1 = b.fake.connect("b1" * 10, "room")
    adapter = b.adapter
    raw = aioredis.Redis.from_url(redis_url)
    garbage = [
        b"",
        b"{",
        b"{}",
        b"\xc1",
        b'{"type": 3, "uid": "x", "nsp": "/", "data": {"packet": "x"}}',
        bytes.fromhex("93a178c0c0"),  # [uid, nil, nil]
        b'{"__class__": "os.system", "args": ["echo pwned"]}',
        b"[" * 10_000,
    ]
    try:
        if isinstance(adapter, RedisAdapter):
            channels = [
                adapter.channel,
                adapter.channel + "room#",
                adapter.request_channel,
                adapter.response_channel,
                adapter.specific_response_channel,
            ]
            for channel in channels:
                for payload in garbage:
                    await raw.publish(channel, payload)
        else:
            assert isinstance(adapter, ShardedRedisAdapter)
            for channel in (adapter.channel, adapter.response_channel, adapter.channel + "room#"):
                for payload in garbage:
                    await raw.execute_command("SPUBLISH", channel, payload)
        a.adapter.broadcast(event("after"), ALL)
        await b.fake.until(lambda: b.fake.events(b1) == [["after"]])
    finally:
        await raw.aclose()
    assert "dropped" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_one_subscription_per_namespace_and_glob_names(nodes: Nodes, redis_url: str) -> None:
    # NUMSUB counts subscriptions: each node subscribes once per namespace, whatever the
    # number of namespaces; glob characters in a namespace are escaped in the pattern
    a = await nodes.start("classic", "/a*b?[c]")
    other = await nodes.start("classic", "/ab")
    other_id = other.fake.connect("o" * 20)
    b = await nodes.start("classic", "/a*b?[c]")
    b1 = b.fake.connect("b1" * 10)
    assert await a.adapter.server_count() == 2
    a.adapter.broadcast(event("x", nsp="/a*b?[c]"), ALL)
    await b.fake.until(lambda: b.fake.events(b1) == [["x"]])
    assert other.fake.events(other_id) == []


# -- resilience -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisProcess:
    """A ``redis-server`` of this test only, started and stopped by PID."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.skip("redis-server is not installed")
        self.process = await asyncio.create_subprocess_exec(
            executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        output: list[bytes] = []
        async with asyncio.timeout(WAIT):
            for _ in range(1000):  # Redis says when it is ready
                line = await self.process.stdout.readline()
                output.append(line)
                if b"Ready to accept connections" in line:
                    break
                if not line:
                    raise AssertionError(b"".join(output).decode())
            else:
                raise AssertionError(b"".join(output).decode())
        self._drain = asyncio.ensure_future(self.process.stdout.read())

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.kill()  # SIGKILL to this process only: a crash, not a shutdown
            await process.wait()
            self._drain.cancel()
            await asyncio.wait([self._drain])


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisProcess]:
    server = RedisProcess(_free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_redis_restart_mid_traffic(
    nodes: Nodes, fmt: str, own_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "socketeer.adapters")
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    a = await nodes.start(fmt, url=url, options=FAST)
    b = await nodes.start(fmt, url=url, options=FAST)
    b1 = b.fake.connect("b1" * 10)
    sent = 0

    def send(count: int) -> None:
        nonlocal sent
        for _ in range(count):
            sent += 1
            a.adapter.broadcast(event("n", sent), ALL)

    send(5)
    await b.fake.until(lambda: len(b.fake.events(b1)) == 5, "before the restart")
    before = len(b.fake.events(b1))

    await own_redis.stop()
    send(3)  # Redis is down: these are lost (pub/sub keeps nothing), and logged
    await own_redis.start()
    assert isinstance(b.adapter, RedisAdapter | ShardedRedisAdapter)
    subscriber = b.factory.link.subscriber
    assert await subscriber.wait_connected(2, WAIT), "the subscriber did not reconnect"
    assert await a.factory.link.subscriber.wait_connected(2, WAIT)

    send(5)
    await b.fake.until(lambda: b.fake.events(b1)[-1:] == [["n", sent]], "after the restart")
    received = [args[1] for args in b.fake.events(b1)]
    after = received[before:]
    assert received[:before] == [1, 2, 3, 4, 5]
    assert after[-5:] == [9, 10, 11, 12, 13]  # every broadcast after the restart arrived
    assert set(after) <= set(range(6, 14))
    assert received == sorted(received)
    assert "the Redis subscriber connection failed" in caplog.text
    assert "reconnected to Redis, subscribed again" in caplog.text
    assert "cannot publish to Redis" in caplog.text
    assert await a.adapter.server_count() == 2


class FreezingProxy:
    """A TCP proxy to Redis whose existing connections can be frozen: they stay open but
    carry nothing more (a silently dead subscriber). New connections work."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen: set[int] = set()
        self._generation = 0
        self._writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen.update(range(self._generation + 1))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._generation += 1
        generation = self._generation
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if generation not in self.frozen:
                        dst.write(data)
                        await dst.drain()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self._writers:
            writer.close()
        with contextlib.suppress(Exception):
            await self.server.wait_closed()


@pytest.mark.parametrize("fmt", FORMATS)
async def test_silently_dead_subscriber_is_replaced(
    nodes: Nodes, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "socketeer.adapters")
    proxy = FreezingProxy(6379)
    await proxy.start()
    try:
        a = await nodes.start(fmt)
        b = await nodes.start(fmt, url=f"redis://127.0.0.1:{proxy.port}/0", options=FAST)
        b1 = b.fake.connect("b1" * 10)
        a.adapter.broadcast(event("n", 1), ALL)
        await b.fake.until(lambda: b.fake.events(b1) == [["n", 1]])

        proxy.freeze()  # b's connections stay open and say nothing
        a.adapter.broadcast(event("n", 2), ALL)  # lost: b's connection is frozen
        subscriber = b.factory.link.subscriber
        assert await subscriber.wait_connected(2, WAIT), "the dead subscriber was not replaced"
        a.adapter.broadcast(event("n", 3), ALL)
        await b.fake.until(lambda: b.fake.events(b1)[-1:] == [["n", 3]])
        assert b.fake.events(b1) == [["n", 1], ["n", 3]]
        assert "no PONG within" in caplog.text
    finally:
        await nodes.stop_all()
        nodes.started.clear()
        await proxy.close()


async def test_adapter_factory_arguments(redis_url: str) -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis"):
        create_adapter(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subscription mode"):
        create_sharded_adapter(redis_url, subscription_mode="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        RedisOptions(command_timeout=0)
    # a client's settings are reused (decode_responses is forced off for our connections)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    factory = create_adapter(client, key="x")
    assert factory.link.client.connection_pool.connection_kwargs["decode_responses"] is False
    await factory.close()
    await client.aclose()


async def test_server_starts_adapters_of_namespaces_made_later(redis_url: str, prefix: str) -> None:
    factory = create_adapter(redis_url, key=prefix)
    io = socketeer.Server(adapter=factory)
    await io.start()  # what ASGIApp does at lifespan startup
    subscriber = factory.link.subscriber
    assert ("channel", f"{prefix}-request#/#") in subscriber.subscriptions
    io.of("/later")
    dynamic = io.of(lambda name, auth: name.startswith("/dyn-"))
    assert ("channel", f"{prefix}-request#/later#") not in subscriber.subscriptions
    # a namespace made later starts before its first connection
    assert await io._namespace_for("/later", {}) is io.of("/later")
    assert await io._namespace_for("/dyn-1", {}) is dynamic.children["/dyn-1"]
    for name in ("/later", "/dyn-1"):
        assert ("channel", f"{prefix}-request#{name}#") in subscriber.subscriptions
    assert await subscriber.wait_synced(WAIT)
    assert await io.of("/dyn-1").adapter.server_count() == 1
    await io.close()
    assert subscriber.subscriptions == frozenset()


# -- the streams adapter ----------------------------------------------------------------------


async def test_streams_adapter_nodes_and_recovery_across_nodes(redis_url: str, prefix: str) -> None:
    from socketeer.adapters.recovery import ConnectionStateRecovery
    from socketeer.adapters.streams import RedisStreamsAdapter, create_streams_adapter

    factories = [
        create_streams_adapter(
            redis_url, stream_name=f"{prefix}-stream", channel_prefix=prefix, block_time=0.5
        )
        for _ in range(2)
    ]
    nodes: list[tuple[RedisStreamsAdapter, FakeNamespace]] = []
    for factory in factories:
        fake = FakeNamespace("/")
        adapter = factory(fake, ENCODE)
        assert isinstance(adapter, RedisStreamsAdapter)
        fake.adapter = adapter
        adapter.enable_recovery(ConnectionStateRecovery(max_disconnection_duration=5))
        await adapter.init()
        nodes.append((adapter, fake))
    (a, fa), (b, fb) = nodes
    raw = aioredis.Redis.from_url(redis_url)
    try:
        assert await a.server_count() == 2
        a1 = fa.connect("a1" * 10, "room")
        b1 = fb.connect("b1" * 10, "room")
        fb.server_answers["ping"] = "pong"
        # broadcasts carry their stream offset, locally and remotely
        a.broadcast(event("hello", b"\x01"), ALL)
        await fb.until(lambda: len(fb.events(b1)) == 1)
        await fa.until(lambda: len(fa.events(a1)) == 1)
        [[_, _, offset]] = fb.events(b1)
        assert fa.events(a1) == [["hello", b"\x01", offset]] == fb.events(b1)
        assert {s.id for s in await a.fetch_sockets(ALL)} == {a1, b1}
        assert await a.server_side_emit_with_ack(["ping"]) == ["pong"]
        await a.add_sockets(BroadcastOptions(rooms("room")), ["joined"])
        await fb.until(lambda: "joined" in b.socket_rooms(b1))

        # a1 drops (on node a) and reconnects to node b: its session and missed packets are
        # in Redis
        await a.persist_session(a1, "pid-1", a.socket_rooms(a1), {"n": 1}, 0)
        a.delete_all(a1)
        b.broadcast(event("missed-1"), BroadcastOptions(rooms("room")))
        b.broadcast(event("not-for-a1"), BroadcastOptions(except_rooms=rooms("joined")))
        b.broadcast(event("missed-2", {"b": b"\x02"}), ALL)
        b.broadcast(event("volatile"), BroadcastOptions(flags=BroadcastFlags(volatile=True)))
        await fb.until(lambda: len(fb.events(b1)) == 4)  # b1 is in "joined" too
        session = await b.restore_session("pid-1", offset)
        assert session is not None
        assert session.sid == a1
        assert session.rooms == {a1, "room", "joined"}
        assert session.data == {"n": 1}
        assert [packet[:-1] for packet in session.missed] == [
            ["missed-1"],
            ["missed-2", {"b": b"\x02"}],
            ["volatile"],
        ]
        assert all(isinstance(packet[-1], str) and "-" in packet[-1] for packet in session.missed)
        # a session is taken once; unknown offsets and pids are refused
        assert await b.restore_session("pid-1", offset) is None
        assert await b.restore_session("nope", offset) is None
        assert await b.restore_session("pid-1", "not-an-offset") is None
    finally:
        for adapter, _ in nodes:
            await adapter.close()
        await raw.delete(f"{prefix}-stream")
        await raw.aclose()
