"""Golden vectors: every example of the Socket.IO v5 specification, in both directions.

The data lives in ``tests/vectors/socketio_v5.json`` (JSON codec) and
``tests/vectors/socketio_msgpack.json`` (msgpack codec).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from socketeer.socketio import JsonCodec, MsgpackCodec, Packet, PacketType

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
JSON_VECTORS = json.loads((VECTORS / "socketio_v5.json").read_text("utf-8"))["vectors"]
MSGPACK_VECTORS = json.loads((VECTORS / "socketio_msgpack.json").read_text("utf-8"))["vectors"]

FOLDED = {PacketType.BINARY_EVENT: PacketType.EVENT, PacketType.BINARY_ACK: PacketType.ACK}


def revive(value: Any) -> Any:
    """Turn the vectors' ``{"$bytes": hex}`` markers into ``bytes``."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {key: revive(item) for key, item in value.items()}
    if isinstance(value, list):
        return [revive(item) for item in value]
    return value


def packet_of(spec: dict[str, Any]) -> Packet:
    return Packet(
        PacketType[spec["type"]], spec["namespace"], revive(spec.get("data")), spec.get("id")
    )


def names(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def test_every_specification_table_row_is_present() -> None:
    encodings = {vector["encoded"][0] for vector in JSON_VECTORS}
    for expected in [
        "0",
        '0{"sid":"wZX3oN0bSVIhsaknAAAI"}',
        "0/admin,",
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        '4{"message":"Not authorized"}',
        '2["foo"]',
        '2/admin,["bar"]',
        '51-["baz",{"_placeholder":true,"num":0}]',
        '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        '212["foo"]',
        "312[]",
        '2/admin,13["foo"]',
        '3/admin,13["bar"]',
        '51-14["foo",{"_placeholder":true,"num":0}]',
        '314["bar"]',
        '215["foo"]',
        '61-15["bar",{"_placeholder":true,"num":0}]',
        "1",
        "1/admin,",
        '2["hey","Jude"]',
        '2/admin,1["tellme"]',
        '61-/admin,1[{"_placeholder":true,"num":0}]',
    ]:
        assert expected in encodings


@pytest.mark.parametrize("vector", JSON_VECTORS, ids=names(JSON_VECTORS))
def test_json_encode(vector: dict[str, Any]) -> None:
    encoded = JsonCodec().encoder().encode(packet_of(vector["packet"]))
    assert encoded == revive(vector["encoded"])


@pytest.mark.parametrize("vector", JSON_VECTORS, ids=names(JSON_VECTORS))
def test_json_decode(vector: dict[str, Any]) -> None:
    decoder = JsonCodec().decoder()
    *head, last = revive(vector["encoded"])
    for message in head:
        assert decoder.receive(message, 0.0) is None
        assert decoder.deadline is not None
    packet = decoder.receive(last, 0.0)
    expected = packet_of(vector["packet"])
    assert packet == Packet(FOLDED.get(expected.type, expected.type), *_rest(expected))
    assert decoder.deadline is None


def _rest(packet: Packet) -> tuple[str, Any, int | None]:
    return packet.namespace, packet.data, packet.id


@pytest.mark.parametrize("vector", MSGPACK_VECTORS, ids=names(MSGPACK_VECTORS))
def test_msgpack_decode(vector: dict[str, Any]) -> None:
    packet = MsgpackCodec().decoder().receive(bytes.fromhex(vector["encoded"]), 0.0)
    assert packet == packet_of(vector["packet"])


ENCODE_VECTORS = [vector for vector in MSGPACK_VECTORS if "encode" in vector["directions"]]


@pytest.mark.parametrize("vector", ENCODE_VECTORS, ids=names(ENCODE_VECTORS))
def test_msgpack_encode(vector: dict[str, Any]) -> None:
    encoded = MsgpackCodec().encoder().encode(packet_of(vector["packet"]))
    assert encoded == [bytes.fromhex(vector["encoded"])]
