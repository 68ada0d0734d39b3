"""The Engine.IO client core: polling payloads in and out, WebSocket messages, and the
upgrade from polling to WebSocket as the client drives it (engine.io-protocol v4,
*Transports* and *Upgrade*)."""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    CloseReason,
    MessageReceived,
    Transport,
    UpgradeAborted,
    UpgradeCompleted,
)
from socketeer.engineio.client import ClientConfig, ClientSession

from .client_helpers import SEP, assert_closed, opened, upgraded


class TestPolling:
    def test_one_get_at_a_time(self) -> None:
        session = opened()
        assert session.begin_poll()
        assert not session.begin_poll()
        session.receive_poll("4a" + SEP + "4b", 1.0)
        assert session.events_received() == [MessageReceived("a"), MessageReceived("b")]
        assert session.begin_poll()

    def test_posts_carry_queued_packets_one_post_at_a_time(self) -> None:
        session = opened()
        assert session.take_post() is None  # nothing queued
        assert session.send_message("a")
        assert session.send_message(b"\x01\x02")
        assert session.take_post() == "4a" + SEP + "bAQI="
        assert session.post_pending
        assert not session.writable
        assert session.send_message("c")
        assert session.take_post() is None  # one POST at a time
        session.post_done(1.0)
        assert session.writable
        assert session.take_post() == "4c"

    def test_posts_are_split_to_stay_under_max_payload(self) -> None:
        session = opened(handshake_data={"maxPayload": 11})
        for data in ("aaaa", "bbbb", "cccc"):
            assert session.send_message(data)
        assert session.take_post() == "4aaaa" + SEP + "4bbbb"  # 11 bytes; a third makes 17
        session.post_done(1.0)
        assert session.take_post() == "4cccc"

    def test_a_single_packet_larger_than_max_payload_still_goes(self) -> None:
        session = opened(handshake_data={"maxPayload": 3})
        assert session.send_message("toolong")
        assert session.send_message("x")
        assert session.take_post() == "4toolong"
        session.post_done(1.0)
        assert session.take_post() == "4x"

    def test_without_max_payload_everything_goes_at_once(self) -> None:
        session = opened(handshake_data={"maxPayload": 0})
        for _ in range(3):
            assert session.send_message("x" * 100)
        assert session.take_post() == SEP.join(["4" + "x" * 100] * 3)

    def test_nothing_is_posted_before_the_handshake(self) -> None:
        session = ClientSession(ClientConfig(), Transport.POLLING, 0.0)
        assert session.send_message("early")
        assert session.take_post() is None

    @pytest.mark.parametrize(
        "body",
        ["", "9x", "b!!!", SEP.join(["6"] * 3)],
        ids=["empty", "unknown-type", "bad-base64", "too-many-packets"],
    )
    def test_invalid_payload_is_a_parse_error(self, body: str) -> None:
        session = opened(max_payload_packets=2)
        assert session.begin_poll()
        session.receive_poll(body, 1.0)
        assert_closed(session, CloseReason.PARSE_ERROR)

    def test_failed_post_is_a_transport_error(self) -> None:
        session = opened()
        assert session.send_message("a")
        assert session.take_post() == "4a"
        session.post_failed(1.0, "HTTP 400")
        assert_closed(session, CloseReason.TRANSPORT_ERROR)

    def test_polling_calls_are_ignored_on_websocket(self) -> None:
        session = opened(Transport.WEBSOCKET)
        assert not session.begin_poll()
        assert session.send_message("a")
        assert session.take_post() is None
        assert session.ws_messages() == ["4a"]


class TestWebSocket:
    def test_messages_both_ways(self) -> None:
        session = opened(Transport.WEBSOCKET)
        session.receive_ws("4hello", 1.0)
        session.receive_ws(b"\x00\xff", 1.0)
        assert session.events_received() == [
            MessageReceived("hello"),
            MessageReceived(b"\x00\xff"),
        ]
        assert session.send_message("text")
        assert session.send_message(b"\x01")
        assert session.ws_messages() == ["4text", b"\x01"]
        assert session.writable

    def test_undecodable_message_is_a_parse_error(self) -> None:
        session = opened(Transport.WEBSOCKET)
        session.receive_ws("", 1.0)
        assert_closed(session, CloseReason.PARSE_ERROR)
        session.receive_ws("4late", 2.0)  # ignored once closed
        assert session.events_received() == []

    def test_closed_by_the_server(self) -> None:
        session = opened(Transport.WEBSOCKET)
        session.ws_closed(1.0)
        closed = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert closed.description == "websocket closed"

    def test_failed(self) -> None:
        session = opened(Transport.WEBSOCKET)
        session.ws_error(1.0, "message too large")
        assert_closed(session, CloseReason.TRANSPORT_ERROR)

    def test_websocket_calls_are_ignored_on_polling(self) -> None:
        session = opened()
        session.receive_ws("4ignored", 1.0)
        session.ws_closed(1.0)
        session.ws_error(1.0, "ignored")
        assert session.events_received() == []
        assert session.send_message("a")
        assert session.ws_messages() == []
        assert not session.closed


class TestUpgrade:
    def test_full_sequence(self) -> None:
        session = opened()
        assert not session.upgrading
        assert session.begin_poll()  # the pending GET
        assert session.start_probe()
        assert session.upgrading
        assert not session.start_probe()  # once per session
        assert session.probe_messages() == ["2probe"]
        assert session.probe_messages() == []
        assert session.send_message("during probe")
        assert session.take_post() == "4during probe"  # polling goes on while probing
        session.post_done(1.0)
        session.receive_probe("3probe", 2.0)  # pause polling: wait for the pending GET
        assert not session.writable
        assert not session.begin_poll()
        assert session.send_message("held")
        assert session.take_post() is None
        assert session.events_received() == []
        session.receive_poll("6", 3.0)  # the server ends the GET with a noop
        assert session.events_received() == [UpgradeCompleted()]
        assert session.transport is Transport.WEBSOCKET
        assert not session.upgrading
        assert session.ws_messages() == ["5", "4held"]
        assert session.writable
        session.receive_ws("4over websocket", 4.0)
        assert session.events_received() == [MessageReceived("over websocket")]

    def test_pause_waits_for_the_post_in_flight(self) -> None:
        session = opened()
        assert session.start_probe()
        assert session.send_message("a")
        assert session.take_post() == "4a"
        session.receive_probe("3probe", 1.0)  # no GET pending, but a POST is
        assert session.events_received() == []
        session.post_done(2.0)
        assert session.events_received() == [UpgradeCompleted()]
        assert session.ws_messages() == ["5"]

    def test_pause_completes_at_once_when_polling_is_idle(self) -> None:
        session = opened()
        assert session.start_probe()
        session.receive_probe("3probe", 1.0)
        assert session.events_received() == [UpgradeCompleted()]

    def test_messages_in_the_last_poll_are_delivered(self) -> None:
        session = opened()
        assert session.begin_poll()
        assert session.start_probe()
        session.receive_probe("3probe", 1.0)
        session.receive_poll("4last" + SEP + "2", 2.0)
        assert session.events_received()[:1] == [MessageReceived("last")]
        assert session.ws_messages() == ["5", "3"]  # the pong goes over the WebSocket

    def test_last_poll_closing_the_session(self) -> None:
        session = opened()
        assert session.begin_poll()
        assert session.start_probe()
        session.receive_probe("3probe", 1.0)
        session.receive_poll("1", 2.0)
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert session.transport is Transport.POLLING

    def test_unexpected_answer_aborts_the_probe(self) -> None:
        session = opened()
        assert session.start_probe()
        session.receive_probe("3nope", 1.0)
        assert session.events_received() == [UpgradeAborted("probe error: unexpected answer")]
        assert not session.upgrading
        assert session.begin_poll()  # polling goes on
        session.receive_probe("3probe", 2.0)  # too late: ignored
        assert session.events_received() == []

    def test_probe_failure(self) -> None:
        session = opened()
        assert session.start_probe()
        session.probe_failed(1.0, "connection refused")
        assert session.events_received() == [UpgradeAborted("probe error: connection refused")]
        session.probe_failed(2.0, "again")  # nothing to abort any more
        assert session.events_received() == []

    def test_close_during_the_probe(self) -> None:
        session = opened()
        assert session.start_probe()
        session.close(1.0)
        assert_closed(session, CloseReason.FORCED_CLOSE)
        assert not session.upgrading
        assert session.probe_messages() == []
        assert session.take_post() == "1"

    @pytest.mark.parametrize(
        ("options", "handshake_data"),
        [
            ({"upgrade": False}, {}),
            ({"transports": (Transport.POLLING,)}, {}),
            ({}, {"upgrades": []}),
        ],
        ids=["upgrade-off", "websocket-not-allowed", "not-offered"],
    )
    def test_no_probe(self, options: dict[str, object], handshake_data: dict[str, object]) -> None:
        session = opened(handshake_data=handshake_data, **options)
        assert not session.start_probe()

    def test_no_probe_before_the_handshake_on_websocket_or_once_closed(self) -> None:
        assert not ClientSession(ClientConfig(), Transport.POLLING, 0.0).start_probe()
        assert not opened(Transport.WEBSOCKET).start_probe()
        session = opened()
        session.close(0.0)
        assert not session.start_probe()

    def test_after_the_upgrade(self) -> None:
        session = upgraded()
        assert not session.begin_poll()
        session.receive_ws("2", 10.0)
        assert session.ws_messages() == ["3"]
        session.ws_closed(11.0)
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
