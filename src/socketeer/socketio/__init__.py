"""Socket.IO v5, sans-I/O: packets, binary attachments and codecs (JSON and msgpack).

Nothing here does I/O or reads a clock. A codec turns ``Packet`` values into Engine.IO
messages (``str`` / ``bytes``) and back; the per-connection decoder is stateful because
a binary packet spans several messages. Import this package as ``sio``::

    from socketeer import socketio as sio

    encoder = sio.JsonCodec().encoder()
    encoder.encode(sio.Packet(sio.PacketType.EVENT, "/", ["hello", b"\\x01"]))
    # ['51-["hello",{"_placeholder":true,"num":0}]', b'\\x01']
"""

from __future__ import annotations

from .binary import PLACEHOLDER_KEY, deconstruct, has_binary, reconstruct
from .codecs import (
    DEFAULT_MAX_ATTACHMENT_WAIT,
    DEFAULT_MAX_ATTACHMENTS,
    DEFAULT_MAX_DEPTH,
    MAX_DEPTH_LIMIT,
    Codec,
    Decoder,
    Encoder,
    JsonCodec,
    PacketDecoder,
    PacketEncoder,
)
from .msgpack_codec import MsgpackCodec, MsgpackDecoder, MsgpackEncoder
from .packets import DEFAULT_NAMESPACE, MAX_ACK_ID, RESERVED_EVENTS, Packet, PacketType

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "DEFAULT_MAX_ATTACHMENT_WAIT",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_NAMESPACE",
    "MAX_ACK_ID",
    "MAX_DEPTH_LIMIT",
    "PLACEHOLDER_KEY",
    "RESERVED_EVENTS",
    "Codec",
    "Decoder",
    "Encoder",
    "JsonCodec",
    "MsgpackCodec",
    "MsgpackDecoder",
    "MsgpackEncoder",
    "Packet",
    "PacketDecoder",
    "PacketEncoder",
    "PacketType",
    "deconstruct",
    "has_binary",
    "reconstruct",
]
