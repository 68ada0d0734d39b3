"""The JSON codec (socket.io-parser format): encoder, stateful decoder, limits, errors.

Grouped by the socket.io-protocol v5 sections they exercise ("Packet encoding",
"Exchange protocol") plus the limits we add (attachments, depth, time).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from socketeer._types import Data
from socketeer.exceptions import LocalProtocolError, RemoteProtocolError
from socketeer.socketio import (
    DEFAULT_MAX_ATTACHMENT_WAIT,
    DEFAULT_MAX_ATTACHMENTS,
    DEFAULT_MAX_DEPTH,
    MAX_ACK_ID,
    MAX_DEPTH_LIMIT,
    RESERVED_EVENTS,
    Codec,
    Decoder,
    Encoder,
    JsonCodec,
    MsgpackCodec,
    Packet,
    PacketDecoder,
    PacketEncoder,
    PacketType,
)
from socketeer.socketio._checks import check_incoming

CONNECT = PacketType.CONNECT
DISCONNECT = PacketType.DISCONNECT
EVENT = PacketType.EVENT
ACK = PacketType.ACK
CONNECT_ERROR = PacketType.CONNECT_ERROR
BINARY_EVENT = PacketType.BINARY_EVENT
BINARY_ACK = PacketType.BINARY_ACK


def encode(packet: Packet) -> list[str | bytes]:
    return Encoder().encode(packet)


def decode(*messages: str | bytes, decoder: Decoder | None = None) -> Packet | None:
    """Feed messages at t=0; every message but the last must leave the packet pending."""
    decoder = decoder or Decoder()
    *head, last = messages
    for message in head:
        assert decoder.receive(message, 0.0) is None
    return decoder.receive(last, 0.0)


def placeholder(num: Any) -> str:
    return '{"_placeholder":true,"num":%s}' % num  # noqa: UP031 - JSON braces


class TestEncoding:
    """Spec, "Packet encoding": the string format and binary attachments."""

    def test_plain_event(self) -> None:
        assert encode(Packet(EVENT, "/", ["chat", {"msg": "hi"}])) == ['2["chat",{"msg":"hi"}]']

    def test_namespace_and_id(self) -> None:
        assert encode(Packet(EVENT, "/admin", ["a"], 0)) == ['2/admin,0["a"]']
        assert encode(Packet(ACK, "/admin", [], MAX_ACK_ID)) == [f"3/admin,{MAX_ACK_ID}[]"]

    def test_tuple_data_is_an_array(self) -> None:
        assert encode(Packet(EVENT, "/", ("a", (1, 2)))) == ['2["a",[1,2]]']

    def test_connect_error_with_a_string(self) -> None:
        assert encode(Packet(CONNECT_ERROR, "/", "nope")) == ['4"nope"']

    def test_json_like_javascript(self) -> None:
        packet = Packet(EVENT, "/", ["é", math.nan, math.inf, "\u2028", {"k": None}])
        assert encode(packet) == ['2["é",null,null,"\u2028",{"k":null}]']

    def test_values_orjson_refuses_use_the_fallback(self) -> None:
        assert encode(Packet(EVENT, "/", ["big", 2**70])) == [f'2["big",{2**70}]']
        int_keys: Any = {1: "a"}
        assert encode(Packet(EVENT, "/", ["k", int_keys])) == ['2["k",{"1":"a"}]']
        assert encode(Packet(ACK, "/", ["\ud800"], 1)) == ['31["\\ud800"]']

    def test_binary_types_become_attachments(self) -> None:
        one: Any = bytearray(b"\x01")
        two: Any = memoryview(b"\x02")
        packet = Packet(EVENT, "/", ["f", {"a": [one]}, two], 3)
        assert encode(packet) == [
            f'52-3["f",{{"a":[{placeholder(0)}]}},{placeholder(1)}]',
            b"\x01",
            b"\x02",
        ]

    def test_binary_ack(self) -> None:
        assert encode(Packet(ACK, "/x", [b""], 9)) == [f"61-/x,9[{placeholder(0)}]", b""]

    def test_binary_type_without_bytes_is_sent_plain(self) -> None:
        assert encode(Packet(BINARY_EVENT, "/", ["a"])) == ['2["a"]']
        assert encode(Packet(BINARY_ACK, "/", [], 1)) == ["31[]"]

    def test_placeholder_lookalike_in_a_plain_packet_is_data(self) -> None:
        data: Data = ["a", {"_placeholder": True, "num": 0}]
        (text,) = encode(Packet(EVENT, "/", data))
        assert decode(text) == Packet(EVENT, "/", data)

    def test_encoding_does_not_touch_the_data(self) -> None:
        data: Data = ["a", {"b": b"\x00"}]
        encode(Packet(EVENT, "/", data))
        assert data == ["a", {"b": b"\x00"}]


class TestEncodingErrors:
    """What our own decoder (or the JavaScript one) would refuse is never sent."""

    @pytest.mark.parametrize(
        "packet",
        [
            Packet(7, "/", ["a"]),  # type: ignore[arg-type]
            Packet(EVENT, "admin", ["a"]),
            Packet(EVENT, "/a,b", ["a"]),
            Packet(EVENT, 5, ["a"]),  # type: ignore[arg-type]
            Packet(EVENT, "/", None),
            Packet(EVENT, "/", "a"),
            Packet(EVENT, "/", []),
            Packet(EVENT, "/", [1]),
            Packet(EVENT, "/", [""]),
            Packet(ACK, "/", None, 1),
            Packet(ACK, "/", {"a": 1}, 1),
            Packet(ACK, "/", []),
            Packet(CONNECT, "/", ["a"]),
            Packet(DISCONNECT, "/", {}),
            Packet(CONNECT_ERROR, "/", None),
            Packet(CONNECT_ERROR, "/", 3),
            Packet(CONNECT, "/", None, 1),
            Packet(EVENT, "/", ["a"], -1),
            Packet(EVENT, "/", ["a"], MAX_ACK_ID + 1),
            Packet(EVENT, "/", ["a"], True),
            Packet(EVENT, "/", ["a"], 1.0),  # type: ignore[arg-type]
            Packet(EVENT, "/", ["a", {1, 2}]),  # type: ignore[list-item]
            Packet(EVENT, "/", ["a", {1, 2}, b"x"]),  # type: ignore[list-item]
            Packet(CONNECT, "/", {"auth": b"x"}),
        ],
    )
    def test_refused(self, packet: Packet) -> None:
        with pytest.raises(LocalProtocolError):
            encode(packet)


class TestDecoding:
    """Spec, "Packet encoding", read back; JavaScript ``decodeString`` quirks kept."""

    def test_namespace_without_trailing_comma(self) -> None:
        assert decode("0/admin") == Packet(CONNECT, "/admin")
        assert decode("1/admin") == Packet(DISCONNECT, "/admin")

    def test_explicit_main_namespace(self) -> None:
        assert decode('2/,["a"]') == Packet(EVENT, "/", ["a"])

    def test_leading_zeros_in_ack_id(self) -> None:
        assert decode('2012["a"]') == Packet(EVENT, "/", ["a"], 12)

    def test_largest_ack_id(self) -> None:
        assert decode(f'2{MAX_ACK_ID}["a"]') == Packet(EVENT, "/", ["a"], MAX_ACK_ID)

    def test_connect_error_string(self) -> None:
        assert decode('4"Not authorized"') == Packet(CONNECT_ERROR, "/", "Not authorized")

    def test_json_whitespace_is_allowed_as_in_json_parse(self) -> None:
        assert decode('2 [ "a" , 1 ] ') == Packet(EVENT, "/", ["a", 1])

    def test_json_parse_extras(self) -> None:
        # JSON.parse accepts escaped lone surrogates and overflowing numbers.
        assert decode('2["a","\\ud800",1e400]') == Packet(EVENT, "/", ["a", "\ud800", math.inf])

    def test_integers_beyond_64_bits_are_numbers(self) -> None:
        packet = decode('2["a",18446744073709551616]')
        assert packet == Packet(EVENT, "/", ["a", float(2**64)])

    @pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
    def test_reserved_names_decode(self, name: str) -> None:
        # Refusing them is the server's business, not the codec's.
        assert decode(f'2["{name}"]') == Packet(EVENT, "/", [name])

    def test_prototype_names_are_plain_strings(self) -> None:
        packet = decode('2/__proto__,["__proto__",{"__proto__":1,"__class__":{"__init__":2}}]')
        assert packet == Packet(
            EVENT, "/__proto__", ["__proto__", {"__proto__": 1, "__class__": {"__init__": 2}}]
        )
        assert decode('2/__class__,["__class__"]') == Packet(EVENT, "/__class__", ["__class__"])
        assert decode('0/constructor,{"__proto__":{"admin":true}}') == Packet(
            CONNECT, "/constructor", {"__proto__": {"admin": True}}
        )

    def test_binary_packet_with_bytes_like_attachments(self) -> None:
        decoder = Decoder()
        assert decoder.receive(f'52-["a",{placeholder(1)},{placeholder(0)}]', 0.0) is None
        zero: Any = bytearray(b"\x00")
        one: Any = memoryview(b"\x01")
        assert decoder.receive(zero, 0.0) is None
        packet = decoder.receive(one, 0.0)
        assert packet == Packet(EVENT, "/", ["a", b"\x01", b"\x00"])
        assert isinstance(packet.data, list)
        assert type(packet.data[1]) is bytes

    def test_placeholder_nested_in_objects(self) -> None:
        text = f'61-/n,7[{{"a":[{{"b":{placeholder(0)}}}]}}]'
        assert decode(text, b"z") == Packet(ACK, "/n", [{"a": [{"b": b"z"}]}], 7)

    def test_decoder_is_reusable_after_a_binary_packet(self) -> None:
        decoder = Decoder()
        assert decode(f'51-["a",{placeholder(0)}]', b"1", decoder=decoder) is not None
        assert decoder.receive('2["b"]', 0.0) == Packet(EVENT, "/", ["b"])

    def test_depth_at_the_limit_is_accepted(self) -> None:
        decoder = Decoder(max_depth=3)
        assert decoder.receive('2["a",[[1]]]', 0.0) == Packet(EVENT, "/", ["a", [[1]]])

    def test_brackets_inside_a_string_payload(self) -> None:
        text = "[{" * 100
        assert Decoder(max_depth=3).receive(f'4"{text}"', 0.0) == Packet(CONNECT_ERROR, "/", text)

    def test_many_shallow_brackets_are_accepted(self) -> None:
        payload: list[Any] = ["a", *([[]] * 50), {"k": {}}]
        packet = Decoder(max_depth=3).receive(encode(Packet(EVENT, "/", payload))[0], 0.0)
        assert packet == Packet(EVENT, "/", payload)


MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param("7", id="unknown type 7"),
    pytest.param("x", id="unknown type x"),
    pytest.param("2", id="event without payload"),
    pytest.param('2{"a":1}', id="event payload not an array"),
    pytest.param('2"a"', id="event payload a string"),
    pytest.param("2[]", id="event payload empty"),
    pytest.param("2[1]", id="event name a number"),
    pytest.param("2[null]", id="event name null"),
    pytest.param('2[["a"]]', id="event name an array"),
    pytest.param('2[""]', id="event name empty"),
    pytest.param('2/admin,["a"', id="truncated JSON"),
    pytest.param('2["a"]x', id="trailing garbage"),
    pytest.param("2['a']", id="single quotes"),
    pytest.param('2["a",NaN]', id="NaN literal"),
    pytest.param('2["a",Infinity]', id="Infinity literal"),
    pytest.param('2["a",-Infinity]', id="-Infinity literal"),
    pytest.param('2["a\ud800"]', id="raw lone surrogate (not UTF-8)"),
    pytest.param("2/admin", id="namespace then nothing"),
    pytest.param('2admin,["a"]', id="namespace without slash"),
    pytest.param("2" + "9" * 17 + '["a"]', id="huge ack id"),
    pytest.param(f'2{MAX_ACK_ID + 1}["a"]', id="ack id above 2**53-1"),
    pytest.param('2\u0661["a"]', id="non-ASCII digit as ack id"),
    pytest.param('21.5["a"]', id="fractional ack id"),
    pytest.param('2-1["a"]', id="negative ack id"),
    pytest.param("3[]", id="ack without id"),
    pytest.param("312", id="ack without payload"),
    pytest.param("312{}", id="ack payload not an array"),
    pytest.param("0[]", id="connect payload an array"),
    pytest.param("0null", id="connect payload null"),
    pytest.param('0"a"', id="connect payload a string"),
    pytest.param("012{}", id="connect with ack id"),
    pytest.param("1{}", id="disconnect with payload"),
    pytest.param("1null", id="disconnect with null payload"),
    pytest.param("11", id="disconnect with ack id"),
    pytest.param("4", id="connect_error without payload"),
    pytest.param("4[1]", id="connect_error payload an array"),
    pytest.param("4null", id="connect_error payload null"),
    pytest.param('41"a"', id="connect_error with ack id"),
    pytest.param(f'5-["a",{placeholder(0)}]', id="attachment count missing"),
    pytest.param(f'5a-["a",{placeholder(0)}]', id="attachment count not a number"),
    pytest.param('50-["a"]', id="zero attachments"),
    pytest.param(f'51["a",{placeholder(0)}]', id="attachment count without dash"),
    pytest.param("51", id="attachment count then end"),
    pytest.param(f'511-["a",{placeholder(0)}]', id="more than max_attachments"),
    pytest.param("5" + "1" * 11 + '-["a"]', id="attachment count too long"),
    pytest.param(f"61-[{placeholder(0)}]", id="binary ack without id"),
    pytest.param(f"51-[{placeholder(0)}]", id="binary event without name"),
    pytest.param('2["a",' + "[" * 70 + "]" * 70 + "]", id="nested 71 deep"),
    pytest.param('2["a",' + '{"k":' * 70 + "1" + "}" * 70 + "]", id="objects nested 71 deep"),
    pytest.param("2" + "[" * 1_000_000, id="1 MB of ["),
    pytest.param('51-["a",' + '{"b":' * 70 + "1" + "}" * 70 + "]", id="binary nested too deep"),
    pytest.param('2["a",' + "[" * 2000 + "]" * 2000 + "]", id="nested 2000 deep"),
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_text_is_refused(text: str) -> None:
    decoder = Decoder()
    with pytest.raises(RemoteProtocolError):
        decoder.receive(text, 0.0)
    assert decoder.deadline is None


class TestAttachments:
    """BINARY_EVENT / BINARY_ACK reassembly (socket.io-parser ``BinaryReconstructor``)."""

    def test_binary_when_none_expected(self) -> None:
        with pytest.raises(RemoteProtocolError, match="not reconstructing"):
            Decoder().receive(b"\x01", 0.0)

    def test_text_while_waiting_for_attachments(self) -> None:
        decoder = Decoder()
        decoder.receive(f'52-["a",{placeholder(0)},{placeholder(1)}]', 0.0)
        decoder.receive(b"\x01", 0.0)
        with pytest.raises(RemoteProtocolError, match="plaintext"):
            decoder.receive('2["b"]', 0.0)
        assert decoder.deadline is None
        assert decoder.receive('2["b"]', 0.0) == Packet(EVENT, "/", ["b"])

    @pytest.mark.parametrize(
        ("text", "attachments"),
        [
            pytest.param(f'52-["a",{placeholder(0)}]', 2, id="attachment never referenced"),
            pytest.param(f'51-["a",{placeholder(1)}]', 1, id="num out of range"),
            pytest.param(f'51-["a",{placeholder(-1)}]', 1, id="num negative"),
            pytest.param(f'51-["a",{placeholder("true")}]', 1, id="num a boolean"),
            pytest.param(f'51-["a",{placeholder("0.0")}]', 1, id="num a float"),
            pytest.param(f'51-["a",{placeholder(chr(34) + "0" + chr(34))}]', 1, id="num a string"),
            pytest.param(f'51-["a",{placeholder("null")}]', 1, id="num null"),
            pytest.param('51-["a",{"_placeholder":true}]', 1, id="num missing"),
            pytest.param('51-["a",{"_placeholder":false,"num":0}]', 1, id="_placeholder false"),
            pytest.param('51-["a",{"_placeholder":1,"num":0}]', 1, id="_placeholder 1"),
            pytest.param('51-["a",{"_placeholder":"true","num":0}]', 1, id="_placeholder string"),
            pytest.param('51-["a",{"_placeholder":true,"num":0,"x":1}]', 1, id="extra key"),
            pytest.param(
                f'52-["a",{placeholder(0)},{placeholder(0)}]', 2, id="attachment used twice"
            ),
        ],
    )
    def test_invalid_reconstruction(self, text: str, attachments: int) -> None:
        decoder = Decoder()
        messages: list[str | bytes] = [text, *[b"\x00"] * attachments]
        for message in messages[:-1]:
            assert decoder.receive(message, 0.0) is None
        with pytest.raises(RemoteProtocolError):
            decoder.receive(messages[-1], 0.0)
        assert decoder.deadline is None

    def test_max_attachments_zero_refuses_binary(self) -> None:
        with pytest.raises(RemoteProtocolError, match="too many attachments"):
            Decoder(max_attachments=0).receive(f'51-["a",{placeholder(0)}]', 0.0)

    def test_max_attachments_is_inclusive(self) -> None:
        decoder = Decoder(max_attachments=2)
        text = f'52-["a",{placeholder(0)},{placeholder(1)}]'
        assert decode(text, b"1", b"2", decoder=decoder) == Packet(EVENT, "/", ["a", b"1", b"2"])

    def test_not_a_message(self) -> None:
        with pytest.raises(LocalProtocolError):
            Decoder().receive(3, 0.0)  # type: ignore[arg-type]
        decoder = Decoder()
        decoder.receive(f'51-["a",{placeholder(0)}]', 0.0)
        with pytest.raises(LocalProtocolError):
            decoder.receive(3, 0.0)  # type: ignore[arg-type]

    def test_reset_drops_the_pending_packet(self) -> None:
        decoder = Decoder()
        decoder.receive(f'51-["a",{placeholder(0)}]', 0.0)
        decoder.reset()
        assert decoder.deadline is None
        with pytest.raises(RemoteProtocolError):
            decoder.receive(b"\x01", 0.0)


class TestAttachmentDeadline:
    """Withheld attachments: the time cap (``max_attachment_wait``)."""

    def test_deadline_follows_the_text_part(self) -> None:
        decoder = Decoder(max_attachment_wait=5.0)
        decoder.receive(f'52-["a",{placeholder(0)},{placeholder(1)}]', 100.0)
        assert decoder.deadline == 105.0
        decoder.receive(b"1", 103.0)
        assert decoder.deadline == 105.0  # not extended by an attachment
        decoder.check_timeout(104.999)
        assert decoder.receive(b"2", 104.999) == Packet(EVENT, "/", ["a", b"1", b"2"])
        assert decoder.deadline is None

    def test_check_timeout_when_overdue(self) -> None:
        decoder = Decoder(max_attachment_wait=5.0)
        decoder.check_timeout(1e9)  # nothing pending: nothing to do
        decoder.receive(f'51-["a",{placeholder(0)}]', 100.0)
        with pytest.raises(RemoteProtocolError, match="1 attachment"):
            decoder.check_timeout(105.0)
        assert decoder.deadline is None

    def test_late_attachment(self) -> None:
        decoder = Decoder(max_attachment_wait=5.0)
        decoder.receive(f'51-["a",{placeholder(0)}]', 100.0)
        with pytest.raises(RemoteProtocolError, match="in time"):
            decoder.receive(b"1", 105.5)
        assert decoder.deadline is None

    def test_default_wait(self) -> None:
        decoder = JsonCodec().decoder()
        decoder.receive(f'51-["a",{placeholder(0)}]', 1.0)
        assert decoder.deadline == 1.0 + DEFAULT_MAX_ATTACHMENT_WAIT


class TestLimitsConfiguration:
    def test_default_depth_is_crossed_at_65(self) -> None:
        def nested(depth: int) -> str:  # the payload array is level 1
            return '2["a",' + "[" * (depth - 1) + "]" * (depth - 1) + "]"

        assert Decoder().receive(nested(DEFAULT_MAX_DEPTH), 0.0) is not None
        with pytest.raises(RemoteProtocolError, match="deeper than 64"):
            Decoder().receive(nested(DEFAULT_MAX_DEPTH + 1), 0.0)

    def test_default_attachment_count_is_crossed_at_11(self) -> None:
        def binary(count: int) -> list[str | bytes]:
            return Encoder().encode(Packet(EVENT, "/", ["a", *[b"x"] * count]))

        assert decode(*binary(DEFAULT_MAX_ATTACHMENTS)) is not None
        with pytest.raises(RemoteProtocolError, match="too many attachments: 11 > 10"):
            decode(*binary(DEFAULT_MAX_ATTACHMENTS + 1))

    def test_defaults(self) -> None:
        decoder = Decoder()
        assert (decoder.max_attachments, decoder.max_depth, decoder.max_attachment_wait) == (
            10,
            64,
            30.0,
        )

    def test_codec_passes_limits_on(self) -> None:
        codec = JsonCodec(max_attachments=3, max_depth=MAX_DEPTH_LIMIT, max_attachment_wait=2)
        decoder = codec.decoder()
        assert (decoder.max_attachments, decoder.max_depth, decoder.max_attachment_wait) == (
            3,
            MAX_DEPTH_LIMIT,
            2.0,
        )
        assert codec.decoder() is not decoder
        assert codec.encoder() is codec.encoder()

    @pytest.mark.parametrize(
        "limits",
        [
            {"max_attachments": -1},
            {"max_attachments": True},
            {"max_attachments": 1.0},
            {"max_depth": 0},
            {"max_depth": MAX_DEPTH_LIMIT + 1},
            {"max_depth": 8.0},
            {"max_attachment_wait": 0},
            {"max_attachment_wait": -1.0},
            {"max_attachment_wait": math.inf},
            {"max_attachment_wait": math.nan},
            {"max_attachment_wait": "1"},
        ],
    )
    def test_nonsense_limits(self, limits: dict[str, Any]) -> None:
        with pytest.raises(ValueError, match="max_"):
            Decoder(**limits)
        with pytest.raises(ValueError, match="max_"):
            JsonCodec(**limits)


def test_packet_is_frozen_and_comparable() -> None:
    packet = Packet(EVENT, "/", ["a"], 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.id = 2  # type: ignore[misc]
    assert dataclasses.replace(packet, id=2) == Packet(EVENT, "/", ["a"], 2)
    assert Packet(CONNECT) == Packet(CONNECT, "/", None, None)
    assert hash(Packet(CONNECT, "/x")) == hash(Packet(CONNECT, "/x"))
    assert not hasattr(packet, "__dict__")


def test_codecs_satisfy_the_codec_protocol() -> None:
    # Checked by mypy: both codecs are structurally ``Codec``s.
    codecs: list[Codec] = [JsonCodec(), MsgpackCodec()]
    for codec in codecs:
        decoder: PacketDecoder = codec.decoder()
        encoder: PacketEncoder = codec.encoder()
        (message,) = encoder.encode(Packet(EVENT, "/", ["a"]))
        assert decoder.receive(message, 0.0) == Packet(EVENT, "/", ["a"])
        assert decoder.deadline is None


def test_check_incoming_accepts_a_valid_event() -> None:
    # The decoders take a fast path for valid EVENTs; the shared rule agrees with it.
    check_incoming(EVENT, ["a", 1], True, None)
    check_incoming(EVENT, ["a"], True, MAX_ACK_ID)
