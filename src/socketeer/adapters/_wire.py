"""Encodings shared by the cluster adapters and the emitters (private).

- msgpack as ``notepack.io`` 3.x writes and reads it (the JS Redis adapters and emitter):
  ``bytes`` are ``bin``, ``str`` is ``str``; a JS ``Date`` arrives as the timestamp
  extension (type -1) and becomes the string ``Date.prototype.toJSON`` gives; the legacy
  ``undefined`` (fixext 1, type 0) becomes ``None`` in arrays and drops the key in maps.
- JSON as ``JSON.stringify`` writes it: a ``Buffer`` becomes ``{"type": "Buffer",
  "data": [...]}``, which is what we write for ``bytes`` too.
- the checks applied to everything that comes off a channel: a decoded value is only ever
  looked at through these helpers, which raise ``RemoteProtocolError`` for anything that
  is not the expected shape. Nothing received is ever executed, imported or used as an
  attribute name.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable
from typing import Any, Final

from .. import _json
from .._types import Room, SocketId
from ..exceptions import LocalProtocolError, RemoteProtocolError
from ..socketio._checks import nesting_exceeds
from ..socketio.binary import has_binary
from ..socketio.codecs import DEFAULT_MAX_DEPTH
from ..socketio.msgpack_codec import _ext_hook, _import_msgpack, _normalize
from ..socketio.packets import RESERVED_EVENTS
from .base import BroadcastFlags, BroadcastOptions, SocketDetails

MAX_DEPTH: Final = DEFAULT_MAX_DEPTH
"""How deeply lists and maps of a received message may nest."""

NAMESPACE_RESERVED_EVENTS: Final = frozenset({"connect", "connection", "new_namespace"})
"""Event names a server-side emit may not use (JS ``namespace.ts`` ``RESERVED_EVENTS``)."""

_UIDCHARS: Final = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def uid2(length: int) -> str:
    """A random id of ``length`` URL-safe characters, as the npm ``uid2`` makes them (the
    classic adapter's node and request ids): ``A-Z a-z 0-9 - _``."""
    return "".join(_UIDCHARS[b % 64] for b in os.urandom(length))


def random_hex_id() -> str:
    """16 hex characters, as ``randomBytes(8).toString("hex")`` (ClusterAdapter ids)."""
    return os.urandom(8).hex()


# -- msgpack (notepack.io) -------------------------------------------------------------------


class Msgpack:
    """notepack.io-compatible msgpack, with the decoding limits of the Socket.IO codecs."""

    __slots__ = ("_errors", "_packb", "_timestamp", "_unpackb")

    def __init__(self) -> None:
        msgpack = _import_msgpack()
        self._packb = msgpack.packb
        self._unpackb = msgpack.unpackb
        self._timestamp = msgpack.Timestamp
        self._errors: tuple[type[Exception], ...] = (ValueError, msgpack.UnpackException)

    def encode(self, value: Any) -> bytes:
        """Pack ``value``; raises ``LocalProtocolError`` when msgpack cannot hold it."""
        try:
            packed: bytes = self._packb(value, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(f"cannot be encoded as msgpack: {exc}") from exc
        return packed

    def decode(self, payload: bytes) -> Any:
        """Unpack one value; raises ``RemoteProtocolError`` when it is not valid."""
        try:
            value = self._unpackb(payload, raw=False, strict_map_key=False, ext_hook=_ext_hook)
        except RemoteProtocolError:
            raise
        except self._errors as exc:
            raise RemoteProtocolError(f"invalid msgpack: {exc}") from None
        kind = type(value)
        if kind is list or kind is dict:
            _normalize(value, MAX_DEPTH, self._timestamp)
        elif kind is self._timestamp:
            raise RemoteProtocolError("a bare timestamp is not a message")
        return value


_msgpack: Msgpack | None = None


def msgpack() -> Msgpack:
    """The shared ``Msgpack`` (created on first use: ``msgpack`` is an optional dependency)."""
    global _msgpack
    if _msgpack is None:
        _msgpack = Msgpack()
    return _msgpack


# -- JSON (JSON.stringify / JSON.parse) ------------------------------------------------------


def _buffers_as_js(value: Any) -> Any:
    """``bytes`` -> ``{"type": "Buffer", "data": [...]}``, as ``Buffer.prototype.toJSON``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}
    if isinstance(value, list | tuple):
        return [_buffers_as_js(item) for item in value]
    if isinstance(value, dict):
        return {key: _buffers_as_js(item) for key, item in value.items()}
    return value


def json_dumps(value: Any) -> str:
    """``JSON.stringify(value)``; ``bytes`` are written as a Node ``Buffer`` is."""
    if has_binary(value):
        value = _buffers_as_js(value)
    try:
        return _json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"cannot be encoded as JSON: {exc}") from exc


def json_loads(payload: bytes | str) -> Any:
    """``JSON.parse(payload)``, with the nesting cap; ``RemoteProtocolError`` when invalid."""
    try:
        value = _json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise RemoteProtocolError(f"invalid JSON: {exc}") from None
    if nesting_exceeds(value, MAX_DEPTH):
        raise RemoteProtocolError(f"message nested deeper than {MAX_DEPTH} levels")
    return value


def decode_json_or_msgpack(payload: bytes) -> Any:
    """What the JS adapters do: JSON when the first byte is ``{``, msgpack otherwise."""
    if payload[:1] == b"{":
        return json_loads(payload)
    return msgpack().decode(payload)


# -- checks of received values ---------------------------------------------------------------


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a map, else ``RemoteProtocolError``."""
    if type(value) is not dict:
        raise RemoteProtocolError(f"{what} must be a map")
    return value


def expect_str(value: Any, what: str) -> str:
    """``value`` if it is a string, else ``RemoteProtocolError``."""
    if type(value) is not str:
        raise RemoteProtocolError(f"{what} must be a string")
    return value


def optional_str(value: Any, what: str) -> str | None:
    """``None`` or a string, else ``RemoteProtocolError``."""
    return None if value is None else expect_str(value, what)


def expect_int(value: Any, what: str) -> int:
    """``value`` if it is a non-negative integer (a JS number without fraction)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value < 0:
        raise RemoteProtocolError(f"{what} must be a non-negative integer")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is an array, else ``RemoteProtocolError``."""
    if type(value) is not list:
        raise RemoteProtocolError(f"{what} must be an array")
    return value


def _room(value: Any) -> Room:
    # JS rooms may be numbers (socket.join(1)): compare them as String(n) would print them.
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)
    if kind is float and value.is_integer():
        return str(int(value))
    raise RemoteProtocolError("a room must be a string")


def rooms_of(value: Any, what: str) -> frozenset[Room]:
    """A set of rooms from an array (absent means none)."""
    if value is None:
        return frozenset()
    return frozenset(_room(item) for item in expect_list(value, what))


def room_list(rooms: Iterable[Room]) -> list[Room]:
    """Rooms as an array, in a stable order."""
    return sorted(rooms)


def flags_to_wire(flags: BroadcastFlags) -> dict[str, Any]:
    """The JS ``BroadcastFlags`` object: only the flags that are set (``local`` is never
    sent: a local broadcast is not published)."""
    wire: dict[str, Any] = {}
    if flags.volatile:
        wire["volatile"] = True
    if not flags.compress:
        wire["compress"] = False
    if flags.timeout is not None:
        wire["timeout"] = round(flags.timeout * 1000)
    return wire


def flags_from_wire(value: Any) -> BroadcastFlags:
    """``BroadcastFlags`` from the JS object (unknown flags are ignored)."""
    if value is None:
        return BroadcastFlags()
    flags = expect_dict(value, "flags")
    timeout = flags.get("timeout")
    seconds: float | None = None
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout >= 0:
        seconds = timeout / 1000
    return BroadcastFlags(
        volatile=bool(flags.get("volatile")),
        compress=flags.get("compress") is not False,
        timeout=seconds,
    )


def options_to_wire(options: BroadcastOptions, *, flags: bool = True) -> dict[str, Any]:
    """``{rooms, except, flags}`` (``flags`` left out for join/leave/disconnect requests)."""
    wire: dict[str, Any] = {
        "rooms": room_list(options.rooms),
        "except": room_list(options.except_rooms),
    }
    if flags:
        wire["flags"] = flags_to_wire(options.flags)
    return wire


def options_from_wire(value: Any) -> BroadcastOptions:
    """``BroadcastOptions`` from ``{rooms, except, flags}``; the ``local`` flag never comes
    from the wire."""
    opts = expect_dict(value, "opts")
    return BroadcastOptions(
        rooms=rooms_of(opts.get("rooms"), "opts.rooms"),
        except_rooms=rooms_of(opts.get("except"), "opts.except"),
        flags=flags_from_wire(opts.get("flags")),
    )


def event_data(value: Any, what: str = "packet data", *, server_side: bool = False) -> list[Any]:
    """An event's ``[name, ...args]``: a non-empty array whose first item is a non-empty
    string that is not reserved (for clients; ``server_side``: for namespaces too)."""
    data = expect_list(value, what)
    if not data or type(data[0]) is not str or not data[0]:
        raise RemoteProtocolError(f"{what} must start with an event name")
    name = data[0]
    if name in RESERVED_EVENTS or (server_side and name in NAMESPACE_RESERVED_EVENTS):
        raise RemoteProtocolError(f"{name!r} is a reserved event name")
    return data


def event_packet(value: Any) -> list[Any]:
    """The ``data`` of a broadcast packet ``{type: 2, data, nsp?}``."""
    packet = expect_dict(value, "packet")
    if packet.get("type") not in (2, 5):  # EVENT (BINARY_EVENT from other ports)
        raise RemoteProtocolError("a broadcast packet must be an EVENT")
    return event_data(packet.get("data"))


def details_to_wire(details: SocketDetails) -> dict[str, Any]:
    """A fetched socket as JS sends it: ``{id, handshake, rooms, data}``."""
    wire: dict[str, Any] = {
        "id": details.id,
        "handshake": details.handshake,
        "rooms": room_list(details.rooms),
    }
    if details.data is not None:
        wire["data"] = details.data
    return wire


def details_from_wire(value: Any) -> SocketDetails:
    """A fetched socket from ``{id, handshake, rooms, data}``."""
    socket = expect_dict(value, "socket")
    handshake = socket.get("handshake")
    return SocketDetails(
        id=SocketId(expect_str(socket.get("id"), "socket id")),
        handshake=expect_dict(handshake, "handshake") if handshake is not None else {},
        rooms=rooms_of(socket.get("rooms"), "socket rooms"),
        data=socket.get("data"),
    )


def check_event_to_send(event: str, *, server_side: bool = False) -> None:
    """Refuse the event names a broadcast (``server_side``: a server-side emit) may not
    carry."""
    if not isinstance(event, str) or not event:
        raise LocalProtocolError(f"an event name must be a non-empty string, not {event!r}")
    if event in RESERVED_EVENTS or (server_side and event in NAMESPACE_RESERVED_EVENTS):
        raise LocalProtocolError(f'"{event}" is a reserved event name')


def first_arg(args: list[Any]) -> Any:
    """What crosses node boundaries of an acknowledgement: its first argument only."""
    return args[0] if args else None


__all__ = [
    "MAX_DEPTH",
    "NAMESPACE_RESERVED_EVENTS",
    "Msgpack",
    "check_event_to_send",
    "decode_json_or_msgpack",
    "details_from_wire",
    "details_to_wire",
    "event_data",
    "event_packet",
    "expect_dict",
    "expect_int",
    "expect_list",
    "expect_str",
    "first_arg",
    "flags_from_wire",
    "flags_to_wire",
    "json_dumps",
    "json_loads",
    "msgpack",
    "optional_str",
    "options_from_wire",
    "options_to_wire",
    "random_hex_id",
    "room_list",
    "rooms_of",
    "uid2",
]
