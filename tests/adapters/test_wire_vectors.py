"""The wire formats against golden vectors made by the JS packages themselves.

``tests/vectors/cluster_wire.json`` holds what ``@socket.io/redis-adapter`` 8.3.0 (sharded
adapter on socket.io-adapter 2.5.x's ``ClusterAdapter``, and the classic adapter) and
``@socket.io/redis-emitter`` 5.1.0 publish for a fixed series of operations
(``tests/interop/js/cluster_vectors.mjs``; ``tests/interop/test_redis_cluster.py`` checks
that the file is what the packages produce). Here the Python adapters and emitter do the
same operations, with the same ids, and must publish byte-identical messages on the same
channels; and the JS messages must decode to the expected typed messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from socketeer._types import SocketId
from socketeer.adapters import _wire as wire
from socketeer.adapters.base import BroadcastFlags, BroadcastOptions, RemoteAcks
from socketeer.adapters.cluster import (
    Broadcast,
    BroadcastAck,
    BroadcastClientCount,
    ClusterMessage,
    DisconnectSockets,
    FetchSockets,
    FetchSocketsResponse,
    MessageType,
    ServerSideEmit,
    ServerSideEmitResponse,
    SocketsJoin,
    SocketsLeave,
)
from socketeer.adapters.emitter import EmitTarget, SyncEmitter
from socketeer.adapters.recovery import ConnectionStateRecovery
from socketeer.adapters.redis import RedisAdapter, ShardedRedisAdapter, encode_sharded
from socketeer.adapters.streams import (
    RedisStreamsAdapter,
    create_streams_adapter,
    decode_entry,
    js_hash_code,
    stream_name_for,
)
from socketeer.exceptions import AdapterTimeout, LocalProtocolError, RemoteProtocolError
from socketeer.socketio.packets import Packet, PacketType

from .helpers import ENCODE, FakeNamespace, RecordingLink, payload_of, vector, vectors

SOCKET_A = "AAAAAAAAAAAAAAAAAAAA"
SHARDED_UID = "070a0d101316191c"
CLASSIC_UID = "jmpsvy"


def opts(
    rooms: tuple[str, ...] = (),
    except_: tuple[str, ...] = (),
    *,
    volatile: bool = False,
    timeout: float | None = None,
) -> BroadcastOptions:
    return BroadcastOptions(
        frozenset(rooms), frozenset(except_), BroadcastFlags(volatile=volatile, timeout=timeout)
    )


def event(data: list[Any], ack_id: int | None = None, nsp: str = "/") -> Packet:
    return Packet(PacketType.EVENT, nsp, data, ack_id)


def as_published(item: dict[str, Any]) -> tuple[str, str, bytes | str]:
    return item["command"], item["channel"], payload_of(item)


def js_handshake(group: str) -> dict[str, Any]:
    text = vector(group, "fetch_sockets_response")["text"]
    response = json.loads(text)
    sockets = response["data"]["sockets"] if group == "sharded" else response["sockets"]
    handshake: dict[str, Any] = sockets[0]["handshake"]
    return handshake


def sink() -> RemoteAcks:
    return RemoteAcks(lambda count: None, lambda value: None)


async def test_sharded_adapter_publishes_what_js_publishes(fixed_ids: Callable[..., None]) -> None:
    fixed_ids(hex=[SHARDED_UID, "0e1114171a1d2023", "15181b1e2124272a", "1c1f2225282b2e31"])
    fake = FakeNamespace("/")
    link = RecordingLink(numsub=3)
    adapter = ShardedRedisAdapter(fake, ENCODE, link, channel_prefix="sio")  # type: ignore[arg-type]
    fake.adapter = adapter
    await adapter.init()
    a = fake.connect(SOCKET_A, "room1", data={"user": "a"})
    fake.handshakes[a] = js_handshake("sharded")
    adapter.requests_timeout = 0.05

    adapter.broadcast(event(["ev", 1, "two", {"x": None}]), opts())
    adapter.broadcast(event(["ev"]), opts(("room1",)))
    adapter.broadcast(event(["ev", True]), opts(("r1", "r2"), (SOCKET_A,), volatile=True))
    adapter.broadcast(event(["ev"]), opts((SOCKET_A,)))
    adapter.broadcast(event(["bin", b"\x01\x02\x03", {"b": b""}]), opts())
    adapter.broadcast_with_ack(
        event(["q", 1], ack_id=9), opts(timeout=1.5), fake.ack_registrar(print, set()), sink()
    )
    await adapter.add_sockets(opts(("r1",), ("r2",)), ["r3", "r4"])
    await adapter.del_sockets(opts(), ["r3"])
    await adapter.disconnect_sockets(opts(("r1",)), close=True)
    with pytest.raises(AdapterTimeout, match="only 0 responses received out of 2") as info:
        await adapter.fetch_sockets(opts(("room1",), timeout=0.01))
    assert [s.id for s in info.value.responses] == [a]  # the local part
    await adapter.server_side_emit(["hello", 1, "x"])
    with pytest.raises(AdapterTimeout):
        await adapter.server_side_emit_with_ack(["ping", 2])

    # requests of another node, taken from the JS vectors' answers
    other = "ffffffffffffffff"
    fake.server_answers["ping"] = {"answer": "ping"}
    fake.ack_answers[a] = ["pong", "ignored"]
    incoming: list[dict[str, Any]] = [
        {
            "uid": other,
            "nsp": "/",
            "type": 7,
            "data": {"opts": {"rooms": ["room1"], "except": []}, "requestId": "r-fetch"},
        },
        {
            "uid": other,
            "nsp": "/",
            "type": 9,
            "data": {"requestId": "r-sse", "packet": ["ping", 3]},
        },
        {
            "uid": other,
            "nsp": "/",
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["q"]},
                "requestId": "r-ack",
                "opts": {"rooms": ["room1"], "except": [], "flags": {}},
            },
        },
    ]
    handler = link.subscriber.handlers[("shard", "sio#/#")]
    for message in incoming:
        handler("sio#/#", json.dumps(message).encode())
    await link.publisher.until_sent(16)

    expected = [as_published(item) for item in vectors()["sharded"]]
    assert link.take() == expected


async def test_classic_adapter_publishes_what_js_publishes(fixed_ids: Callable[..., None]) -> None:
    fixed_ids(uid2=[CLASSIC_UID, "qtwz25", "x0369A", "47-BEH", "_CFILO"])
    fake = FakeNamespace("/chat")
    link = RecordingLink(numsub=3)
    adapter = RedisAdapter(fake, ENCODE, link, key="sio")  # type: ignore[arg-type]
    fake.adapter = adapter
    await adapter.init()
    a = fake.connect(SOCKET_A, "room1", data={"user": "a"})
    fake.handshakes[a] = js_handshake("classic")
    adapter.requests_timeout = 0.05

    adapter.broadcast(event(["ev", 1, "two", {"x": None}], nsp="/chat"), opts())
    adapter.broadcast(event(["ev"], nsp="/chat"), opts(("room1",), (SOCKET_A,)))
    adapter.broadcast(
        event(["bin", b"\x01\x02\x03"], nsp="/chat"), opts(("r1", "r2"), volatile=True)
    )
    adapter.broadcast_with_ack(
        event(["q", 1], 3, "/chat"), opts(timeout=1.5), fake.ack_registrar(print, set()), sink()
    )
    await adapter.add_sockets(opts(("r1",), ("r2",)), ["r3", "r4"])
    await adapter.del_sockets(opts(), ["r3"])
    await adapter.disconnect_sockets(opts(("r1",)), close=True)
    for call in (
        adapter.fetch_sockets(opts(("room1",))),
        adapter.all_rooms(),
        adapter.server_side_emit(["hello", 1, "x"]),
        adapter.server_side_emit_with_ack(["ping", 2]),
    ):
        try:
            await call
        except AdapterTimeout:
            pass

    fake.server_answers["ping"] = {"answer": "ping"}
    fake.ack_answers[a] = ["pong", "ignored"]
    handler = link.subscriber.handlers[("channel", "sio-request#/chat#")]
    for request in (
        {
            "uid": "other1",
            "requestId": "rqfetc",
            "type": 5,
            "opts": {"rooms": ["room1"], "except": []},
        },
        {"uid": "other1", "requestId": "rqroom", "type": 1},
        {"uid": "other1", "requestId": "rqssem", "type": 6, "data": ["ping", 3]},
    ):
        handler("sio-request#/chat#", json.dumps(request).encode())
    ack_request = wire.msgpack().encode(
        {
            "uid": "other1",
            "requestId": "rqback",
            "type": 7,
            "packet": {"type": 2, "data": ["q"], "nsp": "/chat"},
            "opts": {"rooms": ["room1"], "except": [], "flags": {}},
        }
    )
    handler("sio-request#/chat#", ack_request)
    await link.publisher.until_sent(16)

    expected = [as_published(item) for item in vectors()["classic"]]
    assert link.take() == expected


def test_emitter_publishes_what_the_js_emitter_publishes() -> None:
    sent: list[tuple[Any, ...]] = []

    class FakeSyncRedis:
        def execute_command(self, *command: Any) -> int:
            sent.append(command)
            return 1

    emitter = SyncEmitter(FakeSyncRedis(), key="sio")  # type: ignore[arg-type]
    emitter.emit("news", 1, {"a": [True, None]})
    emitter.to("room1").emit("news")
    emitter.to(["r1", "r2"]).except_("r3").volatile.emit("news", "x")
    emitter.of("/admin").compress(False).emit("bin", b"\x00\xff")
    emitter.in_("r1").sockets_join(["r2", "r3"])
    emitter.except_("r1").sockets_leave("r2")
    emitter.in_("r1").disconnect_sockets(True)
    emitter.of("admin").server_side_emit("reload", {"x": 1})
    assert sent == [as_published(item) for item in vectors()["emitter"]]

    with pytest.raises(LocalProtocolError, match="reserved"):
        emitter.emit("disconnect")
    with pytest.raises(LocalProtocolError, match="reserved"):
        emitter.server_side_emit("connection")
    with pytest.raises(LocalProtocolError, match="not supported"):
        emitter.emit_with_ack("x")


async def test_streams_adapter_publishes_what_js_publishes(fixed_ids: Callable[..., None]) -> None:
    fixed_ids(hex=["46494c4f5255585b", "4d505356595c5f62"])
    factory = create_streams_adapter(
        "redis://127.0.0.1:1", stream_name="sio-stream", channel_prefix="sio"
    )
    link = RecordingLink(numsub=1)
    factory.link = link  # type: ignore[assignment]
    fake = FakeNamespace("/")
    adapter = factory(fake, ENCODE)
    assert isinstance(adapter, RedisStreamsAdapter)
    fake.adapter = adapter
    adapter.enable_recovery(ConnectionStateRecovery(max_disconnection_duration=120))
    a = fake.connect(SOCKET_A, "room1", data={"user": "a"})

    adapter.broadcast(event(["ev", 1, {"x": None}]), opts(("room1",)))
    adapter.broadcast(event(["bin", b"\x01\x02\x03"]), opts((), (SOCKET_A,), volatile=True))
    await adapter.add_sockets(opts(("r1",), ("r2",)), ["r3"])
    await adapter.disconnect_sockets(opts(("r1",)), close=False)
    adapter.broadcast_with_ack(
        event(["q", b"\x09"], ack_id=4),
        opts(timeout=1.5),
        fake.ack_registrar(print, set()),
        sink(),
    )
    await adapter.server_side_emit(["hello", 1])
    await adapter.persist_session(a, "pid-1", adapter.socket_rooms(a), {"user": "a"}, 0)

    expected: list[tuple[Any, ...]] = []
    for item in vectors()["streams"]:
        if item["command"] == "XADD":
            trim = item["trim"]
            fields = [part for pair in item["fields"].items() for part in pair]
            expected.append(
                (
                    "XADD",
                    item["stream"],
                    trim["strategy"],
                    trim["strategyModifier"],
                    trim["threshold"],
                    "*",
                    *fields,
                )
            )
        elif item["command"] == "SET":
            expected.append(("SET", item["key"], item["value"], "PX", item["px"]))
        else:
            expected.append(as_published(item))
    assert link.take() == expected
    # with recovery on, local sockets get the broadcast once it has its offset, appended
    await fake.until(lambda: len(fake.events(a)) == 2)
    assert fake.events(a) == [["ev", 1, {"x": None}, "1700000000000-1"], ["q", b"\x09"]]


@pytest.mark.parametrize("item", vectors()["streams"], ids=lambda item: item["name"])
def test_streams_vectors_decode(item: dict[str, Any]) -> None:
    if item["command"] == "XADD":
        message = ClusterMessage.from_wire(decode_entry(item["fields"]))
        assert message.uid == "46494c4f5255585b"
        if item["name"] == "broadcast_binary":
            assert message.body == Broadcast(
                ["bin", b"\x01\x02\x03"], opts((), (SOCKET_A,), volatile=True)
            )
    elif item["command"] == "PUBLISH":
        message = ClusterMessage.from_wire(wire.msgpack().decode(bytes.fromhex(item["hex"])))
        assert message.type in (MessageType.BROADCAST, MessageType.SERVER_SIDE_EMIT)


@pytest.mark.parametrize(
    ("nsp", "code", "index"),
    # from @socket.io/redis-streams-adapter's hashCode(); JS % keeps the sign
    [
        ("/", 47, 5),
        ("/admin", 1438238848, 4),
        ("/notifications", -1014064871, -1),
        ("/\u00e9\U0001f600", 3396989, 1),
        ("/\U0001f600\U0001f600\U0001f600", 1395446488, 2),
        ("", 0, 0),
    ],
)
def test_stream_of_a_namespace(nsp: str, code: int, index: int) -> None:
    assert js_hash_code(nsp) == code
    assert stream_name_for(nsp, "s", 7) == f"s-{index}"
    assert stream_name_for(nsp, "s", 1) == "s"


def test_emitters_are_immutable() -> None:
    class Client:
        def execute_command(self, *command: Any) -> int:
            return 0

    base = SyncEmitter(Client(), key="k")  # type: ignore[arg-type]
    room = base.to("r").except_("x").volatile.compress(False).of("/n")
    assert base.target == EmitTarget(key="k")
    assert room.target == EmitTarget(key="k", nsp="/n")  # of() resets the targets
    assert base.to("r").in_("s").target.rooms == {"r", "s"}
    with pytest.raises(AttributeError):
        base.target.rooms = frozenset({"x"})  # type: ignore[misc]


# -- decoding ---------------------------------------------------------------------------------

EXPECTED_SHARDED: dict[str, tuple[MessageType, Any]] = {
    "broadcast": (MessageType.BROADCAST, Broadcast(["ev", 1, "two", {"x": None}], opts())),
    "broadcast_room": (MessageType.BROADCAST, Broadcast(["ev"], opts(("room1",)))),
    "broadcast_rooms_except": (
        MessageType.BROADCAST,
        Broadcast(["ev", True], opts(("r1", "r2"), (SOCKET_A,), volatile=True)),
    ),
    "broadcast_socket_id": (MessageType.BROADCAST, Broadcast(["ev"], opts((SOCKET_A,)))),
    "broadcast_binary": (
        MessageType.BROADCAST,
        Broadcast(["bin", b"\x01\x02\x03", {"b": b""}], opts()),
    ),
    "broadcast_with_ack": (
        MessageType.BROADCAST,
        Broadcast(["q", 1], opts(timeout=1.5), "0e1114171a1d2023"),
    ),
    "sockets_join": (MessageType.SOCKETS_JOIN, SocketsJoin(opts(("r1",), ("r2",)), ("r3", "r4"))),
    "sockets_leave": (MessageType.SOCKETS_LEAVE, SocketsLeave(opts(), ("r3",))),
    "disconnect_sockets": (MessageType.DISCONNECT_SOCKETS, DisconnectSockets(opts(("r1",)), True)),
    "fetch_sockets": (
        MessageType.FETCH_SOCKETS,
        FetchSockets(opts(("room1",), timeout=0.01), "15181b1e2124272a"),
    ),
    "server_side_emit": (MessageType.SERVER_SIDE_EMIT, ServerSideEmit(["hello", 1, "x"])),
    "server_side_emit_with_ack": (
        MessageType.SERVER_SIDE_EMIT,
        ServerSideEmit(["ping", 2], "1c1f2225282b2e31"),
    ),
    "server_side_emit_response": (
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        ServerSideEmitResponse("r-sse", {"answer": "ping"}),
    ),
    "broadcast_client_count": (
        MessageType.BROADCAST_CLIENT_COUNT,
        BroadcastClientCount("r-ack", 1),
    ),
    "broadcast_ack": (MessageType.BROADCAST_ACK, BroadcastAck("r-ack", "pong")),
}


@pytest.mark.parametrize("item", vectors()["sharded"], ids=lambda item: item["name"])
def test_sharded_vectors_decode_and_encode_back(item: dict[str, Any]) -> None:
    payload = payload_of(item)
    raw = payload.encode() if isinstance(payload, str) else payload
    message = ClusterMessage.from_wire(wire.decode_json_or_msgpack(raw))
    assert message.uid == SHARDED_UID
    assert message.nsp == "/"
    if item["name"] == "fetch_sockets_response":
        assert message.type is MessageType.FETCH_SOCKETS_RESPONSE
        assert isinstance(message.body, FetchSocketsResponse)
        (socket,) = message.body.sockets
        assert socket.id == SOCKET_A
        assert socket.rooms == {SOCKET_A, "room1"}
        assert socket.data == {"user": "a"}
        assert socket.handshake["auth"] == {"token": "t"}
    else:
        assert (message.type, message.body) == EXPECTED_SHARDED[item["name"]]
    assert encode_sharded(message) == payload  # and back, byte for byte


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([], "must be a map"),
        ({"type": 99, "uid": "x", "nsp": "/"}, "unknown cluster message type"),
        ({"type": "3", "uid": "x", "nsp": "/"}, "data must be a map"),
        ({"type": 3, "uid": 1, "nsp": "/", "data": {}}, "uid must be a string"),
        ({"type": 3, "uid": "x", "data": {"packet": {"type": 1}}}, "must be an EVENT"),
        ({"type": 3, "uid": "x", "data": {"packet": {"type": 2, "data": []}}}, "event name"),
        (
            {"type": 3, "uid": "x", "data": {"packet": {"type": 2, "data": ["disconnect"]}}},
            "reserved",
        ),
        (
            {"type": 3, "uid": "x", "data": {"packet": {"type": 2, "data": ["e"]}, "opts": []}},
            "opts",
        ),
        (
            {
                "type": 3,
                "uid": "x",
                "data": {"packet": {"type": 2, "data": ["e"]}, "opts": {"rooms": [{}]}},
            },
            "room",
        ),
        ({"type": 9, "uid": "x", "data": {"packet": ["connection", 1]}}, "reserved"),
        ({"type": 8, "uid": "x", "data": {"sockets": []}}, "needs a requestId"),
        ({"type": 8, "uid": "x", "data": {"requestId": 1}}, "requestId must be a string"),
        ({"type": 8, "uid": "x", "data": {"requestId": "r", "sockets": [{"id": 5}]}}, "socket id"),
        ({"type": 11, "uid": "x", "data": {"requestId": "r", "clientCount": -1}}, "count"),
    ],
)
def test_invalid_cluster_messages_are_refused(value: Any, error: str) -> None:
    with pytest.raises(RemoteProtocolError, match=error):
        ClusterMessage.from_wire(value)


def test_numeric_rooms_and_missing_fields_read_as_js_would() -> None:
    message = ClusterMessage.from_wire(
        {"type": 4, "data": {"opts": {"rooms": [1, 2.0], "except": None}, "rooms": ["x"]}}
    )
    assert message.uid == "emitter"  # absent uid: an emitter
    assert message.nsp == "/"
    assert message.body == SocketsJoin(opts(("1", "2")), ("x",))


def test_msgpack_decoding_follows_notepack() -> None:
    mp = wire.msgpack()
    # a Date (timestamp ext -1) becomes its toJSON() string; legacy undefined (fixext 1,
    # type 0) is null in arrays and absent in maps
    date = bytes.fromhex("d6ff" + (1_700_000_000).to_bytes(4, "big").hex())
    undefined = bytes.fromhex("d40000")
    packed = bytes.fromhex("93") + date + undefined + bytes.fromhex("81a161") + undefined
    assert mp.decode(packed) == ["2023-11-14T22:13:20.000Z", None, {}]
    with pytest.raises(RemoteProtocolError):
        mp.decode(b"\xc1")  # never used
    with pytest.raises(RemoteProtocolError):
        mp.decode(bytes.fromhex("d40500"))  # an unknown extension
    with pytest.raises(RemoteProtocolError, match="nested"):
        wire.json_loads("[" * 100 + "]" * 100)
    deep = b"\x91" * 100 + b"\x90"
    with pytest.raises(RemoteProtocolError, match="nested"):
        mp.decode(deep)
    assert wire.json_dumps({"b": b"\x01\x02"}) == '{"b":{"type":"Buffer","data":[1,2]}}'


def test_js_ids() -> None:
    ids = {wire.uid2(6) for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 6 and set(i) <= set(wire._UIDCHARS) for i in ids)
    hex_id = wire.random_hex_id()
    assert len(hex_id) == 16
    int(hex_id, 16)


def test_socket_ids_look_like_socket_ids() -> None:
    from socketeer.server._util import new_id

    # the sharded adapter tells socket-id rooms by their length (20)
    assert len(SocketId(new_id())) == 20
