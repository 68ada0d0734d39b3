"""Packet rules shared by the JSON and msgpack codecs (private).

Incoming packets are checked as the JavaScript ``isPacketValid`` does
(socket.io-parser ``lib/index.ts``), and more strictly where the specification says
"MUST" (socket.io-protocol v5, "Exchange protocol"):

- EVENT: the payload is mandatory, a non-empty array whose first element is a
  non-empty string (JavaScript also accepts a number there; we do not);
- ACK: the payload is mandatory and an array (possibly empty), and the id is mandatory;
- CONNECT: no payload, or an object; DISCONNECT: no payload;
- CONNECT_ERROR: the payload is mandatory, an object or a string;
- only EVENT and ACK carry an ack id, a non-negative integer up to ``MAX_ACK_ID``.

Outgoing packets follow the same rules, so whatever we encode our own decoder accepts.
"""

from __future__ import annotations

from typing import Any, Final

from ..exceptions import LocalProtocolError, RemoteProtocolError
from .packets import DEFAULT_NAMESPACE, MAX_ACK_ID, Packet, PacketType

CONNECT: Final = PacketType.CONNECT
DISCONNECT: Final = PacketType.DISCONNECT
EVENT: Final = PacketType.EVENT
ACK: Final = PacketType.ACK
CONNECT_ERROR: Final = PacketType.CONNECT_ERROR

_FOLD_BINARY: Final = {
    PacketType.CONNECT: CONNECT,
    PacketType.DISCONNECT: DISCONNECT,
    PacketType.EVENT: EVENT,
    PacketType.ACK: ACK,
    PacketType.CONNECT_ERROR: CONNECT_ERROR,
    PacketType.BINARY_EVENT: EVENT,
    PacketType.BINARY_ACK: ACK,
}


def incoming_payload_error(ptype: PacketType, data: Any, present: bool) -> str | None:
    """Say what is wrong with a received payload, or ``None`` when it is valid."""
    if ptype is EVENT:
        if not present:
            return "EVENT packet without payload"
        if type(data) is not list:
            return "EVENT payload must be an array"
        if not data:
            return "EVENT payload must not be empty"
        name = data[0]
        if type(name) is not str:
            return "event name must be a string"
        if not name:
            return "event name must not be empty"
        return None
    if ptype is ACK:
        if not present:
            return "ACK packet without payload"
        return None if type(data) is list else "ACK payload must be an array"
    if ptype is CONNECT:
        return None if not present or type(data) is dict else "CONNECT payload must be an object"
    if ptype is DISCONNECT:
        return "DISCONNECT packet must not have a payload" if present else None
    # CONNECT_ERROR
    if not present:
        return "CONNECT_ERROR packet without payload"
    if type(data) is dict or type(data) is str:
        return None
    return "CONNECT_ERROR payload must be an object or a string"


def check_incoming(ptype: PacketType, data: Any, present: bool, ack_id: int | None) -> None:
    """Raise ``RemoteProtocolError`` unless the payload and id suit the packet type.

    Args:
        ptype: The packet type, with BINARY_* already folded into EVENT / ACK.
        data: The decoded payload (``None`` when absent).
        present: Whether a payload was present on the wire (``null`` is a payload).
        ack_id: The decoded acknowledgement id, already range-checked.
    """
    error = incoming_payload_error(ptype, data, present)
    if error is not None:
        raise RemoteProtocolError(error)
    if ack_id is None:
        if ptype is ACK:
            raise RemoteProtocolError("ACK packet without an id")
    elif ptype is not EVENT and ptype is not ACK:
        raise RemoteProtocolError(f"{ptype.name} packet must not have an ack id")


def check_outgoing(packet: Packet) -> PacketType:
    """Check a packet about to be encoded.

    Returns:
        The packet type, BINARY_EVENT / BINARY_ACK folded into EVENT / ACK.

    Raises:
        LocalProtocolError: The packet breaks a rule our own decoder (or the JavaScript
            one) would refuse it for.
    """
    ptype = _FOLD_BINARY.get(packet.type)
    if ptype is None:
        raise LocalProtocolError(f"unknown packet type {packet.type!r}")
    namespace = packet.namespace
    if namespace != DEFAULT_NAMESPACE and not (
        type(namespace) is str and namespace.startswith("/") and "," not in namespace
    ):
        # A comma ends the namespace on the wire (socket.io-parser ``encodeAsString``).
        raise LocalProtocolError(
            f"invalid namespace {namespace!r}: must start with '/' and contain no ','"
        )
    data = packet.data
    if ptype is EVENT:
        if not isinstance(data, (list, tuple)) or not data:
            raise LocalProtocolError("EVENT data must be a non-empty list: [name, *args]")
        name = data[0]
        if not isinstance(name, str) or not name:
            raise LocalProtocolError("the event name (first item of EVENT data) must be a string")
    elif ptype is ACK:
        if not isinstance(data, (list, tuple)):
            raise LocalProtocolError("ACK data must be a list of arguments")
    elif ptype is CONNECT:
        if data is not None and not isinstance(data, dict):
            raise LocalProtocolError("CONNECT data must be a dict or None")
    elif ptype is DISCONNECT:
        if data is not None:
            raise LocalProtocolError("DISCONNECT packets carry no data")
    elif not isinstance(data, (dict, str)):
        raise LocalProtocolError("CONNECT_ERROR data must be a dict or a string")
    ack_id = packet.id
    if ack_id is None:
        if ptype is ACK:
            raise LocalProtocolError("ACK packets need an id")
    elif ptype is not EVENT and ptype is not ACK:
        raise LocalProtocolError(f"{ptype.name} packets carry no ack id")
    elif type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID:
        raise LocalProtocolError(f"ack id must be an integer in [0, {MAX_ACK_ID}]")
    return ptype


def nesting_exceeds(root: object, limit: int) -> bool:
    """Tell whether lists and dicts in ``root`` nest deeper than ``limit`` levels.

    ``root`` itself, when a list or dict, is level 1; ``limit`` is at least 1. The walk
    uses an explicit stack, so hostile depth cannot exhaust the Python stack, and stops
    at the first level over ``limit``.
    """
    kind = type(root)
    if kind is not list and kind is not dict:
        return False
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop = stack.pop
    push = stack.append
    while stack:
        node, depth = pop()
        children = node.values() if type(node) is dict else node
        deeper = depth + 1
        for child in children:
            kind = type(child)
            if kind is list or kind is dict:
                if deeper > limit:
                    return True
                push((child, deeper))
    return False
