"""Codecs: turn packets into Engine.IO messages and back. ``JsonCodec`` is the default.

The JSON codec is wire-compatible with the JavaScript ``socket.io-parser`` (the format of
socket.io-protocol v5, "Packet encoding")::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]  + binary attachments

The namespace is omitted when it is ``"/"``. An EVENT or ACK whose data holds ``bytes``
is sent as BINARY_EVENT / BINARY_ACK: one text message with placeholders, then one binary
message per attachment.

Decoding is stateful per connection (a binary packet spans several messages), so each
Engine.IO connection owns one decoder. Decoders are sans-I/O: time is passed in as
``now`` (seconds, any monotonic origin), and ``deadline`` says when a pending binary
packet must be complete; the runtime arms a timer and calls ``check_timeout(now)``.

Limits of ``Decoder`` (each crossed limit raises ``RemoteProtocolError``):

- ``max_attachments`` (default 10, as the JavaScript parser's ``maxAttachments``): the
  count cap on attachments per packet. With Engine.IO's ``max_payload`` as the size cap
  of each message, it bounds the memory a pending packet can hold.
- ``max_attachment_wait`` (default 30 s): the time cap between the text part of a binary
  packet and its last attachment. The JavaScript parser has none; a peer that never sends
  the attachments would otherwise hold the decoder forever. Over WebSocket the
  attachments follow in the next frames, over polling in the same payload, so 30 s only
  bites a stalled or hostile peer, while leaving room for large attachments on slow links.
- ``max_depth`` (default 64, at most 200): the nesting cap of the JSON payload, the
  outer array or object being level 1. JavaScript has no limit but its stack; Python's
  is smaller, and code downstream walks the data recursively (placeholders, handlers,
  re-encoding for a broadcast, ``repr``). 64 keeps that code far from the recursion
  limit while leaving room for deep real documents (rich-text trees with nested lists
  go past 32). The check is free for payloads of at most ``2 * max_depth`` characters,
  costs two ``str.count`` calls when the payload holds at most ``max_depth`` brackets,
  and an iterative walk otherwise; orjson itself refuses more than 1024 levels, so a
  megabyte of ``[`` fails fast.
- ack ids have at most 16 digits and are at most ``MAX_ACK_ID`` (2**53 - 1, the
  largest integer JavaScript's ``Number`` holds exactly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson

from .. import _json
from ..exceptions import LocalProtocolError, RemoteProtocolError
from ._checks import check_incoming, check_outgoing, nesting_exceeds
from .binary import deconstruct, has_binary, reconstruct
from .packets import DEFAULT_NAMESPACE, MAX_ACK_ID, Packet, PacketType

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "DEFAULT_MAX_ATTACHMENT_WAIT",
    "DEFAULT_MAX_DEPTH",
    "MAX_DEPTH_LIMIT",
    "Codec",
    "Decoder",
    "Encoder",
    "JsonCodec",
    "PacketDecoder",
    "PacketEncoder",
]

DEFAULT_MAX_ATTACHMENTS: Final = 10
"""Default cap on binary attachments per packet (the JavaScript ``maxAttachments``)."""

DEFAULT_MAX_DEPTH: Final = 64
"""Default cap on payload nesting (lists and objects; the outer one is level 1)."""

MAX_DEPTH_LIMIT: Final = 200
"""The largest ``max_depth`` accepted: deeper data would strain recursive consumers."""

DEFAULT_MAX_ATTACHMENT_WAIT: Final = 30.0
"""Default seconds allowed between a binary packet's text part and its last attachment."""

_MAX_ID_DIGITS: Final = len(str(MAX_ACK_ID))
_MAX_COUNT_DIGITS: Final = 10
_TYPE_BY_CHAR: Final = {str(int(ptype)): ptype for ptype in PacketType}
_CHAR_BY_TYPE: Final = {ptype: str(int(ptype)) for ptype in PacketType}
_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK
_BINARY_EVENT: Final = PacketType.BINARY_EVENT
_BINARY_ACK: Final = PacketType.BINARY_ACK
_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads


class PacketEncoder(Protocol):
    """Turns packets into Engine.IO messages."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` into the messages to send, in order.

        Raises:
            LocalProtocolError: The packet is invalid or its data cannot be encoded.
        """


class PacketDecoder(Protocol):
    """Turns the Engine.IO messages of one connection into packets (stateful)."""

    @property
    def deadline(self) -> float | None:
        """When the pending packet must be complete, or ``None`` when nothing is pending."""

    def receive(self, message: str | bytes, now: float) -> Packet | None:
        """Feed one message; return the packet it completes, or ``None`` while waiting.

        Raises:
            RemoteProtocolError: The message is invalid (the connection should close).
        """

    def check_timeout(self, now: float) -> None:
        """Raise ``RemoteProtocolError`` when the pending packet is overdue at ``now``."""

    def reset(self) -> None:
        """Forget any partly received packet."""


class Codec(Protocol):
    """A wire format: makes an encoder (shareable) and per-connection decoders."""

    def encoder(self) -> PacketEncoder:
        """Return an encoder; encoders are stateless and may be shared."""

    def decoder(self) -> PacketDecoder:
        """Return a fresh decoder for one connection."""


def check_limits(max_attachments: int, max_depth: int, max_attachment_wait: float) -> None:
    """Validate decoder limits, raising ``ValueError`` for nonsensical ones."""
    if type(max_attachments) is not int or max_attachments < 0:
        raise ValueError("max_attachments must be a non-negative integer")
    if type(max_depth) is not int or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise ValueError(f"max_depth must be an integer in [1, {MAX_DEPTH_LIMIT}]")
    if not isinstance(max_attachment_wait, (int, float)) or not (
        max_attachment_wait > 0 and math.isfinite(max_attachment_wait)
    ):
        raise ValueError("max_attachment_wait must be a positive number of seconds")


class Encoder:
    """The JSON encoder, compatible with the JavaScript ``socket.io-parser`` ``Encoder``.

    Stateless: one instance may serve every connection.
    """

    __slots__ = ()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet``: one string, then one ``bytes`` per binary attachment.

        Args:
            packet: The packet; an EVENT / ACK whose data holds ``bytes`` (or
                ``bytearray`` / ``memoryview``) anywhere becomes a BINARY_EVENT /
                BINARY_ACK.

        Returns:
            ``[text]`` or ``[text, attachment, ...]``.

        Raises:
            LocalProtocolError: The packet breaks a protocol rule (see
                ``Packet``), or its data cannot be written as JSON.
        """
        ptype = check_outgoing(packet)
        data = packet.data
        attachments: list[bytes] | None = None
        if data is None:
            payload = ""
        else:
            try:
                # Fast path: orjson refuses bytes, so success means "no binary".
                payload = _orjson_dumps(data).decode()
            except TypeError:
                payload, attachments = _slow_payload(ptype, data)
        if attachments:
            binary_type = _BINARY_EVENT if ptype is _EVENT else _BINARY_ACK
            head = f"{_CHAR_BY_TYPE[binary_type]}{len(attachments)}-"
        else:
            head = _CHAR_BY_TYPE[ptype]
        namespace = packet.namespace
        if namespace != DEFAULT_NAMESPACE:
            head += namespace + ","
        if packet.id is not None:
            head += str(packet.id)
        if attachments:
            messages: list[str | bytes] = [head + payload]
            messages.extend(attachments)
            return messages
        return [head + payload]


def _slow_payload(ptype: PacketType, data: Any) -> tuple[str, list[bytes] | None]:
    # orjson refused the data: it holds binary, or something only the stdlib fallback
    # of _json writes (huge integers, non-str keys...), or something unserialisable.
    attachments = None
    if (ptype is _EVENT or ptype is _ACK) and has_binary(data):
        data, attachments = deconstruct(data)
    try:
        return _json.dumps(data), attachments
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"{ptype.name} data cannot be encoded as JSON: {exc}") from exc


class Decoder:
    """The JSON decoder for one connection, compatible with ``socket.io-parser``.

    Args:
        max_attachments: Count cap on the attachments of one binary packet.
        max_depth: Nesting cap of JSON payloads (1 to ``MAX_DEPTH_LIMIT``).
        max_attachment_wait: Seconds allowed for all attachments of a binary packet to
            arrive after its text part.

    Raises:
        ValueError: A limit is out of range.
    """

    __slots__ = (
        "_attachments",
        "_deadline",
        "_expected",
        "_max_attachment_wait",
        "_max_attachments",
        "_max_depth",
        "_pending",
    )

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_attachment_wait: float = DEFAULT_MAX_ATTACHMENT_WAIT,
    ) -> None:
        check_limits(max_attachments, max_depth, max_attachment_wait)
        self._max_attachments = max_attachments
        self._max_depth = max_depth
        self._max_attachment_wait = float(max_attachment_wait)
        self._pending: Packet | None = None
        self._expected = 0
        self._attachments: list[bytes] = []
        self._deadline: float | None = None

    @property
    def max_attachments(self) -> int:
        """Count cap on the attachments of one binary packet."""
        return self._max_attachments

    @property
    def max_depth(self) -> int:
        """Nesting cap of JSON payloads."""
        return self._max_depth

    @property
    def max_attachment_wait(self) -> float:
        """Seconds allowed for a binary packet's attachments to arrive."""
        return self._max_attachment_wait

    @property
    def deadline(self) -> float | None:
        """When the pending binary packet must be complete; ``None`` if none is pending."""
        return self._deadline

    def reset(self) -> None:
        """Forget any partly received binary packet (JavaScript ``destroy()``)."""
        self._pending = None
        self._expected = 0
        self._attachments = []
        self._deadline = None

    def check_timeout(self, now: float) -> None:
        """Raise when the pending binary packet's attachments are overdue.

        Raises:
            RemoteProtocolError: ``now`` is at or past ``deadline``; the pending packet
                is dropped.
        """
        if self._deadline is not None and now >= self._deadline:
            missing = self._expected - len(self._attachments)
            self.reset()
            raise RemoteProtocolError(
                f"binary packet incomplete: {missing} attachment(s) not received in time"
            )

    def receive(self, message: str | bytes, now: float) -> Packet | None:
        """Feed one Engine.IO message.

        Args:
            message: A text message (a packet) or a binary one (an attachment).
            now: The current time, in seconds.

        Returns:
            The decoded packet, or ``None`` while a binary packet awaits attachments.

        Raises:
            RemoteProtocolError: The message is invalid here; any pending packet is
                dropped.
        """
        pending = self._pending
        if pending is not None:
            return self._receive_attachment(pending, message, now)
        if isinstance(message, str):
            return self._receive_text(message, now)
        if isinstance(message, (bytes, bytearray, memoryview)):
            raise RemoteProtocolError("got binary data when not reconstructing a packet")
        raise LocalProtocolError(f"messages are str or bytes, not {type(message).__name__}")

    def _receive_attachment(
        self, pending: Packet, message: str | bytes, now: float
    ) -> Packet | None:
        if isinstance(message, str):
            self.reset()
            raise RemoteProtocolError("got plaintext data when reconstructing a packet")
        self.check_timeout(now)
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise LocalProtocolError(f"messages are str or bytes, not {type(message).__name__}")
        self._attachments.append(bytes(message))
        if len(self._attachments) < self._expected:
            return None
        attachments = self._attachments
        self.reset()
        return Packet(
            pending.type, pending.namespace, reconstruct(pending.data, attachments), pending.id
        )

    def _receive_text(self, text: str, now: float) -> Packet | None:
        # socket.io-parser ``decodeString``, with every field checked strictly.
        if not text:
            raise RemoteProtocolError("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise RemoteProtocolError(f"unknown packet type {text[0]!r}")
        length = len(text)
        index = 1
        expected = 0
        if ptype is _BINARY_EVENT or ptype is _BINARY_ACK:
            end = min(length, 1 + _MAX_COUNT_DIGITS + 1)
            while index < end and "0" <= text[index] <= "9":
                index += 1
            if index == 1 or index == end or text[index] != "-":
                raise RemoteProtocolError("invalid attachment count")
            expected = int(text[1:index])
            if expected < 1:
                raise RemoteProtocolError("invalid attachment count")
            if expected > self._max_attachments:
                raise RemoteProtocolError(
                    f"too many attachments: {expected} > {self._max_attachments}"
                )
            index += 1
            ptype = _EVENT if ptype is _BINARY_EVENT else _ACK
        namespace = DEFAULT_NAMESPACE
        if index < length and text[index] == "/":
            comma = text.find(",", index)
            if comma < 0:
                namespace = text[index:]
                index = length
            else:
                namespace = text[index:comma]
                index = comma + 1
        ack_id = None
        if index < length and "0" <= text[index] <= "9":
            start = index
            end = min(length, start + _MAX_ID_DIGITS + 1)
            while index < end and "0" <= text[index] <= "9":
                index += 1
            ack_id = int(text[start:index])
            if ack_id > MAX_ACK_ID:
                raise RemoteProtocolError(f"ack id too large (more than {MAX_ACK_ID})")
        data: Any = None
        present = index < length
        if present:
            payload = text[index:]
            try:
                data = _orjson_loads(payload)
            except ValueError:
                data = _loads_like_js(payload)
            # Depth d needs at least d openers and 2d characters: the cheap bounds spare
            # the walk to nearly every payload.
            max_depth = self._max_depth
            if (
                len(payload) > 2 * max_depth
                and payload.count("[") + payload.count("{") > max_depth
                and nesting_exceeds(data, max_depth)
            ):
                raise RemoteProtocolError(f"payload nested deeper than {max_depth} levels")
        # Fast path for the common case, a well-formed EVENT; check_incoming otherwise.
        if not (
            ptype is _EVENT and type(data) is list and data and type(data[0]) is str and data[0]
        ):
            check_incoming(ptype, data, present, ack_id)
        if expected:
            self._pending = Packet(ptype, namespace, data, ack_id)
            self._expected = expected
            self._deadline = now + self._max_attachment_wait
            return None
        return Packet(ptype, namespace, data, ack_id)


def _loads_like_js(payload: str) -> Any:
    # orjson refused the payload: _json accepts the little more JSON.parse does.
    try:
        return _json.loads(payload)
    except ValueError:
        raise RemoteProtocolError("invalid JSON payload") from None


_ENCODER: Final = Encoder()


@dataclass(frozen=True, slots=True)
class JsonCodec:
    """The default codec, wire-compatible with the JavaScript ``socket.io-parser``.

    Args:
        max_attachments: See ``Decoder``.
        max_depth: See ``Decoder``.
        max_attachment_wait: See ``Decoder``.
    """

    max_attachments: int = DEFAULT_MAX_ATTACHMENTS
    max_depth: int = DEFAULT_MAX_DEPTH
    max_attachment_wait: float = DEFAULT_MAX_ATTACHMENT_WAIT

    def __post_init__(self) -> None:
        check_limits(self.max_attachments, self.max_depth, self.max_attachment_wait)

    def encoder(self) -> Encoder:
        """Return the shared, stateless JSON encoder."""
        return _ENCODER

    def decoder(self) -> Decoder:
        """Return a new JSON decoder for one connection."""
        return Decoder(
            max_attachments=self.max_attachments,
            max_depth=self.max_depth,
            max_attachment_wait=self.max_attachment_wait,
        )
