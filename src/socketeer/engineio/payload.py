"""Polling payloads: packets joined by the record separator ``\\x1e``.

engine.io-protocol, *HTTP long-polling, Payload*: several packets in one HTTP body are
concatenated with ``\\x1e``; binary packets are ``b`` + base64.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import RemoteProtocolError
from .packets import Packet, decode_packet, encode_packet_text

SEPARATOR = "\x1e"


def encode_payload(packets: Iterable[Packet]) -> str:
    """Encode packets into one polling payload."""
    return SEPARATOR.join(map(encode_packet_text, packets))


def decode_payload(body: str, *, max_packets: int) -> list[Packet]:
    """Decode a polling payload; raise ``RemoteProtocolError`` when any part is invalid.

    Args:
        body: the HTTP body, already decoded as UTF-8.
        max_packets: a payload with more packets than this is refused.
    """
    if not body:
        raise RemoteProtocolError("empty payload")
    if body.count(SEPARATOR) >= max_packets:
        raise RemoteProtocolError(f"more than {max_packets} packets in one payload")
    return [decode_packet(part) for part in body.split(SEPARATOR)]


__all__ = ["SEPARATOR", "decode_payload", "encode_payload"]
