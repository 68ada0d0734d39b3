"""``MsgpackCodec``: socket.io-msgpack-parser 3.0.x compatibility and its checks."""

from __future__ import annotations

import sys
from typing import Any

import msgpack
import pytest

from socketeer.exceptions import LocalProtocolError, RemoteProtocolError
from socketeer.socketio import (
    DEFAULT_MAX_DEPTH,
    MAX_ACK_ID,
    MsgpackCodec,
    MsgpackDecoder,
    MsgpackEncoder,
    Packet,
    PacketType,
)

EVENT = PacketType.EVENT
ACK = PacketType.ACK
CONNECT = PacketType.CONNECT


def pack(obj: Any) -> bytes:
    result: bytes = msgpack.packb(obj)
    return result


def decode(message: Any) -> Packet:
    return MsgpackDecoder().receive(message, 0.0)


def event(data: Any = ("a",), **extra: Any) -> bytes:
    return pack({"type": 2, "nsp": "/", "data": data, **extra})


class TestEncode:
    def test_bytes_inline_and_binary_types_folded(self) -> None:
        encoder = MsgpackEncoder()
        one: Any = bytearray(b"\x01")
        two: Any = memoryview(b"\x02")
        (message,) = encoder.encode(Packet(PacketType.BINARY_EVENT, "/", ["a", one, two]))
        assert msgpack.unpackb(message) == {"type": 2, "nsp": "/", "data": ["a", b"\x01", b"\x02"]}

    def test_tuples_and_floats(self) -> None:
        (message,) = MsgpackEncoder().encode(Packet(ACK, "/", (1.5, (2,)), 4))
        assert msgpack.unpackb(message) == {"type": 3, "nsp": "/", "data": [1.5, [2]], "id": 4}

    @pytest.mark.parametrize(
        "packet",
        [
            Packet(EVENT, "/", ["a", 2**64]),
            Packet(EVENT, "/", ["a", "\ud800"]),
            Packet(EVENT, "/", ["a", {1, 2}]),  # type: ignore[list-item]
            Packet(EVENT, "/", []),
            Packet(EVENT, "/a,b", ["a"]),
        ],
    )
    def test_refused(self, packet: Packet) -> None:
        with pytest.raises(LocalProtocolError):
            MsgpackEncoder().encode(packet)

    def test_the_encoder_survives_a_failure(self) -> None:
        encoder = MsgpackEncoder()
        with pytest.raises(LocalProtocolError):
            encoder.encode(Packet(EVENT, "/", ["a", 2**64]))
        (message,) = encoder.encode(Packet(EVENT, "/", ["b"]))
        assert MsgpackDecoder().receive(message, 0.0) == Packet(EVENT, "/", ["b"])


class TestDecode:
    def test_interface(self) -> None:
        decoder = MsgpackCodec(max_depth=5).decoder()
        assert decoder.max_depth == 5
        assert decoder.deadline is None
        decoder.check_timeout(1e9)
        decoder.reset()
        as_bytearray: Any = bytearray(event())
        as_memoryview: Any = memoryview(event())
        assert decoder.receive(as_bytearray, 0.0) == Packet(EVENT, "/", ["a"])
        assert decoder.receive(as_memoryview, 0.0) == Packet(EVENT, "/", ["a"])

    def test_codec(self) -> None:
        codec = MsgpackCodec()
        assert codec.encoder() is codec.encoder()
        assert codec.decoder() is not codec.decoder()
        assert codec == MsgpackCodec()
        with pytest.raises(ValueError, match="max_depth"):
            MsgpackCodec(max_depth=0)
        with pytest.raises(ValueError, match="max_depth"):
            MsgpackDecoder(max_depth=10_000)

    def test_null_is_a_payload(self) -> None:
        with pytest.raises(RemoteProtocolError, match="CONNECT payload"):
            decode(pack({"type": 0, "nsp": "/", "data": None}))
        assert decode(pack({"type": 0, "nsp": "/", "id": None})) == Packet(CONNECT, "/")

    def test_prototype_names_are_plain_strings(self) -> None:
        message = pack({"type": 2, "nsp": "/__proto__", "data": ["__proto__", {"__class__": 1}]})
        assert decode(message) == Packet(EVENT, "/__proto__", ["__proto__", {"__class__": 1}])

    def test_undefined_and_dates_deep_inside(self) -> None:
        date = msgpack.ExtType(0, (960854400000).to_bytes(8, "big"))
        undefined = msgpack.ExtType(0, b"\x00")
        stamp = msgpack.Timestamp(960854400, 500_000_000)
        data = ["a", [{"d": date, "u": undefined, "t": stamp, "l": [undefined, stamp, date]}]]
        assert decode(event(data)) == Packet(
            EVENT,
            "/",
            [
                "a",
                [
                    {
                        "d": "2000-06-13T00:00:00.000Z",
                        "t": "2000-06-13T00:00:00.500Z",
                        "l": [None, "2000-06-13T00:00:00.500Z", "2000-06-13T00:00:00.000Z"],
                    }
                ],
            ],
        )

    def test_dates_before_1970_and_small_years(self) -> None:
        before = (-1).to_bytes(8, "big", signed=True)
        assert decode(event(["a", msgpack.ExtType(0, before)])).data == [
            "a",
            "1969-12-31T23:59:59.999Z",
        ]
        year_one = msgpack.Timestamp(-62135596800, 0)
        assert decode(event(["a", year_one])).data == ["a", "0001-01-01T00:00:00.000Z"]

    def test_default_depth_is_crossed_at_65(self) -> None:
        def nested(depth: int) -> Any:
            value: Any = 1
            for _ in range(depth - 1):
                value = [value]
            return ["a", value]

        assert decode(event(nested(DEFAULT_MAX_DEPTH))) is not None
        with pytest.raises(RemoteProtocolError, match="deeper than 64"):
            decode(event(nested(DEFAULT_MAX_DEPTH + 1)))

    def test_depth_limit(self) -> None:
        decoder = MsgpackDecoder(max_depth=3)
        assert decoder.receive(event(["a", [[1]]]), 0.0) == Packet(EVENT, "/", ["a", [[1]]])
        assert decoder.receive(event(["a", {"k": {"j": 1}}]), 0.0) is not None


MALFORMED: list[Any] = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xc1", id="never-used byte"),
    pytest.param(event() + b"\x00", id="trailing bytes"),
    pytest.param(event()[:-1], id="truncated"),
    pytest.param(pack([2, "/", ["a"]]), id="not a map"),
    pytest.param(pack("2"), id="a string"),
    pytest.param(pack({"nsp": "/", "data": ["a"]}), id="type missing"),
    pytest.param(pack({"type": "2", "nsp": "/", "data": ["a"]}), id="type a string"),
    pytest.param(pack({"type": True, "nsp": "/", "data": ["a"]}), id="type a boolean"),
    pytest.param(pack({"type": 2.0, "nsp": "/", "data": ["a"]}), id="type a float"),
    pytest.param(pack({"type": -1, "nsp": "/", "data": ["a"]}), id="type negative"),
    pytest.param(pack({"type": 5, "nsp": "/", "data": ["a"]}), id="BINARY_EVENT type"),
    pytest.param(pack({"type": 6, "nsp": "/", "data": [], "id": 1}), id="BINARY_ACK type"),
    pytest.param(pack({"type": 7, "nsp": "/", "data": ["a"]}), id="type 7"),
    pytest.param(pack({"type": 2, "data": ["a"]}), id="namespace missing"),
    pytest.param(pack({"type": 2, "nsp": 2, "data": ["a"]}), id="namespace a number"),
    pytest.param(pack({"type": 2, "nsp": "admin", "data": ["a"]}), id="namespace without /"),
    pytest.param(pack({"type": 2, "nsp": "/a,b", "data": ["a"]}), id="namespace with comma"),
    pytest.param(pack({"type": 2, "nsp": "/"}), id="event without payload"),
    pytest.param(event(4), id="event payload a number"),
    pytest.param(event([]), id="event payload empty"),
    pytest.param(event([1]), id="event name a number"),
    pytest.param(event([""]), id="event name empty"),
    pytest.param(event([b"a"]), id="event name binary"),
    pytest.param(event(id="a"), id="ack id a string"),
    pytest.param(event(id=-1), id="ack id negative"),
    pytest.param(event(id=1.5), id="ack id a float"),
    pytest.param(event(id=True), id="ack id a boolean"),
    pytest.param(event(id=MAX_ACK_ID + 1), id="ack id too large"),
    pytest.param(pack({"type": 3, "nsp": "/", "data": []}), id="ack without id"),
    pytest.param(pack({"type": 0, "nsp": "/", "id": 1}), id="connect with ack id"),
    pytest.param(pack({"type": 1, "nsp": "/", "data": {}}), id="disconnect with payload"),
    pytest.param(pack({"type": 4, "nsp": "/", "data": []}), id="connect_error payload array"),
    pytest.param(pack({"type": 4, "nsp": "/"}), id="connect_error without payload"),
    pytest.param(pack({"type": 2, "nsp": "/", "data": ["a"], 1: 2}), id="integer key"),
    pytest.param(event(["a", {b"k": 1}]), id="binary key"),
    pytest.param(b"\x81\xa1a\xa1\xff", id="invalid UTF-8 string"),
    pytest.param(event(["a", msgpack.ExtType(5, b"x")]), id="unknown extension"),
    pytest.param(event(["a", msgpack.ExtType(0, (10**16).to_bytes(8, "big"))]), id="huge date"),
    pytest.param(event(["a", msgpack.Timestamp(-62135596801, 0)]), id="date before year 1"),
    pytest.param(event(["a", [[[[[1]]]]]]), id="list nested too deep"),
    pytest.param(event(["a", {"k": [{"k": [{"k": 1}]}]}]), id="map nested too deep"),
    pytest.param(b"\x91" * 100_000 + b"\xc0", id="100k levels"),
]


@pytest.mark.parametrize("message", MALFORMED)
def test_malformed_is_refused(message: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        MsgpackDecoder(max_depth=4).receive(message, 0.0)


def test_text_is_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="plaintext"):
        decode('2["a"]')


def test_not_a_message() -> None:
    with pytest.raises(LocalProtocolError):
        decode(3)


def test_msgpack_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ImportError, match=r"socketeer\[msgpack\]"):
        MsgpackCodec()
