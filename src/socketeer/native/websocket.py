"""Sans-I/O WebSocket framing (RFC 6455), the server side of the native front-end.

Bytes in, events out: ``ServerProtocol.receive_data(data)`` returns the messages (``str``
for text, ``bytes`` for binary) that ``data`` completed, and a final ``Closed`` event when
the connection is over; the control frames it produced in reply (pong, close) are taken
with ``data_to_send()``. Messages to the peer are framed with ``encode_message`` (the same
bytes serve every recipient of a broadcast). No sockets, no clock, no exceptions because of
what the peer sent: garbage ends the connection with a close code.

Limits (every one crossed ends the connection with a close frame):

- ``max_message_size``: the largest message in bytes, checked against the length each frame
  *declares*, before its payload is buffered (1009, RFC 6455 section 7.4.1);
- ``max_fragments``: the most frames one message may be split into (1009);
- control frames carry at most 125 bytes and are never fragmented (section 5.5; 1002).

Peer errors and their codes: reserved bits without a negotiated extension, unknown opcodes,
unmasked client frames, a 64-bit length with its top bit set, a continuation frame without
a message to continue, a new message while one is fragmented, a one-byte or unknown close
code (1002); invalid UTF-8 in a text message (checked incrementally across fragments) or in
a close reason (1007).

The closing handshake (section 7): a close frame from the peer is answered with the same
code and the protocol is ``CLOSED`` (the server then closes the TCP connection first,
section 7.1.1). ``close()`` sends ours and waits in ``CLOSING`` for the peer's answer,
discarding data frames meanwhile. After a protocol error the connection is ``CLOSED`` with
``failed`` set: the front-end half-closes and drops whatever else arrives.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from ..exceptions import LocalProtocolError


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 section 5.2)."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(IntEnum):
    """The close codes this module sends or reports (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    NO_STATUS = 1005
    ABNORMAL = 1006
    INVALID_DATA = 1007
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class State(IntEnum):
    """``OPEN``; ``CLOSING`` (our close frame is sent, the peer's is awaited); ``CLOSED``."""

    OPEN = 0
    CLOSING = 1
    CLOSED = 2


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over; no event follows.

    ``code`` and ``reason`` come from the peer's close frame (1005 when it had no code), or
    name the failure: a protocol error we detected (the code we sent), or the end of the
    stream without a closing handshake (1006). ``error`` is set in those last two cases.
    """

    code: int
    reason: str = ""
    error: bool = False


Event = str | bytes | Closed
"""What ``receive_data`` returns: text and binary messages, then at most one ``Closed``."""

DEFAULT_MAX_FRAGMENTS = 1024
"""The default cap on frames per message."""

_CONTROL_LIMIT = 125
_VALID_OPCODES = frozenset(op.value for op in Opcode)
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


def valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame (RFC 6455 section 7.4, IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


# -- serializing ----------------------------------------------------------------------------

_SMALL_HEADERS = {
    opcode: [bytes((0x80 | opcode, n)) for n in range(126)]
    for opcode in (Opcode.TEXT, Opcode.BINARY)
}
_TEXT_HEADERS = _SMALL_HEADERS[Opcode.TEXT]
_BINARY_HEADERS = _SMALL_HEADERS[Opcode.BINARY]
_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack


def frame_header(opcode: int, length: int, *, fin: bool = True) -> bytes:
    """The header of an unmasked server frame carrying ``length`` payload bytes."""
    first = opcode | 0x80 if fin else opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _pack_16(first, 126, length)
    return _pack_64(first, 127, length)


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One complete unmasked frame."""
    return frame_header(opcode, len(payload)) + payload


_last_text: tuple[str, bytes] = ("", b"\x81\x00")


def encode_message(message: str | bytes) -> bytes:
    """The frame of one message: text for ``str``, binary for ``bytes``.

    A broadcast hands equal strings to every recipient: the last text frame is reused
    when the next text is equal, so it is encoded once, not once per recipient.
    """
    global _last_text
    if isinstance(message, str):
        last = _last_text
        if last[0] == message:
            return last[1]
        payload = message.encode("utf-8")
        n = len(payload)
        frame = (_TEXT_HEADERS[n] if n < 126 else frame_header(Opcode.TEXT, n)) + payload
        _last_text = (message, frame)
        return frame
    n = len(message)
    return (_BINARY_HEADERS[n] if n < 126 else frame_header(Opcode.BINARY, n)) + message


def encode_close(code: int = CloseCode.NORMAL, reason: str = "") -> bytes:
    """A close frame; 1005 (no status) gives an empty payload, a long reason is cut to fit."""
    if code == CloseCode.NO_STATUS:
        return encode_frame(Opcode.CLOSE, b"")
    data = reason.encode("utf-8")
    if len(data) > _CONTROL_LIMIT - 2:
        data = data[: _CONTROL_LIMIT - 2].decode("utf-8", "ignore").encode("utf-8")
    return encode_frame(Opcode.CLOSE, code.to_bytes(2, "big") + data)


def unmask_python(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte ``mask`` repeated (RFC 6455 section 5.3)."""
    n = len(payload)
    if not n:
        return payload
    key = (mask * ((n >> 2) + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(n, "little")


unmask: Callable[[bytes, bytes], bytes] = unmask_python
"""XOR ``payload`` with the 4-byte ``mask``: the C helper of the ``websockets`` package when
it is installed (~10x faster; 80x on 1 MB), else ``unmask_python``."""
try:
    from websockets.speedups import apply_mask as unmask
except ImportError:  # pragma: no cover - depends on the installation
    pass


# -- parsing ----------------------------------------------------------------------------------

# plain names for the hot paths (enum attribute lookups cost more)
_CONT, _TEXT, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x8, 0x9, 0xA
_OPEN, _CLOSING, _CLOSED = State.OPEN, State.CLOSING, State.CLOSED


class ServerProtocol:
    """The server side of one WebSocket connection, after the opening handshake.

    Args:
        max_message_size: the largest message, in bytes.
        max_fragments: the most frames one message may use.
    """

    __slots__ = (
        "_binary_parts",
        "_chunks",
        "_decoder",
        "_fin",
        "_frag_count",
        "_frag_opcode",
        "_frag_size",
        "_head",
        "_mask",
        "_need",
        "_opcode",
        "_out",
        "_text_parts",
        "close_code",
        "failed",
        "max_fragments",
        "max_message_size",
        "state",
    )

    def __init__(
        self, *, max_message_size: int, max_fragments: int = DEFAULT_MAX_FRAGMENTS
    ) -> None:
        if max_message_size < 0 or max_fragments < 1:
            raise LocalProtocolError("max_message_size >= 0 and max_fragments >= 1 are required")
        self.max_message_size = max_message_size
        self.max_fragments = max_fragments
        self.state = _OPEN
        self.close_code: int | None = None
        """The code of the close frame we sent (ours, or our echo of the peer's)."""
        self.failed = False
        """Whether the connection ended without a clean closing handshake."""
        self._out: list[bytes] = []
        self._head = b""  # an incomplete frame header
        self._need = 0  # payload bytes of the current frame still to come
        self._chunks: list[bytes] = []  # the payload received so far
        self._opcode = 0
        self._fin = True
        self._mask = b""
        self._frag_opcode = 0  # TEXT or BINARY while a fragmented message is open
        self._frag_size = 0
        self._frag_count = 0
        self._text_parts: list[str] = []
        self._binary_parts: list[bytes] = []
        self._decoder: codecs.IncrementalDecoder | None = None

    # -- output ----------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The control frames (pongs, close) produced since the last call."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake (nothing happens unless the connection is open)."""
        if code != CloseCode.NO_STATUS and not valid_close_code(code):
            raise LocalProtocolError(f"{code} is not a close code that may be sent")
        if self.state is _OPEN:
            self._out.append(encode_close(code, reason))
            self.close_code = code
            self.state = _CLOSING

    # -- input -----------------------------------------------------------------------------

    def receive_eof(self) -> list[Event]:
        """The peer closed the stream: 1006 unless the closing handshake was complete."""
        if self.state is _CLOSED:
            return []
        self.state = _CLOSED
        self.failed = True
        return [Closed(CloseCode.ABNORMAL, "", error=True)]

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer; the events they complete."""
        events: list[Event] = []
        if self.state is _CLOSED:
            return events
        if self._head:
            data = self._head + data
            self._head = b""
        pos = 0
        end = len(data)
        while self.state is not _CLOSED:
            need = self._need
            if need:
                # the rest of a payload that did not arrive at once
                take = min(need, end - pos)
                self._chunks.append(data[pos : pos + take])
                pos += take
                self._need = need = need - take
                if need:
                    break
                payload = unmask(b"".join(self._chunks), self._mask)
                self._chunks = []
                self._frame(payload, events)
                continue
            if end - pos < 2:
                if pos < end:
                    self._head = data[pos:]
                break
            # the first two bytes decide most errors (before the rest of the header arrives)
            first = data[pos]
            second = data[pos + 1]
            length = second & 0x7F
            opcode = first & 0x0F
            fin = first & 0x80 != 0
            if first & 0x70:
                self._fail(CloseCode.PROTOCOL_ERROR, "reserved bits set", events)
                break
            if opcode not in _VALID_OPCODES:
                self._fail(CloseCode.PROTOCOL_ERROR, f"invalid opcode {opcode}", events)
                break
            if not second & 0x80:
                self._fail(CloseCode.PROTOCOL_ERROR, "unmasked frame", events)
                break
            if opcode & 0x8:
                if not fin:
                    self._fail(CloseCode.PROTOCOL_ERROR, "fragmented control frame", events)
                    break
                if length > _CONTROL_LIMIT:
                    self._fail(CloseCode.PROTOCOL_ERROR, "control frame too long", events)
                    break
            elif opcode == _CONT:
                if not self._frag_opcode:
                    self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame", events)
                    break
                if self._frag_count >= self.max_fragments:
                    self._fail(CloseCode.MESSAGE_TOO_BIG, "too many fragments", events)
                    break
            elif self._frag_opcode:
                self._fail(CloseCode.PROTOCOL_ERROR, "expected a continuation frame", events)
                break
            size = 6 if length < 126 else 8 if length == 126 else 14
            if end - pos < size:
                self._head = data[pos:]
                break
            if length == 126:
                length = (data[pos + 2] << 8) | data[pos + 3]
            elif length == 127:
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                if length >> 63:
                    self._fail(CloseCode.PROTOCOL_ERROR, "invalid frame length", events)
                    break
            if not opcode & 0x8:
                total = length + self._frag_size if opcode == _CONT else length
                if total > self.max_message_size:
                    self._fail(CloseCode.MESSAGE_TOO_BIG, "message too big", events)
                    break
            mask = data[pos + size - 4 : pos + size]
            pos += size
            if end - pos >= length:
                payload = unmask(data[pos : pos + length], mask)
                pos += length
                if opcode == _TEXT and fin and self.state is _OPEN:
                    # the common case, inline: a whole text message in one frame
                    try:
                        events.append(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        self._fail(CloseCode.INVALID_DATA, "invalid UTF-8", events)
                    continue
                self._opcode = opcode
                self._fin = fin
                self._frame(payload, events)
            else:
                self._mask = mask
                self._opcode = opcode
                self._fin = fin
                self._chunks = [data[pos:]]
                self._need = length - (end - pos)
                break
        return events

    def _frame(self, payload: bytes, events: list[Event]) -> None:
        """Act on one complete (unmasked) frame whose header passed the checks."""
        opcode = self._opcode
        if opcode & 0x8:
            if opcode == _CLOSE:
                self._receive_close(payload, events)
            elif opcode == _PING and self.state is _OPEN:
                self._out.append(encode_frame(_PONG, payload))
            return  # a pong, or a ping while closing
        fin = self._fin
        if opcode != _CONT:
            if fin:
                if opcode == _TEXT:
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        self._fail(CloseCode.INVALID_DATA, "invalid UTF-8", events)
                        return
                    self._deliver(text, events)
                else:
                    self._deliver(payload, events)
                return
            self._frag_opcode = opcode
            if opcode == _TEXT:
                self._decoder = _Utf8Decoder("strict")
        self._frag_count += 1
        self._frag_size += len(payload)
        decoder = self._decoder
        if decoder is not None:
            try:
                self._text_parts.append(decoder.decode(payload, fin))
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_DATA, "invalid UTF-8", events)
                return
        else:
            self._binary_parts.append(payload)
        if fin:
            message: str | bytes
            if decoder is not None:
                message = "".join(self._text_parts)
                self._text_parts = []
                self._decoder = None
            else:
                message = b"".join(self._binary_parts)
                self._binary_parts = []
            self._frag_opcode = self._frag_size = self._frag_count = 0
            self._deliver(message, events)

    def _deliver(self, message: str | bytes, events: list[Event]) -> None:
        if self.state is _OPEN:
            events.append(message)
        # while closing, data frames are dropped (RFC 6455 section 1.4)

    def _receive_close(self, payload: bytes, events: list[Event]) -> None:
        if not payload:
            code, reason = int(CloseCode.NO_STATUS), ""
        elif len(payload) == 1:
            self._fail(CloseCode.PROTOCOL_ERROR, "invalid close frame", events)
            return
        else:
            code = (payload[0] << 8) | payload[1]
            if not valid_close_code(code):
                self._fail(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}", events)
                return
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_DATA, "invalid UTF-8 in close reason", events)
                return
        if self.state is _OPEN:
            # echo the peer's code (section 5.5.1)
            self._out.append(encode_close(code))
            self.close_code = code
        self.state = _CLOSED
        events.append(Closed(code, reason))

    def _fail(self, code: int, reason: str, events: list[Event]) -> None:
        """_Fail the WebSocket Connection_ (section 7.1.7): send a close frame unless one
        was sent already, and stop parsing."""
        if self.state is _OPEN:
            self._out.append(encode_close(code, reason))
            self.close_code = code
        self.state = _CLOSED
        self.failed = True
        self._chunks = []
        self._text_parts = []
        self._binary_parts = []
        events.append(Closed(code, reason, error=True))


__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "CloseCode",
    "Closed",
    "Event",
    "Opcode",
    "ServerProtocol",
    "State",
    "encode_close",
    "encode_frame",
    "encode_message",
    "frame_header",
    "unmask",
    "unmask_python",
    "valid_close_code",
]
