"""``ClusterAdapter`` over an in-memory broker: the message model end to end, heartbeats,
request/response correlation, timeouts with partial results, and bad messages.

The broker serialises every message as the sharded adapter does (JSON, msgpack with
binary) and delivers it in a later loop iteration, to every node including the sender (as
Redis does), so each test goes through encode -> decode -> checks -> handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

import pytest

from socketeer.adapters import _wire as wire
from socketeer.adapters.base import BroadcastFlags, BroadcastOptions, RemoteAcks
from socketeer.adapters.cluster import ClusterAdapter, ClusterMessage, HeartbeatOptions, MessageType
from socketeer.adapters.redis import encode_sharded
from socketeer.exceptions import AdapterError, AdapterTimeout
from socketeer.socketio.packets import Packet, PacketType

from .helpers import ENCODE, FakeNamespace

FAST = HeartbeatOptions(interval=0.05, timeout=0.3)


class Bus:
    """An in-memory broker; ``cut`` nodes neither send nor receive."""

    def __init__(self) -> None:
        self.nodes: list[BusAdapter] = []
        self.cut: set[str] = set()
        self.published: list[ClusterMessage] = []
        self.changed = asyncio.Event()

    def deliver(self, payload: bytes | str, to: list[BusAdapter], response: bool) -> None:
        raw = payload.encode() if isinstance(payload, str) else payload
        loop = asyncio.get_running_loop()
        for node in to:
            if node.uid not in self.cut:
                loop.call_soon(self._receive, node, wire.decode_json_or_msgpack(raw), response)

    def _receive(self, node: BusAdapter, value: Any, response: bool) -> None:
        node.receive(value, response=response)
        self.changed.set()


class BusAdapter(ClusterAdapter):
    def __init__(self, bus: Bus, **options: Any) -> None:
        self.fake = FakeNamespace("/")
        super().__init__(self.fake, ENCODE, **options)
        self.fake.adapter = self
        self.bus = bus
        bus.nodes.append(self)

    def do_publish(self, message: ClusterMessage) -> Awaitable[str]:
        self.bus.published.append(message)
        if self.uid not in self.bus.cut:
            self.bus.deliver(encode_sharded(message), self.bus.nodes, False)
        return _done("")

    def do_publish_response(self, requester_uid: str, message: ClusterMessage) -> Awaitable[None]:
        self.bus.published.append(message)
        if self.uid not in self.bus.cut:
            to = [node for node in self.bus.nodes if node.uid == requester_uid]
            self.bus.deliver(encode_sharded(message), to, True)
        return _done(None)


async def _done(value: Any) -> Any:
    return value


async def until(bus: Bus, predicate: Any, what: str) -> None:
    """Wait until ``predicate()`` holds, checking at each delivery and at least every
    heartbeat interval (node expiry runs on timers, not deliveries); 5 s at most."""
    try:
        async with asyncio.timeout(5):
            while not predicate():
                bus.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FAST.interval):
                        await bus.changed.wait()
    except TimeoutError:
        raise AssertionError(f"{what}: not within 5 s") from None


async def cluster(count: int, **options: Any) -> tuple[Bus, list[BusAdapter]]:
    bus = Bus()
    nodes = [BusAdapter(bus, **options) for _ in range(count)]
    for node in nodes:
        await node.init()
    return bus, nodes


def event(*data: Any, ack_id: int | None = None) -> Packet:
    return Packet(PacketType.EVENT, "/", list(data), ack_id)


ALL = BroadcastOptions()


async def test_heartbeats_count_nodes_and_forget_them() -> None:
    bus, (a, b, c) = await cluster(3, heartbeat=FAST)
    await until(bus, lambda: all(len(n.nodes) == 2 for n in (a, b, c)), "every node known")
    assert await a.server_count() == 3
    # a node that says goodbye is forgotten at once
    await c.close()
    await until(bus, lambda: a.nodes == {b.uid} and b.nodes == {a.uid}, "c forgotten")
    # a node that goes silent is forgotten after the heartbeat timeout
    bus.cut.add(b.uid)
    await until(bus, lambda: a.nodes == frozenset(), "b forgotten")
    assert await a.server_count() == 1
    # idle nodes publish heartbeats
    kinds = {m.type for m in bus.published if m.uid == a.uid}
    assert {MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT} <= kinds
    # and a node that comes back is counted again
    bus.cut.clear()
    await until(bus, lambda: a.nodes == {b.uid}, "b back")
    for node in (a, b):
        await node.close()


async def test_broadcasts_rooms_except_and_local() -> None:
    _, (a, b) = await cluster(2, heartbeat=None)
    a.fake.connect("a1", "r1")
    b1 = b.fake.connect("b1", "r1")
    b2 = b.fake.connect("b2", "r2")
    b3 = b.fake.connect("b3", "r1", "r2")

    a.broadcast(event("all", b"\x00"), ALL)
    a.broadcast(event("r1"), BroadcastOptions(frozenset({"r1"}), frozenset({"r2"})))
    a.broadcast(event("local"), BroadcastOptions(flags=BroadcastFlags(local=True)))
    a.broadcast(event("end"), ALL)
    await b.fake.until(lambda: all(b.fake.events(s)[-1:] == [["end"]] for s in (b1, b2, b3)))
    assert b.fake.events(b1) == [["all", b"\x00"], ["r1"], ["end"]]
    assert b.fake.events(b2) == [["all", b"\x00"], ["end"]]
    assert b.fake.events(b3) == [["all", b"\x00"], ["end"]]
    assert a.fake.events("a1") == [["all", b"\x00"], ["r1"], ["local"], ["end"]]


async def test_join_leave_disconnect_fetch_everywhere() -> None:
    bus, (a, b) = await cluster(2, heartbeat=FAST)
    await until(bus, lambda: a.nodes == {b.uid}, "b known")
    a1 = a.fake.connect("a1", "r1", data={"x": 1})
    b1 = b.fake.connect("b1", "r1")
    b2 = b.fake.connect("b2")

    await a.add_sockets(BroadcastOptions(frozenset({"r1"})), ["joined"])
    assert a.socket_rooms(a1) == {a1, "r1", "joined"}  # at once, here
    await until(bus, lambda: "joined" in b.socket_rooms(b1), "b1 joined")
    found = await a.fetch_sockets(BroadcastOptions(frozenset({"joined"})))
    assert sorted((s.id, sorted(s.rooms)) for s in found) == [
        (a1, [a1, "joined", "r1"]),
        (b1, [b1, "joined", "r1"]),
    ]
    assert {s.id: s.data for s in found}[a1] == {"x": 1}
    assert await b.all_rooms() == {a1, b1, b2, "r1", "joined"}

    await b.del_sockets(ALL, ["r1"])
    await until(bus, lambda: "r1" not in a.rooms, "r1 left on a")
    await a.disconnect_sockets(BroadcastOptions(except_rooms=frozenset({"joined"})), close=True)
    await b.fake.until(lambda: b.fake.disconnected == [(b2, True)])
    assert await a.fetch_sockets(BroadcastOptions(flags=BroadcastFlags(local=True))) == [
        a.fake.describe(a1)
    ]


async def test_server_side_emit_with_and_without_acks() -> None:
    bus, (a, b, c) = await cluster(3, heartbeat=FAST, requests_timeout=0.3)
    await until(bus, lambda: len(a.nodes) == 2, "nodes known")
    b.fake.server_answers["ping"] = "pong-b"
    c.fake.server_answers["ping"] = {"from": "c", "bin": b"\x01"}

    await a.server_side_emit(["hello", 1])
    await until(bus, lambda: b.fake.server_events and c.fake.server_events, "delivered")
    assert b.fake.server_events == c.fake.server_events == [["hello", 1]]
    assert a.fake.server_events == []  # never to itself

    answers = await a.server_side_emit_with_ack(["ping", "x"])
    assert sorted(answers, key=repr) == sorted(["pong-b", {"from": "c", "bin": b"\x01"}], key=repr)

    # a node that does not answer: partial results, a clear error
    c.fake.server_answers.clear()
    with pytest.raises(AdapterTimeout, match="missing 1 responses") as info:
        await a.server_side_emit_with_ack(["ping"])
    assert info.value.responses == ["pong-b"]
    assert isinstance(info.value, TimeoutError)
    assert len(a.requests) == 0

    # a node forgotten while a request waits for it: the request completes without it
    bus.cut.add(c.uid)
    a.requests_timeout = 5.0
    started = asyncio.get_running_loop().time()
    assert await a.server_side_emit_with_ack(["ping"]) == ["pong-b"]
    assert asyncio.get_running_loop().time() - started < 2


async def test_fetch_sockets_times_out_with_partial_results_without_heartbeats() -> None:
    class Counted(BusAdapter):
        async def server_count(self) -> int:
            return 3  # one node more than there is

    bus = Bus()
    a = Counted(bus, heartbeat=None, requests_timeout=0.2)
    b = Counted(bus, heartbeat=None)
    a1 = a.fake.connect("a1")
    b1 = b.fake.connect("b1")
    with pytest.raises(AdapterTimeout, match="only 1 responses received out of 2") as info:
        await a.fetch_sockets(ALL)
    assert sorted(s.id for s in info.value.responses) == [a1, b1]


async def test_broadcast_with_acks_across_nodes() -> None:
    bus, (a, b) = await cluster(2, heartbeat=None)
    a1 = a.fake.connect("a1")
    b1 = b.fake.connect("b1")
    b2 = b.fake.connect("b2")
    b.fake.ack_answers[b1] = ["one", "ignored"]
    b.fake.ack_answers[b2] = [{"bin": b"\x02"}]
    counts: list[int] = []
    acks: list[Any] = []
    remote = RemoteAcks(counts.append, acks.append)
    local = a.broadcast_with_ack(
        event("q", 1, ack_id=7),
        BroadcastOptions(flags=BroadcastFlags(timeout=1.0)),
        a.fake.ack_registrar(lambda id, args: None, set()),
        remote,
    )
    assert local == 1
    await until(bus, lambda: len(acks) == 2, "the remote acks")
    assert counts == [2]
    assert sorted(acks, key=repr) == sorted(["one", {"bin": b"\x02"}], key=repr)
    # the remote clients got the event with their node's own ack id
    assert b.fake.events(b1) == [["q", 1]]
    assert [p.id for s, p in b.fake.received] == [1, 1]
    assert a.fake.events(a1) == [["q", 1]]
    a.release_acks(remote)
    assert remote.released
    assert not a._ack_requests


async def test_bad_messages_are_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    _, (a, b) = await cluster(2, heartbeat=None)
    b1 = b.fake.connect("b1")
    caplog.set_level(logging.DEBUG, "socketeer.adapters")
    for garbage in (
        [1, 2, 3],
        {"type": 3, "uid": "x", "nsp": "/", "data": {"packet": {"type": 2, "data": "nope"}}},
        {"type": 42},
        {
            "type": 3,
            "uid": "x",
            "nsp": "/",
            "data": {"packet": {"type": 2, "data": ["__class__"]}, "opts": {"rooms": "r"}},
        },
    ):
        b.receive(garbage)
    assert "dropped 1 invalid message(s)" in caplog.text
    # a response to nothing, a message for another namespace, and our own echo: ignored
    b.receive({"type": 8, "uid": "x", "nsp": "/", "data": {"requestId": "nope", "sockets": []}})
    b.receive(
        {"type": 3, "uid": "x", "nsp": "/other", "data": {"packet": {"type": 2, "data": ["x"]}}}
    )
    b.receive({"type": 3, "uid": b.uid, "nsp": "/", "data": {"packet": {"type": 2, "data": ["x"]}}})

    # an error while handling a message is logged, never raised into the broker
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    b.fake.send_encoded = fail  # type: ignore[method-assign]
    packet = {"type": 2, "data": ["x"]}
    b.receive({"type": 3, "uid": "x", "nsp": "/", "data": {"packet": packet, "opts": {}}})
    del b.fake.send_encoded
    assert "error while handling BROADCAST" in caplog.text
    a.broadcast(event("still-working"), ALL)
    await b.fake.until(lambda: b.fake.events(b1) == [["still-working"]])


async def test_closed_adapter_fails_pending_requests() -> None:
    bus, (a, b) = await cluster(2, heartbeat=FAST)
    await until(bus, lambda: a.nodes == {b.uid}, "b known")
    bus.cut.add(b.uid)
    pending = asyncio.ensure_future(a.fetch_sockets(ALL))
    await until(bus, lambda: len(a.requests) == 1, "request sent")
    await a.close()
    with pytest.raises(AdapterError, match="closed"):
        await pending
    await b.close()


def test_heartbeat_options_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        HeartbeatOptions(interval=2, timeout=1)
    with pytest.raises(ValueError, match="requests_timeout"):
        BusAdapter(Bus(), requests_timeout=0)
