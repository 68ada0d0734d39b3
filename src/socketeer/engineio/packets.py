"""Engine.IO v4 packets and their encoding (engine.io-protocol, *Packet encoding*).

A packet is a type digit followed by its data. On WebSocket a binary message is sent as a
raw binary frame; in a polling payload it is written as ``b`` + base64.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import IntEnum

from ..exceptions import RemoteProtocolError


class PacketType(IntEnum):
    """The seven Engine.IO packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet. ``data`` is text, or bytes for a binary MESSAGE."""

    type: PacketType
    data: str | bytes = ""


PING = Packet(PacketType.PING)
PONG = Packet(PacketType.PONG)
PING_PROBE = Packet(PacketType.PING, "probe")
PONG_PROBE = Packet(PacketType.PONG, "probe")
CLOSE = Packet(PacketType.CLOSE)
NOOP = Packet(PacketType.NOOP)
UPGRADE = Packet(PacketType.UPGRADE)

_TYPE_BY_CHAR = {str(t.value): t for t in PacketType}


def encode_packet(packet: Packet) -> str | bytes:
    """Encode one packet for WebSocket: binary data goes out as a raw binary frame."""
    data = packet.data
    if isinstance(data, bytes):
        return data
    return f"{packet.type.value}{data}"


def encode_packet_text(packet: Packet) -> str:
    """Encode one packet as text, for a polling payload: binary data as ``b`` + base64."""
    data = packet.data
    if isinstance(data, bytes):
        return "b" + base64.b64encode(data).decode("ascii")
    return f"{packet.type.value}{data}"


def decode_packet(data: str | bytes) -> Packet:
    """Decode one packet; raise ``RemoteProtocolError`` when it is not one.

    Raw bytes are a binary MESSAGE (WebSocket); ``b...`` is a base64 binary MESSAGE.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return Packet(PacketType.MESSAGE, bytes(data))
    if not data:
        raise RemoteProtocolError("empty packet")
    first = data[0]
    if first == "b":
        try:
            return Packet(PacketType.MESSAGE, base64.b64decode(data[1:], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise RemoteProtocolError("invalid base64 in binary packet") from exc
    packet_type = _TYPE_BY_CHAR.get(first)
    if packet_type is None:
        raise RemoteProtocolError(f"unknown packet type {first!r}")
    return Packet(packet_type, data[1:])


__all__ = [
    "CLOSE",
    "NOOP",
    "PING",
    "PING_PROBE",
    "PONG",
    "PONG_PROBE",
    "UPGRADE",
    "Packet",
    "PacketType",
    "decode_packet",
    "encode_packet",
    "encode_packet_text",
]
