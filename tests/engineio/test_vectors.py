"""Golden vectors of the engine.io-protocol v4 README and test suite (tests/vectors)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from socketeer._types import SessionId
from socketeer.engineio import (
    CloseReason,
    MessageReceived,
    Packet,
    PacketType,
    ServerSession,
    SessionClosed,
    Transport,
    UpgradeCompleted,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_packet_text,
    encode_payload,
)
from socketeer.engineio.packets import PING_PROBE, PONG_PROBE
from socketeer.exceptions import RemoteProtocolError

from .helpers import config

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "engineio_v4.json").read_text("utf-8")
)

Kind = Literal["websocket", "polling", "payload"]


@dataclass(frozen=True)
class Case:
    """One wire form of one or more packets."""

    kind: Kind
    packets: tuple[Packet, ...]
    wire: str | bytes


def _packet(raw: dict[str, Any]) -> Packet:
    if "binary" in raw:
        return Packet(PacketType(raw["type"]), bytes(raw["binary"]))
    return Packet(PacketType(raw["type"]), raw["data"])


def _wire(raw: str | dict[str, Any]) -> str | bytes:
    return raw if isinstance(raw, str) else bytes(raw["binary"])


def _cases() -> list[Any]:
    cases = []
    for vector in VECTORS["packets"]:
        packet = _packet(vector["packet"])
        for kind in ("websocket", "polling"):
            case = Case(kind, (packet,), _wire(vector[kind]))
            cases.append(pytest.param(case, id=f"{kind}-{vector['id']}"))
    for vector in VECTORS["payloads"]:
        packets = tuple(_packet(raw) for raw in vector["packets"])
        case = Case("payload", packets, vector["encoded"])
        cases.append(pytest.param(case, id=f"payload-{vector['id']}"))
    return cases


CASES = _cases()


class TestVectorFile:
    def test_covers_every_packet_type_and_both_binary_forms(self) -> None:
        packets = [c.values[0] for c in CASES]
        types = {p.type for case in packets for p in case.packets}
        assert types == set(PacketType)
        assert any(isinstance(c.wire, bytes) for c in packets if c.kind == "websocket")
        assert any(isinstance(c.wire, str) and c.wire.startswith("b") for c in packets)
        assert any("\x1e" in c.wire for c in packets if isinstance(c.wire, str))


@pytest.mark.parametrize("case", CASES)
def test_encode(case: Case) -> None:
    match case.kind:
        case "websocket":
            (packet,) = case.packets
            assert encode_packet(packet) == case.wire
        case "polling":
            (packet,) = case.packets
            assert encode_packet_text(packet) == case.wire
        case "payload":
            assert encode_payload(case.packets) == case.wire


@pytest.mark.parametrize("case", CASES)
def test_decode(case: Case) -> None:
    match case.kind:
        case "websocket" | "polling":
            (packet,) = case.packets
            assert decode_packet(case.wire) == packet
        case "payload":
            assert isinstance(case.wire, str)
            decoded = decode_payload(case.wire, max_packets=len(case.packets))
            assert decoded == list(case.packets)


@pytest.mark.parametrize(
    "vector", [pytest.param(v, id=v["id"]) for v in VECTORS["invalid_payloads"]]
)
def test_invalid_payload_is_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(vector["encoded"], max_packets=100)


class TestHandshakeSample:
    """engine.io-protocol, *Protocol > Handshake*: the sample open packet, byte for byte."""

    def test_polling_handshake_is_the_readme_sample(self) -> None:
        sample = VECTORS["handshake"]
        session = ServerSession(SessionId(sample["sid"]), config(), Transport.POLLING, 0.0)
        assert session.begin_poll(0.0) is None
        assert session.poll_response() == sample["polling_body"]
        assert json.loads(sample["polling_body"][1:]) == sample["data"]

    def test_websocket_handshake_has_no_upgrades(self) -> None:
        sample = VECTORS["handshake"]
        session = ServerSession(SessionId(sample["sid"]), config(), Transport.WEBSOCKET, 0.0)
        assert session.ws_messages_to_send() == [sample["websocket_frame"]]

    def test_probe_packets(self) -> None:
        assert encode_packet(PING_PROBE) == "2probe"
        assert encode_packet(PONG_PROBE) == "3probe"


class TestSampleSession:
    """The README's sample session (first v4 edition), replayed against the session."""

    def test_polling_then_websocket(self) -> None:
        sample = VECTORS["handshake"]
        session = ServerSession(SessionId(sample["sid"]), config(), Transport.POLLING, 0.0)
        # Request 1: the open packet.
        assert session.begin_poll(0.0) is None
        assert session.poll_response() == sample["polling_body"]
        # Request 2: socket.send('hey') on the server.
        assert session.send_message("hey")
        assert session.begin_poll(1.0) is None
        assert session.poll_response() == "4hey"
        # Request 3: socket.send('hello'); socket.send('world') on the client; answered ok.
        assert session.begin_post(2.0) is None
        assert session.receive_post(b"4hello\x1e4world", 2.0) is None
        assert session.events_received() == [MessageReceived("hello"), MessageReceived("world")]
        # Request 4: the WebSocket upgrade.
        assert session.begin_upgrade(3.0) is None
        session.receive_ws("2probe", 3.0)
        assert session.ws_messages_to_send() == ["3probe"]
        session.receive_ws("5", 3.0)
        assert session.events_received() == [UpgradeCompleted()]
        for text in ("hello", "world"):
            assert session.send_message(text)
        assert session.ws_messages_to_send() == ["4hello", "4world"]
        session.handle_timer(25.0)
        assert session.ws_messages_to_send() == ["2"]
        session.receive_ws("3", 25.5)
        session.receive_ws("1", 26.0)
        assert session.events_received() == [
            SessionClosed(CloseReason.TRANSPORT_CLOSE, "closed by the client")
        ]

    def test_websocket_only(self) -> None:
        sample = VECTORS["handshake"]
        session = ServerSession(SessionId(sample["sid"]), config(), Transport.WEBSOCKET, 0.0)
        assert session.send_message("hey")
        assert session.ws_messages_to_send() == [sample["websocket_frame"], "4hey"]
        session.receive_ws("4hello", 1.0)
        session.receive_ws("4world", 1.0)
        assert session.events_received() == [MessageReceived("hello"), MessageReceived("world")]
        session.handle_timer(25.0)
        assert session.ws_messages_to_send() == ["2"]
        session.receive_ws("3", 25.5)
        session.receive_ws("1", 26.0)
        assert session.events_received() == [
            SessionClosed(CloseReason.TRANSPORT_CLOSE, "closed by the client")
        ]
