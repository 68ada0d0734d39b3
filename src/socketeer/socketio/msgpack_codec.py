"""``MsgpackCodec``: wire-compatible with the npm ``socket.io-msgpack-parser`` 3.0.x.

Each packet is one binary Engine.IO message holding a msgpack map with the keys
``type``, ``nsp``, ``data`` (absent when there is no payload) and ``id`` (absent when
there is no ack id). There are no attachments: ``bytes`` travel inline as msgpack
``bin``, so BINARY_EVENT / BINARY_ACK never appear (the JavaScript parser only knows
types 0 to 4 and refuses 5 and 6).

The JavaScript parser (3.0.2) serialises with ``notepack.io`` 2.2.0, whose encodings we
read as follows:

- ``undefined`` is the fixext 1 ``d4 00 00``; the JavaScript client sends it as the data
  of a CONNECT without ``auth``, and for ``undefined`` object members. We read it as
  "absent": the key is dropped (``JSON.stringify`` drops it too), and an ``undefined``
  array item becomes ``None`` (``JSON.stringify`` writes ``null``);
- a ``Buffer`` is ``bin``; an ``ArrayBuffer`` / typed array is an ext of type 0, which
  we read as ``bytes``;
- a ``Date`` is the fixext 8 of type 0 holding milliseconds since the epoch; we read it,
  and the msgpack timestamp extension (type -1, used by notepack.io 3), as the string
  ``Date.prototype.toJSON`` gives, as the default JSON parser would deliver it;
- a JavaScript client sends an extra ``options`` key (``{"compress": true}``), ignored.

msgpack-python reports an extension's type and bytes but not which of ext 8 / fixext it
came in, so two encodings are ambiguous: a 1-byte typed array reads as ``undefined`` and
an 8-byte typed array as a ``Date``. ``Buffer`` (``bin``) is never ambiguous.

The checks are those of the JSON codec (type, namespace, payload shape, ack id, nesting
depth), and map keys must be strings. ``msgpack`` is an optional dependency
(``socketeer[msgpack]``), imported when a ``MsgpackCodec`` is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..exceptions import LocalProtocolError, RemoteProtocolError
from ._checks import check_incoming, check_outgoing
from .codecs import DEFAULT_MAX_DEPTH, check_limits
from .packets import MAX_ACK_ID, Packet, PacketType

__all__ = ["MsgpackCodec", "MsgpackDecoder", "MsgpackEncoder"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_TYPE: Final = PacketType.CONNECT_ERROR
_PACKET_TYPES: Final = tuple(PacketType)
_EVENT: Final = PacketType.EVENT
_ABSENT: Final = object()


class _Undefined:
    """JavaScript ``undefined`` as notepack.io encodes it (fixext 1, type 0)."""

    __slots__ = ()


_UNDEFINED: Final = _Undefined()


def _import_msgpack() -> Any:
    try:
        import msgpack  # optional dependency: imported on first use, not with this module
    except ImportError as exc:
        raise ImportError(
            "MsgpackCodec needs the msgpack package: pip install 'socketeer[msgpack]'"
        ) from exc
    return msgpack


def _js_date(milliseconds: int) -> str:
    # Date.prototype.toISOString, for the years Python's datetime can hold.
    try:
        moment = _EPOCH + timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise RemoteProtocolError("date out of range") from None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}."
        f"{moment.microsecond // 1000:03d}Z"
    )


def _ext_hook(code: int, payload: bytes) -> Any:
    if code == 0:
        if len(payload) == 1:
            return _UNDEFINED
        if len(payload) == 8:
            return _js_date(int.from_bytes(payload, "big", signed=True))
        return payload
    raise RemoteProtocolError(f"unsupported msgpack extension type {code}")


class MsgpackEncoder:
    """Encodes packets for ``socket.io-msgpack-parser``: one ``bytes`` message each.

    It reuses one msgpack ``Packer``: share it freely within a thread, not across threads.
    """

    __slots__ = ("_pack",)

    def __init__(self) -> None:
        self._pack = _import_msgpack().Packer().pack

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` as a single msgpack message.

        Raises:
            LocalProtocolError: The packet breaks a protocol rule, or its data cannot be
                written as msgpack (integers beyond 64 bits, unsupported types...).
        """
        ptype = check_outgoing(packet)
        obj: dict[str, Any] = {"type": ptype.value, "nsp": packet.namespace}
        if packet.data is not None:
            obj["data"] = packet.data
        if packet.id is not None:
            obj["id"] = packet.id
        try:
            return [self._pack(obj)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(
                f"{ptype.name} data cannot be encoded as msgpack: {exc}"
            ) from exc


class MsgpackDecoder:
    """Decodes ``socket.io-msgpack-parser`` messages; stateless but for its limits.

    Args:
        max_depth: Nesting cap of payloads, as for the JSON ``Decoder``.
    """

    __slots__ = ("_errors", "_max_depth", "_timestamp", "_unpackb")

    def __init__(self, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        check_limits(0, max_depth, 1.0)
        msgpack = _import_msgpack()
        self._max_depth = max_depth
        self._unpackb = msgpack.unpackb
        self._timestamp = msgpack.Timestamp
        self._errors: tuple[type[Exception], ...] = (ValueError, msgpack.UnpackException)

    @property
    def max_depth(self) -> int:
        """Nesting cap of payloads."""
        return self._max_depth

    @property
    def deadline(self) -> None:
        """Always ``None``: a msgpack packet is a single message."""
        return None

    def check_timeout(self, now: float) -> None:
        """Do nothing: nothing is ever pending."""

    def reset(self) -> None:
        """Do nothing: nothing is ever pending."""

    def receive(self, message: str | bytes, now: float) -> Packet:
        """Decode one binary message into a packet.

        Raises:
            RemoteProtocolError: The message is text, not msgpack, or not a valid packet.
        """
        if isinstance(message, str):
            raise RemoteProtocolError("got plaintext data: the msgpack codec expects binary")
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"messages are str or bytes, not {type(message).__name__}")
        try:
            obj = self._unpackb(message, ext_hook=_ext_hook, raw=False, strict_map_key=True)
        except self._errors as exc:
            raise RemoteProtocolError(f"invalid msgpack: {exc}") from None
        if type(obj) is not dict:
            raise RemoteProtocolError("a packet must be a msgpack map")
        ptype = obj.get("type")
        if type(ptype) is not int or not 0 <= ptype <= _LAST_TYPE:
            raise RemoteProtocolError("invalid packet type")
        namespace = obj.get("nsp")
        if type(namespace) is not str or not namespace.startswith("/") or "," in namespace:
            raise RemoteProtocolError("invalid namespace")
        ack_id = obj.get("id")
        if ack_id is _UNDEFINED:
            ack_id = None
        elif ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
            raise RemoteProtocolError("invalid ack id")
        data = obj.get("data", _ABSENT)
        present = data is not _ABSENT and data is not _UNDEFINED
        if present:
            kind = type(data)
            if kind is list or kind is dict:
                _normalize(data, self._max_depth, self._timestamp)
        else:
            data = None
        packet_type = _PACKET_TYPES[ptype]
        # Fast path for the common case, a well-formed EVENT; check_incoming otherwise.
        if not (
            packet_type is _EVENT
            and type(data) is list
            and data
            and type(data[0]) is str
            and data[0]
        ):
            check_incoming(packet_type, data, present, ack_id)
        return Packet(packet_type, namespace, data, ack_id)


def _normalize(root: list[Any] | dict[Any, Any], limit: int, timestamp: type) -> None:
    # One iterative pass, in place: depth cap, string keys, undefined, timestamps.
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deeper = depth + 1
        if type(node) is list:
            for index, item in enumerate(node):
                kind = type(item)
                if kind is list or kind is dict:
                    if deeper > limit:
                        raise RemoteProtocolError(f"payload nested deeper than {limit} levels")
                    stack.append((item, deeper))
                elif kind is _Undefined:
                    node[index] = None
                elif kind is timestamp:
                    node[index] = _timestamp_to_js(item)
            continue
        undefined_keys = []
        for key, value in node.items():
            if type(key) is not str:
                raise RemoteProtocolError("map keys must be strings")
            kind = type(value)
            if kind is list or kind is dict:
                if deeper > limit:
                    raise RemoteProtocolError(f"payload nested deeper than {limit} levels")
                stack.append((value, deeper))
            elif kind is _Undefined:
                undefined_keys.append(key)
            elif kind is timestamp:
                node[key] = _timestamp_to_js(value)
        for key in undefined_keys:
            del node[key]


def _timestamp_to_js(value: Any) -> str:
    return _js_date(value.seconds * 1000 + value.nanoseconds // 1_000_000)


@dataclass(frozen=True, slots=True)
class MsgpackCodec:
    """The msgpack codec, compatible with npm ``socket.io-msgpack-parser`` 3.0.x.

    Both sides must use it. Creating one imports ``msgpack`` (``socketeer[msgpack]``).

    Args:
        max_depth: Nesting cap of payloads (see the JSON ``Decoder``).

    Raises:
        ImportError: ``msgpack`` is not installed.
        ValueError: ``max_depth`` is out of range.
    """

    max_depth: int = DEFAULT_MAX_DEPTH
    _encoder: MsgpackEncoder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_limits(0, self.max_depth, 1.0)
        object.__setattr__(self, "_encoder", MsgpackEncoder())

    def encoder(self) -> MsgpackEncoder:
        """Return this codec's encoder (one per codec; see ``MsgpackEncoder``)."""
        return self._encoder

    def decoder(self) -> MsgpackDecoder:
        """Return a decoder for one connection."""
        return MsgpackDecoder(max_depth=self.max_depth)
