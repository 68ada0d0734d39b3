"""Hypothesis: round-trips for any data, and garbage only ever raises RemoteProtocolError."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socketeer._types import Data
from socketeer.exceptions import RemoteProtocolError
from socketeer.socketio import (
    MAX_ACK_ID,
    MAX_DEPTH_LIMIT,
    PLACEHOLDER_KEY,
    Decoder,
    Encoder,
    JsonCodec,
    MsgpackCodec,
    Packet,
    PacketType,
)

SETTINGS = settings(
    max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

keys = st.text(max_size=8).filter(lambda key: key != PLACEHOLDER_KEY)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.binary(max_size=20),
)
data: st.SearchStrategy[Data] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)
json_data = st.recursive(
    scalars.filter(lambda value: not isinstance(value, bytes)),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)
namespaces = st.one_of(
    st.just("/"), st.text(max_size=10).map(lambda text: "/" + text.replace(",", ""))
)
ack_ids = st.integers(min_value=0, max_value=MAX_ACK_ID)
names = st.text(min_size=1, max_size=10)


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    """Any valid packet, binary data included where the protocol allows it."""
    ptype = draw(st.sampled_from(list(PacketType)[:5]))
    namespace = draw(namespaces)
    if ptype is PacketType.EVENT:
        args = draw(st.lists(data, max_size=4))
        return Packet(ptype, namespace, [draw(names), *args], draw(st.none() | ack_ids))
    if ptype is PacketType.ACK:
        return Packet(ptype, namespace, draw(st.lists(data, max_size=4)), draw(ack_ids))
    if ptype is PacketType.CONNECT:
        auth = draw(st.none() | st.dictionaries(keys, json_data, max_size=4))
        return Packet(ptype, namespace, auth)
    if ptype is PacketType.DISCONNECT:
        return Packet(ptype, namespace)
    error = draw(st.text(max_size=10) | st.dictionaries(keys, json_data, max_size=4))
    return Packet(ptype, namespace, error)


def roundtrip(codec: JsonCodec | MsgpackCodec, packet: Packet) -> Packet | None:
    decoder = codec.decoder()
    *head, last = codec.encoder().encode(packet)
    for message in head:
        assert decoder.receive(message, 0.0) is None
    return decoder.receive(last, 0.0)


@SETTINGS
@given(packets())
def test_json_roundtrip(packet: Packet) -> None:
    codec = JsonCodec(max_attachments=10_000, max_depth=MAX_DEPTH_LIMIT)
    assert roundtrip(codec, packet) == packet


@SETTINGS
@given(packets())
def test_msgpack_roundtrip(packet: Packet) -> None:
    assert roundtrip(MsgpackCodec(max_depth=MAX_DEPTH_LIMIT), packet) == packet


@SETTINGS
@given(packets())
def test_binary_event_has_one_text_then_its_attachments(packet: Packet) -> None:
    first, *attachments = Encoder().encode(packet)
    assert isinstance(first, str)
    assert all(type(attachment) is bytes for attachment in attachments)
    assert first[0] in "56" if attachments else first[0] in "01234"


PREFIXES = ["0", "1", "2", "3", "4", "51-", "52-", "61-", "2/admin,", "212", "312", "/", "5", ""]
garbage_text = st.one_of(
    st.text(),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(PREFIXES), st.text()),
    st.builds(
        lambda prefix, value: (
            prefix + Encoder().encode(Packet(PacketType.ACK, "/", [value], 1))[0][2:]
        ),
        st.sampled_from(PREFIXES),
        json_data,
    ),
)


@SETTINGS
@given(st.lists(st.one_of(garbage_text, st.binary(max_size=10)), min_size=1, max_size=6))
def test_json_garbage_only_raises_remote_protocol_error(messages: list[str | bytes]) -> None:
    decoder = Decoder(max_attachments=3)
    for message in messages:
        try:
            packet = decoder.receive(message, 0.0)
        except RemoteProtocolError:
            continue
        assert packet is None or isinstance(packet, Packet)


def junk_maps() -> st.SearchStrategy[Any]:
    junk = st.one_of(scalars, json_data, st.just(msgpack.ExtType(0, b"\x00")))
    field_values = {
        "type": st.one_of(st.integers(-2, 8), junk),
        "nsp": st.one_of(namespaces, junk),
        "data": st.one_of(data, junk),
        "id": st.one_of(ack_ids, junk),
    }
    return st.fixed_dictionaries({}, optional=field_values)


@SETTINGS
@given(st.one_of(st.binary(), junk_maps().map(lambda value: msgpack.packb(value))))
def test_msgpack_garbage_only_raises_remote_protocol_error(message: bytes) -> None:
    try:
        packet = MsgpackCodec().decoder().receive(message, 0.0)
    except RemoteProtocolError:
        return
    assert isinstance(packet, Packet)
