"""Packets and polling payloads (engine.io-protocol, *Protocol* and *Packet encoding*)."""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_packet_text,
    encode_payload,
)
from socketeer.exceptions import ProtocolError, RemoteProtocolError

from .helpers import payload


class TestPacketTypes:
    """engine.io-protocol, *Protocol*: the seven packet types and their ids."""

    @pytest.mark.parametrize(
        ("packet_type", "digit"),
        [
            (PacketType.OPEN, "0"),
            (PacketType.CLOSE, "1"),
            (PacketType.PING, "2"),
            (PacketType.PONG, "3"),
            (PacketType.MESSAGE, "4"),
            (PacketType.UPGRADE, "5"),
            (PacketType.NOOP, "6"),
        ],
    )
    def test_type_digit_without_data(self, packet_type: PacketType, digit: str) -> None:
        packet = Packet(packet_type)
        assert encode_packet(packet) == digit
        assert encode_packet_text(packet) == digit
        assert decode_packet(digit) == packet

    @pytest.mark.parametrize("packet_type", list(PacketType))
    def test_type_digit_with_data(self, packet_type: PacketType) -> None:
        packet = Packet(packet_type, "probe")
        wire = f"{packet_type.value}probe"
        assert encode_packet(packet) == wire
        assert encode_packet_text(packet) == wire
        assert decode_packet(wire) == packet

    def test_default_data_is_empty_text(self) -> None:
        assert Packet(PacketType.MESSAGE).data == ""

    def test_packets_are_frozen_values(self) -> None:
        assert Packet(PacketType.MESSAGE, "a") == Packet(PacketType.MESSAGE, "a")
        assert hash(Packet(PacketType.PING)) == hash(Packet(PacketType.PING))
        with pytest.raises(AttributeError):
            Packet(PacketType.PING).data = "x"  # type: ignore[misc]


class TestTextPackets:
    """engine.io-protocol, *Packet encoding > WebSocket*: ``<packet type>[<data>]``."""

    def test_message_keeps_data_verbatim(self) -> None:
        data = 'x\x1e\n"{}[]\u20ac\U0001f600b4'
        assert encode_packet(Packet(PacketType.MESSAGE, data)) == "4" + data
        assert decode_packet("4" + data) == Packet(PacketType.MESSAGE, data)

    def test_data_starting_with_a_digit(self) -> None:
        assert decode_packet("42") == Packet(PacketType.MESSAGE, "2")
        assert decode_packet("44") == Packet(PacketType.MESSAGE, "4")

    @pytest.mark.parametrize("wire", ["7", "9", "a", "abc", "B", " 4", "\x1e", "-1", "\u20ac"])
    def test_unknown_type_is_refused(self, wire: str) -> None:
        with pytest.raises(RemoteProtocolError, match="unknown packet type"):
            decode_packet(wire)

    def test_empty_text_is_refused(self) -> None:
        with pytest.raises(RemoteProtocolError, match="empty packet"):
            decode_packet("")

    def test_remote_protocol_error_is_a_protocol_error(self) -> None:
        with pytest.raises(ProtocolError):
            decode_packet("x")


class TestBinaryPackets:
    """Binary is sent as is on WebSocket and as ``b`` + base64 in polling payloads."""

    def test_websocket_binary_is_a_raw_frame(self) -> None:
        packet = Packet(PacketType.MESSAGE, b"\x00\x01\xff")
        assert encode_packet(packet) == b"\x00\x01\xff"
        assert decode_packet(b"\x00\x01\xff") == packet

    @pytest.mark.parametrize("raw", [bytearray(b"\x01\x02"), memoryview(b"\x01\x02")])
    def test_bytes_like_frames_decode_to_bytes(self, raw: bytearray | memoryview) -> None:
        packet = decode_packet(raw)  # type: ignore[arg-type]
        assert packet == Packet(PacketType.MESSAGE, b"\x01\x02")
        assert type(packet.data) is bytes

    def test_binary_frame_starting_with_a_type_digit_stays_binary(self) -> None:
        # v4: no type byte in binary frames; b"4..." is data, not a message marker.
        assert decode_packet(b"4hello") == Packet(PacketType.MESSAGE, b"4hello")

    def test_empty_binary_frame(self) -> None:
        assert decode_packet(b"") == Packet(PacketType.MESSAGE, b"")
        assert encode_packet(Packet(PacketType.MESSAGE, b"")) == b""

    def test_polling_binary_is_b_base64(self) -> None:
        packet = Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04")
        assert encode_packet_text(packet) == "bAQIDBA=="
        assert decode_packet("bAQIDBA==") == packet

    def test_polling_empty_binary(self) -> None:
        assert encode_packet_text(Packet(PacketType.MESSAGE, b"")) == "b"
        assert decode_packet("b") == Packet(PacketType.MESSAGE, b"")

    @pytest.mark.parametrize(
        "wire",
        [
            pytest.param("bAQIDBA=", id="truncated-padding"),
            pytest.param("bAQIDBA", id="missing-padding"),
            pytest.param("bAQID*A==", id="bad-alphabet"),
            pytest.param("bA", id="one-char"),
            pytest.param("bAQ ID", id="space"),
            pytest.param("bAQIDBA==\n", id="trailing-newline"),
        ],
    )
    def test_invalid_base64_is_refused(self, wire: str) -> None:
        with pytest.raises(RemoteProtocolError, match="base64"):
            decode_packet(wire)


class TestPayload:
    """engine.io-protocol, *Packet encoding > HTTP long-polling*: ``\\x1e``-joined packets."""

    def test_separator(self) -> None:
        assert SEPARATOR == "\x1e"

    def test_encode_several_packets(self) -> None:
        packets = [
            Packet(PacketType.MESSAGE, "hello"),
            Packet(PacketType.PING),
            Packet(PacketType.MESSAGE, b"\x01\x02\x03\x04"),
            Packet(PacketType.CLOSE),
        ]
        wire = payload("4hello", "2", "bAQIDBA==", "1")
        assert encode_payload(packets) == wire
        assert decode_payload(wire, max_packets=4) == packets

    def test_encode_accepts_any_iterable(self) -> None:
        packets = (Packet(PacketType.NOOP) for _ in range(2))
        assert encode_payload(packets) == "6\x1e6"

    def test_single_packet_has_no_separator(self) -> None:
        assert encode_payload([Packet(PacketType.MESSAGE, "a")]) == "4a"

    @pytest.mark.parametrize(
        ("body", "match"),
        [
            pytest.param("", "empty payload", id="empty"),
            pytest.param("\x1e", "empty packet", id="separator-only"),
            pytest.param("\x1e\x1e", "empty packet", id="two-separators"),
            pytest.param("4a\x1e\x1e4b", "empty packet", id="double-separator"),
            pytest.param("\x1e4a", "empty packet", id="leading-separator"),
            pytest.param("4a\x1e", "empty packet", id="trailing-separator"),
            pytest.param("abc", "unknown packet type", id="garbage-type"),
            pytest.param("4a\x1eabc", "unknown packet type", id="garbage-after-valid"),
            pytest.param("4a\x1ebAQIDBA=", "base64", id="truncated-base64"),
        ],
    )
    def test_invalid_payload_is_refused(self, body: str, match: str) -> None:
        with pytest.raises(RemoteProtocolError, match=match):
            decode_payload(body, max_packets=100)

    def test_packet_count_limit(self) -> None:
        assert len(decode_payload(payload(*["3"] * 5), max_packets=5)) == 5
        with pytest.raises(RemoteProtocolError, match="more than 5 packets"):
            decode_payload(payload(*["3"] * 6), max_packets=5)

    def test_packet_count_limit_of_one(self) -> None:
        assert decode_payload("4a", max_packets=1) == [Packet(PacketType.MESSAGE, "a")]
        with pytest.raises(RemoteProtocolError):
            decode_payload("4a\x1e4b", max_packets=1)

    def test_count_limit_is_checked_before_the_packets(self) -> None:
        # Separator abuse is refused by counting, without decoding each part first.
        with pytest.raises(RemoteProtocolError, match="more than 3 packets"):
            decode_payload("\x1e" * 10_000, max_packets=3)
