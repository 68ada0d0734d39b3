"""engine.io-protocol, *Protocol > Upgrade*: polling -> WebSocket.

``2probe`` is answered with ``3probe``; polls then get ``6`` (noop) until ``5`` (upgrade)
completes it. Messages queued meanwhile go out over the WebSocket afterwards.
"""

from __future__ import annotations

import pytest

from socketeer.engineio import (
    CloseReason,
    ErrorCode,
    MessageReceived,
    ServerSession,
    SessionState,
    Transport,
    UpgradeAborted,
    UpgradeCompleted,
)

from .helpers import (
    assert_closed,
    assert_error,
    assert_open,
    assert_silent,
    new_session,
    payload,
    poll,
    post,
    probe,
    upgrade,
)


class TestUpgradeSequence:
    def test_full_sequence(self) -> None:
        session = new_session()
        assert poll(session, 1.0) is None  # the client's GET is pending
        assert session.begin_upgrade(1.0) is None
        assert session.state is SessionState.PROBING
        assert session.transport is Transport.POLLING
        assert session.next_deadline() == 11.0  # upgrade_timeout
        session.receive_ws("2probe", 2.0)
        assert session.ws_messages_to_send() == ["3probe"]
        assert session.state is SessionState.UPGRADING
        assert session.poll_response() == "6"  # noop to the pending GET
        assert not session.poll_pending
        assert poll(session, 3.0) == "6"  # and to a later GET
        session.receive_ws("5", 4.0)
        assert session.state is SessionState.OPEN
        assert session.transport is Transport.WEBSOCKET
        assert session.events_received() == [UpgradeCompleted()]
        assert session.next_deadline() == 25.0  # back to the heartbeat
        assert session.writable
        session.receive_ws("4hello", 5.0)
        assert session.events_received() == [MessageReceived("hello")]
        assert session.send_message("hello")
        assert session.ws_messages_to_send() == ["4hello"]

    def test_test_suite_sequence(self) -> None:
        # test-suite.js: "successfully upgrades from HTTP long-polling to WebSocket".
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.receive_ws("2probe", 0.0)
        assert session.ws_messages_to_send() == ["3probe"]
        assert poll(session, 0.0) == "6"
        session.receive_ws("5", 0.0)
        session.receive_ws("4hello", 0.0)
        assert session.events_received() == [UpgradeCompleted(), MessageReceived("hello")]

    def test_probe_and_upgrade_back_to_back(self) -> None:
        # test-suite.js: "ignores HTTP requests with same sid after upgrade" sends 2probe
        # and 5 without waiting.
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.receive_ws("2probe", 0.0)
        session.receive_ws("5", 0.0)
        assert session.transport is Transport.WEBSOCKET
        assert session.events_received() == [UpgradeCompleted()]

    def test_poll_pending_through_the_whole_upgrade_gets_noop(self) -> None:
        session = new_session()
        assert poll(session) is None
        assert session.begin_upgrade(0.0) is None
        session.receive_ws("2probe", 0.0)
        session.receive_ws("5", 0.0)
        assert session.poll_response() == "6"
        assert session.poll_response() is None

    def test_heartbeat_continues_over_websocket(self) -> None:
        session = new_session()
        upgrade(session, 1.0)
        session.handle_timer(25.0)
        assert session.ws_messages_to_send() == ["2"]
        session.receive_ws("3", 26.0)
        assert session.next_deadline() == 51.0
        assert_silent(session)


class TestMessagesDuringUpgrade:
    def test_messages_queued_while_probing_go_out_on_polling(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        assert session.send_message("a")
        assert session.ws_messages_to_send() == []
        assert poll(session) == "4a"

    def test_messages_queued_while_upgrading_are_held(self) -> None:
        session = new_session()
        assert session.send_message("before")  # queued, not polled yet
        probe(session)
        assert session.send_message("during")
        assert session.send_message(b"\x01")
        assert not session.writable
        assert poll(session) == "6"
        assert session.ws_messages_to_send() == []
        session.receive_ws("5", 1.0)
        assert session.ws_messages_to_send() == ["4before", "4during", b"\x01"]
        assert session.ws_messages_to_send() == []

    def test_ping_while_upgrading_goes_out_over_websocket(self) -> None:
        session = new_session()
        probe(session, 20.0)
        session.handle_timer(25.0)
        assert poll(session, 25.0) == "6"
        session.receive_ws("5", 26.0)
        assert session.ws_messages_to_send() == ["2"]
        session.receive_ws("3", 27.0)
        assert session.next_deadline() == 52.0

    def test_client_posts_during_the_upgrade_are_delivered(self) -> None:
        session = new_session()
        probe(session)
        assert post(session, "4via polling") is None
        assert session.events_received() == [MessageReceived("via polling")]

    def test_writable_while_probing_with_a_pending_poll(self) -> None:
        # A message sent now goes out at once on the pending GET (as JS: the polling
        # transport stays writable until the upgrade).
        session = new_session()
        assert poll(session) is None
        assert session.begin_upgrade(0.0) is None
        assert session.writable
        assert session.send_message("now")
        assert session.poll_response() == "4now"


class TestAbortedUpgrade:
    """A failed probe is dropped; the session stays on polling."""

    @pytest.mark.parametrize(
        "frame",
        [
            pytest.param("5", id="upgrade-before-probe"),
            pytest.param("4hello", id="message"),
            pytest.param(b"\x01", id="binary"),
            pytest.param("2", id="ping-without-probe"),
            pytest.param("3probe", id="pong-probe"),
            pytest.param("abc", id="garbage"),
            pytest.param("", id="empty"),
            pytest.param("1", id="close"),
        ],
    )
    def test_wrong_packet_while_probing(self, frame: str | bytes) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.receive_ws(frame, 1.0)
        assert session.events_received() == [UpgradeAborted("unexpected packet during upgrade")]
        self.assert_back_on_polling(session)

    @pytest.mark.parametrize(
        "frame",
        [
            pytest.param("2probe", id="second-probe"),
            pytest.param("4hello", id="message"),
            pytest.param("51", id="upgrade-with-data"),
            pytest.param(b"5", id="binary-5"),
        ],
    )
    def test_wrong_packet_while_upgrading(self, frame: str | bytes) -> None:
        session = new_session()
        probe(session)
        session.receive_ws(frame, 1.0)
        assert session.events_received() == [UpgradeAborted("unexpected packet during upgrade")]
        self.assert_back_on_polling(session)

    @pytest.mark.parametrize("upgrading", [False, True])
    def test_probe_websocket_closed(self, upgrading: bool) -> None:
        session = new_session()
        if upgrading:
            probe(session)
        else:
            assert session.begin_upgrade(0.0) is None
        session.ws_closed(1.0)
        assert session.events_received() == [UpgradeAborted("probe transport closed")]
        self.assert_back_on_polling(session)

    @pytest.mark.parametrize("upgrading", [False, True])
    def test_probe_websocket_error(self, upgrading: bool) -> None:
        session = new_session()
        if upgrading:
            probe(session)
        else:
            assert session.begin_upgrade(0.0) is None
        session.ws_error(1.0, "message too big")
        assert session.events_received() == [UpgradeAborted("message too big")]
        self.assert_back_on_polling(session)

    @pytest.mark.parametrize("upgrading", [False, True])
    def test_upgrade_timeout(self, upgrading: bool) -> None:
        session = new_session()
        assert poll(session, 5.0) is None
        if upgrading:
            probe(session, 5.0)
            assert session.poll_response() == "6"
        else:
            assert session.begin_upgrade(5.0) is None
            assert session.poll_response() is None
        assert session.next_deadline() == 15.0
        session.handle_timer(14.999)
        assert_silent(session)
        session.handle_timer(15.0)
        assert session.events_received() == [UpgradeAborted("upgrade timeout")]
        assert session.next_deadline() == 25.0
        self.assert_back_on_polling(session)

    def test_held_messages_go_out_on_polling_after_an_abort(self) -> None:
        session = new_session()
        probe(session)
        assert session.send_message("held")
        assert poll(session) == "6"
        session.ws_closed(1.0)
        assert session.events_received() == [UpgradeAborted("probe transport closed")]
        assert poll(session) == "4held"

    def test_frames_after_an_abort_are_ignored(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.receive_ws("4x", 1.0)
        assert session.events_received() == [UpgradeAborted("unexpected packet during upgrade")]
        session.receive_ws("2probe", 1.0)
        session.receive_ws("5", 1.0)
        session.ws_closed(1.0)
        session.ws_error(1.0, "late")
        assert_silent(session)
        assert session.ws_messages_to_send() == []
        self.assert_back_on_polling(session)

    def test_upgrade_again_after_an_abort(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.ws_closed(1.0)
        assert session.events_received() == [UpgradeAborted("probe transport closed")]
        upgrade(session, 2.0)

    def test_unanswered_probe_reply_is_dropped(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        session.receive_ws("2probe", 0.0)
        session.ws_closed(1.0)
        assert session.events_received() == [UpgradeAborted("probe transport closed")]
        assert session.ws_messages_to_send() == []

    @staticmethod
    def assert_back_on_polling(session: ServerSession) -> None:
        assert session.state is SessionState.OPEN
        assert session.transport is Transport.POLLING
        assert_open(session)
        assert session.send_message("still polling")
        if session.poll_pending:
            assert session.poll_response() == "4still polling"
        else:
            assert poll(session, 2.0) == "4still polling"
        assert post(session, "4still posting", 2.0) is None
        assert session.events_received() == [MessageReceived("still posting")]


class TestRefusedUpgrade:
    def test_second_websocket_while_probing(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        assert_error(session.begin_upgrade(1.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.PROBING
        assert session.next_deadline() == 10.0  # the first probe's timer is untouched
        assert_silent(session)
        session.receive_ws("2probe", 1.0)
        assert session.ws_messages_to_send() == ["3probe"]

    def test_second_websocket_while_upgrading(self) -> None:
        session = new_session()
        probe(session)
        assert_error(session.begin_upgrade(1.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.UPGRADING
        assert_silent(session)

    def test_websocket_after_upgrade(self) -> None:
        # test-suite.js: "ignores WebSocket connection with same sid after upgrade".
        session = new_session()
        upgrade(session)
        assert_error(session.begin_upgrade(1.0), ErrorCode.BAD_REQUEST)
        session.receive_ws("4hello", 1.0)
        assert session.events_received() == [MessageReceived("hello")]

    def test_upgrades_disabled(self) -> None:
        session = new_session(allow_upgrades=False)
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.OPEN
        assert_silent(session)

    def test_websocket_session(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.OPEN

    def test_closing_session(self) -> None:
        session = new_session()
        session.close(0.0)
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.CLOSING

    def test_closed_session(self) -> None:
        session = new_session()
        assert post(session, "1") is None
        assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)
        assert session.state is SessionState.CLOSED


class TestSessionEndsDuringUpgrade:
    def test_server_close_while_probing(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        assert session.send_message("last")
        session.close(1.0)
        assert session.events_received() == [UpgradeAborted("session closed")]
        assert session.state is SessionState.CLOSING
        assert poll(session, 2.0) == payload("4last")
        assert poll(session, 3.0) == payload("1")
        assert_closed(session, CloseReason.FORCED_CLOSE)

    def test_ping_timeout_while_upgrading(self) -> None:
        session = new_session(upgrade_timeout=100.0)
        session.handle_timer(25.0)
        probe(session, 30.0)
        session.handle_timer(45.0)
        events = assert_closed(session, CloseReason.PING_TIMEOUT)
        assert events[0] == UpgradeAborted("no pong in time")

    def test_client_close_on_polling_while_upgrading(self) -> None:
        session = new_session()
        probe(session)
        assert post(session, "1") is None
        events = assert_closed(session, CloseReason.TRANSPORT_CLOSE)
        assert isinstance(events[0], UpgradeAborted)
        assert session.ws_messages_to_send() == []

    def test_parse_error_on_polling_while_probing(self) -> None:
        session = new_session()
        assert session.begin_upgrade(0.0) is None
        assert_error(post(session, "abc"), ErrorCode.BAD_REQUEST)
        events = assert_closed(session, CloseReason.PARSE_ERROR)
        assert isinstance(events[0], UpgradeAborted)
