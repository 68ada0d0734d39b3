"""Socket.IO v5 packets: the seven packet types and the packet value itself.

See the socket.io-protocol v5 specification, "Exchange protocol": a packet has a type,
a namespace, an optional payload and an optional acknowledgement id.

Binary is not a flag the user sets: an EVENT or ACK whose data holds ``bytes`` anywhere
is sent as BINARY_EVENT / BINARY_ACK by the JSON codec, and a received BINARY_EVENT /
BINARY_ACK comes back as an EVENT / ACK with ``bytes`` in place of its placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from .._types import Data

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_ACK_ID",
    "RESERVED_EVENTS",
    "Packet",
    "PacketType",
]


class PacketType(IntEnum):
    """The packet types of Socket.IO v5 (spec, "Exchange protocol", table of types)."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


DEFAULT_NAMESPACE: Final = "/"
"""The main namespace; the JSON codec omits it on the wire."""

MAX_ACK_ID: Final = 2**53 - 1
"""The largest acknowledgement id accepted or sent (``Number.MAX_SAFE_INTEGER``).

JavaScript reads the id with ``Number()``: anything larger cannot round-trip exactly.
"""

RESERVED_EVENTS: Final = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names with a special meaning in the JavaScript implementation.

The codecs decode them like any other name; refusing them is the server's job
(the JavaScript parser's ``RESERVED_EVENTS`` list, socket.io-parser ``lib/index.ts``).
"""


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: The packet type. BINARY_EVENT / BINARY_ACK are accepted on encode and
            treated as EVENT / ACK; decoders never return them.
        namespace: The namespace, starting with ``"/"``.
        data: The payload. ``None`` means "no payload" (CONNECT without auth,
            DISCONNECT). EVENT: a non-empty list whose first item is the event name;
            ACK: a list of arguments; CONNECT: a dict or ``None``; CONNECT_ERROR: a dict
            (``{"message": ...}``) or a string. ``bytes`` may appear anywhere in EVENT and
            ACK data.
        id: The acknowledgement id of an EVENT that wants an ACK, or of the ACK itself.
    """

    type: PacketType
    namespace: str = DEFAULT_NAMESPACE
    data: Data = None
    id: int | None = None

    def __init__(
        self,
        type: PacketType,
        namespace: str = DEFAULT_NAMESPACE,
        data: Data = None,
        id: int | None = None,
    ) -> None:
        # Hand-written for speed: the generated frozen __init__ goes through
        # object.__setattr__ by name, about twice as slow as the slot descriptors. A
        # packet is built for every message, so this is on the hot path.
        _set_type(self, type)
        _set_namespace(self, namespace)
        _set_data(self, data)
        _set_id(self, id)


# The slot descriptors of the final (slotted) class, used by Packet.__init__.
_set_type = vars(Packet)["type"].__set__
_set_namespace = vars(Packet)["namespace"].__set__
_set_data = vars(Packet)["data"].__set__
_set_id = vars(Packet)["id"].__set__
