"""The Engine.IO client core: handshake, heartbeat and closing (engine.io-protocol v4).

Literal wire strings in, literal wire strings out, with explicit time.
"""

from __future__ import annotations

import pytest

from socketeer.engineio import CloseReason, MessageReceived, SessionClosed, Transport
from socketeer.engineio.client import (
    ClientConfig,
    ClientSession,
    ClientState,
    Handshake,
    Opened,
    PingReceived,
    parse_handshake,
)
from socketeer.exceptions import RemoteProtocolError

from .client_helpers import SEP, SID, assert_closed, handshake, opened


class TestConfig:
    def test_defaults(self) -> None:
        config = ClientConfig()
        assert config.transports == (Transport.POLLING, Transport.WEBSOCKET)
        assert config.upgrade is True
        assert config.max_payload_packets == 10_000

    def test_transport_names_are_converted(self) -> None:
        config = ClientConfig(transports=("websocket",))  # type: ignore[arg-type]
        assert config.transports == (Transport.WEBSOCKET,)

    @pytest.mark.parametrize(
        "options", [{"transports": ()}, {"max_payload_packets": 0}], ids=["transports", "packets"]
    )
    def test_invalid(self, options: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            ClientConfig(**options)  # type: ignore[arg-type]


class TestParseHandshake:
    def test_js_server_handshake(self) -> None:
        assert parse_handshake(handshake()[1:]) == Handshake(
            sid=SID,  # type: ignore[arg-type]
            upgrades=(Transport.WEBSOCKET,),
            ping_interval=25.0,
            ping_timeout=20.0,
            max_payload=1_000_000,
        )

    def test_unknown_upgrades_are_skipped_and_max_payload_is_optional(self) -> None:
        data = (
            '{"sid":"x","upgrades":["webtransport","websocket"],'
            '"pingInterval":300,"pingTimeout":200}'
        )
        parsed = parse_handshake(data)
        assert parsed.upgrades == (Transport.WEBSOCKET,)
        assert parsed.max_payload == 0
        assert (parsed.ping_interval, parsed.ping_timeout) == (0.3, 0.2)

    def test_upgrades_are_optional(self) -> None:
        assert parse_handshake('{"sid":"x","pingInterval":1,"pingTimeout":1}').upgrades == ()

    @pytest.mark.parametrize(
        "data",
        [
            "not json",
            "[]",
            '{"upgrades":[],"pingInterval":1,"pingTimeout":1}',
            '{"sid":"","pingInterval":1,"pingTimeout":1}',
            '{"sid":5,"pingInterval":1,"pingTimeout":1}',
            '{"sid":"x","upgrades":"websocket","pingInterval":1,"pingTimeout":1}',
            '{"sid":"x","upgrades":[1],"pingInterval":1,"pingTimeout":1}',
            '{"sid":"x","pingTimeout":1}',
            '{"sid":"x","pingInterval":true,"pingTimeout":1}',
            '{"sid":"x","pingInterval":0,"pingTimeout":1}',
            '{"sid":"x","pingInterval":Infinity,"pingTimeout":1}',
            '{"sid":"x","pingInterval":NaN,"pingTimeout":1}',
            '{"sid":"x","pingInterval":1,"pingTimeout":"1"}',
            '{"sid":"x","pingInterval":1,"pingTimeout":1,"maxPayload":-1}',
            '{"sid":"x","pingInterval":1,"pingTimeout":1,"maxPayload":null}',
        ],
    )
    def test_invalid(self, data: str) -> None:
        with pytest.raises(RemoteProtocolError):
            parse_handshake(data)


class TestHandshake:
    def test_polling_handshake(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        assert session.state is ClientState.OPENING
        assert session.sid is None
        assert session.next_deadline() is None
        assert not session.writable
        assert session.begin_poll()  # the handshake GET
        assert session.poll_pending
        assert not session.begin_poll()  # one GET at a time
        session.receive_poll(handshake(), 1.0)
        assert session.state is ClientState.OPEN
        assert session.sid == SID
        assert not session.poll_pending
        (event,) = session.events_received()
        assert isinstance(event, Opened)
        assert event.handshake.sid == SID
        assert session.next_deadline() == 46.0  # pingInterval + pingTimeout
        assert session.writable

    def test_messages_after_the_handshake_in_the_same_payload(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        assert session.begin_poll()
        session.receive_poll(handshake() + SEP + "4hello" + SEP + "bAQI=", 0.0)
        events = session.events_received()
        assert events[1:] == [MessageReceived("hello"), MessageReceived(b"\x01\x02")]

    def test_websocket_handshake(self) -> None:
        session = ClientSession(ClientConfig(), Transport.WEBSOCKET, 0.0)
        assert not session.begin_poll()
        assert session.send_message("early")  # queued before the handshake...
        assert session.ws_messages() == []  # ...and held until it arrives
        session.receive_ws(handshake(upgrades=[]), 2.0)
        assert isinstance(session.events_received()[0], Opened)
        assert session.ws_messages() == ["4early"]
        assert session.next_deadline() == 47.0

    @pytest.mark.parametrize("first", ["4hello", "2", "1", b"\x01"])
    def test_the_first_packet_must_be_the_handshake(self, first: str | bytes) -> None:
        session = ClientSession(ClientConfig(), Transport.WEBSOCKET, 0.0)
        session.receive_ws(first, 0.0)
        closed = assert_closed(session, CloseReason.PARSE_ERROR)
        assert closed.description == "the first packet is not the handshake"

    def test_invalid_handshake_is_a_parse_error(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        assert session.begin_poll()
        session.receive_poll('0{"sid":""}' + SEP + "4never", 0.0)
        closed = assert_closed(session, CloseReason.PARSE_ERROR)
        assert closed.description == "handshake without a sid"
        assert session.sid is None

    def test_later_open_pong_upgrade_and_noop_packets_are_ignored(self) -> None:
        session = opened()
        assert session.begin_poll()
        session.receive_poll(SEP.join([handshake(sid="other"), "3", "5", "6"]), 1.0)
        assert session.events_received() == []
        assert session.sid == SID


class TestHeartbeat:
    def test_ping_is_answered_and_pushes_the_deadline(self) -> None:
        session = opened(Transport.WEBSOCKET)
        assert session.next_deadline() == 45.0
        session.receive_ws("2", 25.0)
        assert session.events_received() == [PingReceived()]
        assert session.ws_messages() == ["3"]
        assert session.next_deadline() == 70.0

    def test_ping_on_polling_is_answered_by_post(self) -> None:
        session = opened()
        assert session.begin_poll()
        session.receive_poll("2", 25.0)
        assert session.take_post() == "3"

    def test_no_ping_in_time_is_a_ping_timeout(self) -> None:
        session = opened(Transport.WEBSOCKET)
        session.handle_timer(44.9)
        assert not session.closed
        session.handle_timer(45.0)
        closed = assert_closed(session, CloseReason.PING_TIMEOUT)
        assert closed.description == "no ping from the server in time"
        assert session.next_deadline() is None

    def test_timer_before_the_handshake_does_nothing(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        session.handle_timer(1000.0)
        assert session.state is ClientState.OPENING


class TestClose:
    def test_close_on_polling_sends_queued_messages_then_the_close_packet(self) -> None:
        session = opened()
        assert session.send_message("bye")
        session.close(1.0)
        assert session.events_received() == [
            SessionClosed(CloseReason.FORCED_CLOSE, "closed by the client")
        ]
        assert not session.send_message("too late")
        assert session.take_post() == "4bye" + SEP + "1"
        session.post_done(1.0)
        assert session.take_post() is None
        session.close(2.0)  # idempotent
        assert session.events_received() == []

    def test_close_on_websocket_leaves_the_last_messages(self) -> None:
        session = opened(Transport.WEBSOCKET)
        assert session.send_message("bye")
        session.close(1.0, CloseReason.PARSE_ERROR)
        assert_closed(session, CloseReason.PARSE_ERROR)
        assert session.ws_messages() == ["4bye"]

    def test_close_while_opening_drops_everything(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        assert session.begin_poll()
        assert session.send_message("never")
        session.close(0.0)
        assert_closed(session, CloseReason.FORCED_CLOSE)
        assert not session.poll_pending
        session.receive_poll(handshake(), 0.0)  # the handshake GET answers late: ignored
        assert session.events_received() == []
        assert session.take_post() is None

    def test_close_packet_from_the_server(self) -> None:
        session = opened()
        assert session.begin_poll()
        session.receive_poll("4a" + SEP + "1" + SEP + "4never", 1.0)
        events = session.events_received()
        assert events == [
            MessageReceived("a"),
            SessionClosed(CloseReason.TRANSPORT_CLOSE, "transport closed by the server"),
        ]

    def test_a_failure_drops_queued_messages(self) -> None:
        session = opened()
        assert session.send_message("lost")
        assert session.begin_poll()
        session.poll_failed(1.0, "xhr poll error")
        closed = assert_closed(session, CloseReason.TRANSPORT_ERROR)
        assert closed.description == "xhr poll error"
        assert session.take_post() is None
        session.post_failed(2.0, "again")  # a second failure reports nothing more
        assert session.events_received() == []
