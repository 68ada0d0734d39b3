"""The sans-I/O WebSocket framing of the native front-end (``socketeer.native.websocket``).

Literal frames in, literal events and frames out (RFC 6455), then hypothesis: any split of
a valid frame stream gives the same events, and garbage ends with a close code, never an
exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socketeer.exceptions import LocalProtocolError
from socketeer.native import websocket as wsp
from socketeer.native.websocket import Closed, ServerProtocol, State

MASK = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length: int | None = None,
) -> bytes:
    """A client frame: masked unless ``mask`` is None; ``length`` overrides the declared one."""
    n = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes((first, mask_bit | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def text(data: str, **kw: object) -> bytes:
    return frame(0x1, data.encode(), **kw)  # type: ignore[arg-type]


def binary(data: bytes, **kw: object) -> bytes:
    return frame(0x2, data, **kw)  # type: ignore[arg-type]


def close_frame(code: int | None = 1000, reason: bytes = b"") -> bytes:
    payload = b"" if code is None else code.to_bytes(2, "big") + reason
    return frame(0x8, payload)


def server_close(code: int, reason: str = "") -> bytes:
    """The (unmasked) close frame the server sends."""
    payload = code.to_bytes(2, "big") + reason.encode()
    return bytes((0x88, len(payload))) + payload


def proto(max_message_size: int = 1000, max_fragments: int = 8) -> ServerProtocol:
    return ServerProtocol(max_message_size=max_message_size, max_fragments=max_fragments)


def feed_bytewise(p: ServerProtocol, data: bytes) -> list[wsp.Event]:
    events: list[wsp.Event] = []
    for i in range(len(data)):
        events.extend(p.receive_data(data[i : i + 1]))
    return events


# ---- serializing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65535, b"\x81\x7e\xff\xff"),
        (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_frame_header_lengths(length: int, header: bytes) -> None:
    assert wsp.frame_header(wsp.Opcode.TEXT, length) == header


def test_frame_header_without_fin() -> None:
    assert wsp.frame_header(wsp.Opcode.BINARY, 3, fin=False) == b"\x02\x03"
    assert wsp.encode_frame(wsp.Opcode.PONG, b"hi") == b"\x8a\x02hi"


def test_encode_message() -> None:
    assert wsp.encode_message("4hello") == b"\x81\x064hello"
    assert wsp.encode_message("é") == b"\x81\x02\xc3\xa9"
    assert wsp.encode_message(b"\x01\x02") == b"\x82\x02\x01\x02"
    big = "x" * 200
    assert wsp.encode_message(big) == b"\x81\x7e\x00\xc8" + big.encode()
    assert wsp.encode_message(bytes(300)) == b"\x82\x7e\x01\x2c" + bytes(300)


def test_equal_texts_share_one_frame() -> None:
    first = wsp.encode_message("4" + "broadcast" * 20)
    again = wsp.encode_message("".join(["4", "broadcast" * 20]))  # equal, not identical
    assert again is first
    assert wsp.encode_message("4other") == b"\x81\x064other"


def test_encode_close() -> None:
    assert wsp.encode_close() == b"\x88\x02\x03\xe8"
    assert wsp.encode_close(1009, "too big") == server_close(1009, "too big")
    assert wsp.encode_close(1005) == b"\x88\x00"
    long = wsp.encode_close(1000, "é" * 100)  # 200 bytes: cut to 123 without splitting a char
    assert long[1] == 2 + 122
    assert long[4:].decode() == "é" * 61


@pytest.mark.parametrize("unmask", [wsp.unmask, wsp.unmask_python])
def test_unmask(unmask: Callable[[bytes, bytes], bytes]) -> None:
    assert unmask(b"", MASK) == b""
    for n in [*range(1, 12), 1000]:
        data = bytes(i % 256 for i in range(n))
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(data))
        assert unmask(masked, MASK) == data


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        (999, False),
        (1000, True),
        (1003, True),
        (1004, False),
        (1005, False),
        (1006, False),
        (1007, True),
        (1014, True),
        (1015, False),
        (2999, False),
        (3000, True),
        (4999, True),
        (5000, False),
    ],
)
def test_valid_close_codes(code: int, valid: bool) -> None:
    assert wsp.valid_close_code(code) is valid


def test_limits_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        ServerProtocol(max_message_size=-1)
    with pytest.raises(LocalProtocolError):
        ServerProtocol(max_message_size=10, max_fragments=0)


# ---- messages ---------------------------------------------------------------------------------


def test_text_and_binary_messages() -> None:
    p = proto()
    assert p.receive_data(text("4hello") + binary(b"\x00\xff") + text("")) == [
        "4hello",
        b"\x00\xff",
        "",
    ]
    assert p.data_to_send() == b""
    assert p.state is State.OPEN


def test_byte_by_byte() -> None:
    p = proto(max_message_size=100_000)
    stream = text("é" * 70) + binary(bytes(70_000)) + text("x" * 300) + frame(0x9, b"p")
    assert feed_bytewise(p, stream) == ["é" * 70, bytes(70_000), "x" * 300]
    assert p.data_to_send() == b"\x8a\x01p"


def test_payload_split_across_reads() -> None:
    p = proto()
    data = text("abcdefgh")
    assert p.receive_data(data[:7]) == []  # header and one payload byte
    assert p.receive_data(data[7:9]) == []
    assert p.receive_data(data[9:] + text("z")) == ["abcdefgh", "z"]


def test_exactly_the_size_limit() -> None:
    p = proto(max_message_size=10)
    assert p.receive_data(binary(bytes(10))) == [bytes(10)]
    assert p.receive_data(text("é" * 5)) == ["é" * 5]
    assert p.receive_data(text("abcd", fin=False) + frame(0, b"efghij")) == ["abcdefghij"]


def test_fragmented_text_with_a_character_split_across_fragments() -> None:
    p = proto()
    data = "h€llo".encode()  # the euro sign is 3 bytes: split it
    stream = frame(0x1, data[:2], fin=False) + frame(0x0, data[2:3], fin=False)
    stream += frame(0x9, b"mid")  # a control frame between fragments (section 5.4)
    stream += frame(0x0, data[3:])
    assert p.receive_data(stream) == ["h€llo"]
    assert p.data_to_send() == b"\x8a\x03mid"


def test_fragmented_binary_then_text() -> None:
    p = proto()
    stream = binary(b"ab", fin=False) + frame(0, b"", fin=False) + frame(0, b"cd")
    stream += text("next") + frame(0xA, b"unsolicited pong")
    assert p.receive_data(stream) == [b"abcd", "next"]
    assert p.data_to_send() == b""


def test_ping_is_answered_with_its_payload() -> None:
    p = proto()
    assert p.receive_data(frame(0x9, b"") + frame(0x9, b"x" * 125)) == []
    assert p.data_to_send() == b"\x8a\x00" + b"\x8a\x7d" + b"x" * 125


# ---- protocol errors --------------------------------------------------------------------------


def assert_failed(p: ServerProtocol, events: list[wsp.Event], code: int, reason: str) -> None:
    assert events[-1] == Closed(code, reason, error=True)
    assert p.state is State.CLOSED
    assert p.failed
    assert p.close_code == code
    assert p.data_to_send() == server_close(code, reason)
    assert p.receive_data(text("ignored")) == []  # nothing after the failure


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        (frame(0x1, b"x", rsv=4), 1002, "reserved bits set"),
        (frame(0x2, b"x", rsv=1), 1002, "reserved bits set"),
        (frame(0x3), 1002, "invalid opcode 3"),
        (frame(0x7), 1002, "invalid opcode 7"),
        (frame(0xB), 1002, "invalid opcode 11"),
        (frame(0xF), 1002, "invalid opcode 15"),
        (frame(0x1, b"x", mask=None), 1002, "unmasked frame"),
        (frame(0x9, b"x", fin=False), 1002, "fragmented control frame"),
        (frame(0x9, b"x" * 126), 1002, "control frame too long"),
        (frame(0x8, b"x" * 126), 1002, "control frame too long"),
        (frame(0x0, b"x"), 1002, "unexpected continuation frame"),
        (text("a", fin=False) + text("b"), 1002, "expected a continuation frame"),
        (binary(b"a", fin=False) + binary(b"b", fin=False), 1002, "expected a continuation frame"),
        (b"\x82\xff" + b"\x80" + bytes(7) + MASK, 1002, "invalid frame length"),
        (binary(b"", length=1001), 1009, "message too big"),
        (binary(b"", length=2**40), 1009, "message too big"),
        (binary(bytes(600), fin=False) + frame(0, b"", length=401), 1009, "message too big"),
        (frame(0x1, b"\xff"), 1007, "invalid UTF-8"),
        (frame(0x1, b"\xed\xa0\x80"), 1007, "invalid UTF-8"),  # an encoded surrogate
        (frame(0x1, b"ok\xff", fin=False), 1007, "invalid UTF-8"),  # fails before the end
        (frame(0x1, b"\xe2\x82", fin=False) + frame(0, b""), 1007, "invalid UTF-8"),  # truncated
        (frame(0x8, b"\x03"), 1002, "invalid close frame"),
        (close_frame(1005), 1002, "invalid close code 1005"),
        (close_frame(999), 1002, "invalid close code 999"),
        (close_frame(1000, b"\xff"), 1007, "invalid UTF-8 in close reason"),
    ],
)
def test_protocol_errors(data: bytes, code: int, reason: str) -> None:
    p = proto()
    assert_failed(p, p.receive_data(data), code, reason)
    p = proto()
    assert_failed(p, feed_bytewise(p, data), code, reason)


def test_declared_length_is_refused_before_the_payload_arrives() -> None:
    p = proto(max_message_size=1_000_000)
    header = frame(0x2, b"", length=1_000_001)  # 14 bytes, no payload
    assert_failed(p, p.receive_data(header), 1009, "message too big")


def test_too_many_fragments() -> None:
    p = proto(max_fragments=3)
    stream = binary(b"a", fin=False) + frame(0, b"b", fin=False) + frame(0, b"c")
    assert p.receive_data(stream) == [b"abc"]  # three frames: allowed
    stream = binary(b"a", fin=False) + frame(0, b"b", fin=False) + frame(0, b"c", fin=False)
    events = p.receive_data(stream + frame(0, b"d"))
    assert_failed(p, events, 1009, "too many fragments")


def test_messages_before_an_error_are_delivered() -> None:
    p = proto()
    events = p.receive_data(text("one") + binary(b"two") + frame(0x3))
    assert events[:2] == ["one", b"two"]
    assert_failed(p, events, 1002, "invalid opcode 3")


# ---- the closing handshake --------------------------------------------------------------------


def test_peer_close_is_echoed() -> None:
    p = proto()
    assert p.receive_data(text("bye") + close_frame(1001, b"gone")) == [
        "bye",
        Closed(1001, "gone"),
    ]
    assert p.state is State.CLOSED
    assert not p.failed
    assert p.close_code == 1001
    assert p.data_to_send() == server_close(1001)
    assert p.receive_data(text("after")) == []
    assert p.receive_eof() == []


def test_peer_close_without_a_code() -> None:
    p = proto()
    assert p.receive_data(close_frame(None)) == [Closed(1005, "")]
    assert p.data_to_send() == b"\x88\x00"
    assert p.close_code == 1005


def test_server_close_then_peer_answer() -> None:
    p = proto()
    p.close(1000)
    assert p.state is State.CLOSING
    assert p.data_to_send() == server_close(1000)
    p.close(1001)  # already closing: nothing more
    assert p.data_to_send() == b""
    # data and pings are dropped while closing (no pong after our close frame)
    events = p.receive_data(text("late") + binary(b"x", fin=False) + frame(0, b"y") + frame(0x9))
    assert events == []
    assert p.data_to_send() == b""
    assert p.receive_data(close_frame(1000)) == [Closed(1000, "")]
    assert p.state is State.CLOSED
    assert not p.failed
    assert p.close_code == 1000
    assert p.data_to_send() == b""  # no second close frame


def test_error_while_closing_sends_no_second_close_frame() -> None:
    p = proto()
    p.close(1009, "message too big")
    p.data_to_send()
    assert p.receive_data(frame(0x3)) == [Closed(1002, "invalid opcode 3", error=True)]
    assert p.failed
    assert p.close_code == 1009
    assert p.data_to_send() == b""


def test_close_codes_we_may_send() -> None:
    p = proto()
    with pytest.raises(LocalProtocolError):
        p.close(1006)
    p.close(1005)
    assert p.data_to_send() == b"\x88\x00"


def test_eof() -> None:
    p = proto()
    assert p.receive_data(text("4a")[:3]) == []
    assert p.receive_eof() == [Closed(1006, "", error=True)]
    assert p.state is State.CLOSED
    assert p.receive_eof() == []
    p = proto()
    p.close()
    assert p.receive_eof() == [Closed(1006, "", error=True)]


# ---- hypothesis -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    data: str | bytes
    cuts: tuple[int, ...]  # fragment boundaries (payload offsets)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    data: str | bytes = draw(st.one_of(st.text(max_size=40), st.binary(max_size=300)))
    size = len(data.encode() if isinstance(data, str) else data)
    cuts = draw(st.lists(st.integers(0, size), max_size=4).map(lambda c: tuple(sorted(c))))
    return Message(data, cuts)


def encode_client(message: Message, mask: bytes) -> bytes:
    payload = message.data.encode() if isinstance(message.data, str) else message.data
    opcode = 0x1 if isinstance(message.data, str) else 0x2
    bounds = [0, *message.cuts, len(payload)]
    out = b""
    for i in range(len(bounds) - 1):
        last = i == len(bounds) - 2
        out += frame(
            opcode if i == 0 else 0, payload[bounds[i] : bounds[i + 1]], fin=last, mask=mask
        )
    return out


controls = st.builds(
    lambda op, payload: frame(op, payload), st.sampled_from([0x9, 0xA]), st.binary(max_size=125)
)


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bytes, list[wsp.Event], bytes]:
    """A client frame stream, the events it must give, and the control frames in reply."""
    stream = b""
    events: list[wsp.Event] = []
    replies = b""
    for item in draw(st.lists(st.one_of(messages(), controls), max_size=8)):
        mask = draw(st.binary(min_size=4, max_size=4))
        if isinstance(item, Message):
            stream += encode_client(item, mask)
            events.append(item.data)
        else:
            stream += item
            payload = wsp.unmask(item[6:], item[2:6])
            if item[0] == 0x89:
                replies += wsp.encode_frame(0xA, payload)
    if draw(st.booleans()):
        code = draw(st.sampled_from([1000, 1001, 1003, 3000, 4999]))
        reason = draw(st.text(max_size=20))
        stream += close_frame(code, reason.encode())
        events.append(Closed(code, reason))
        replies += wsp.encode_close(code)
    return stream, events, replies


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]


def run(chunks: list[bytes], **limits: int) -> tuple[list[wsp.Event], bytes, ServerProtocol]:
    p = ServerProtocol(max_message_size=limits.get("max_message_size", 100_000), max_fragments=8)
    events: list[wsp.Event] = []
    out = b""
    for chunk in chunks:
        events.extend(p.receive_data(chunk))
        out += p.data_to_send()
    return events, out, p


@settings(max_examples=300, deadline=None)
@given(valid_streams(), st.lists(st.integers(0, 5000), max_size=12))
def test_any_split_of_a_valid_stream_gives_the_same_events(
    case: tuple[bytes, list[wsp.Event], bytes], cuts: list[int]
) -> None:
    stream, expected, replies = case
    assert run([stream])[:2] == (expected, replies)
    assert run(split(stream, cuts))[:2] == (expected, replies)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(messages(), controls), max_size=3),
    st.binary(max_size=200),
    st.lists(st.integers(0, 2000), max_size=10),
)
def test_garbage_ends_with_a_close_code_never_an_exception(
    prefix: list[Message | bytes], garbage: bytes, cuts: list[int]
) -> None:
    stream = b"".join(
        encode_client(item, MASK) if isinstance(item, Message) else item for item in prefix
    )
    stream += garbage
    events, out, p = run([stream], max_message_size=64)
    assert run(split(stream, cuts), max_message_size=64)[:2] == (events, out)
    closes = [e for e in events if isinstance(e, Closed)]
    assert len(closes) <= 1
    if closes:
        assert events[-1] is closes[0]
        assert p.state is State.CLOSED
        if closes[0].error:
            assert closes[0].code in (1002, 1007, 1009)
            assert out.endswith(server_close(closes[0].code, closes[0].reason))
    else:
        assert p.state is State.OPEN
