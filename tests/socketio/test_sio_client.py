"""The Socket.IO client core (``ClientNamespace``): literal wire strings in and out.

Packets are encoded and decoded with the JSON codec, so each test reads as the wire
exchange of socket.io-protocol v5 (*Exchange protocol*, *Connection state recovery*).
"""

from __future__ import annotations

from typing import Any

import pytest

from socketeer.socketio import JsonCodec, Packet, PacketType
from socketeer.socketio.client import (
    V2_SERVER_MESSAGE,
    AckReceived,
    ClientNamespace,
    Connected,
    ConnectRefused,
    DisconnectedByServer,
    EventReceived,
    NamespaceEvent,
    NamespaceState,
    ProtocolViolation,
)
from socketeer.socketio.packets import MAX_ACK_ID

CODEC = JsonCodec()


def wire(packet: Packet | None) -> list[str | bytes]:
    """What the client sends for ``packet``."""
    assert packet is not None
    return CODEC.encoder().encode(packet)


def receive(ns: ClientNamespace, *messages: str | bytes) -> list[NamespaceEvent]:
    """The server sends ``messages`` (one packet, with its attachments)."""
    decoder = CODEC.decoder()
    packet = None
    for message in messages:
        packet = decoder.receive(message, 0.0)
    assert packet is not None
    return ns.receive(packet)


def connected(namespace: str = "/", reply: str = '{"sid":"s1"}', **options: Any) -> ClientNamespace:
    ns = ClientNamespace(namespace, **options)
    ns.connect()
    prefix = "" if namespace == "/" else namespace + ","
    assert receive(ns, f"0{prefix}{reply}")[-1:] == [Connected("s1", recovered=False)]
    return ns


class TestConnect:
    def test_connect_without_auth(self) -> None:
        ns = ClientNamespace()
        assert ns.state is NamespaceState.DISCONNECTED
        assert wire(ns.connect()) == ["0"]
        assert ns.state is NamespaceState.CONNECTING
        assert not ns.connected
        assert receive(ns, '0{"sid":"abc"}') == [Connected("abc", recovered=False)]
        assert ns.connected
        assert ns.sid == "abc"
        assert ns.pid is None

    def test_connect_with_auth_to_a_namespace(self) -> None:
        ns = ClientNamespace("/chat")
        assert wire(ns.connect({"token": "x"})) == ['0/chat,{"token":"x"}']
        assert receive(ns, '0/chat,{"sid":"abc"}') == [Connected("abc", recovered=False)]

    def test_connect_error_with_message_and_data(self) -> None:
        ns = ClientNamespace("/admin")
        ns.connect({"token": "bad"})
        events = receive(ns, '4/admin,{"message":"not authorized","data":{"code":7}}')
        assert events == [ConnectRefused("not authorized", {"code": 7})]
        assert ns.state is NamespaceState.DISCONNECTED

    def test_connect_error_without_message_or_as_a_string(self) -> None:
        ns = ClientNamespace()
        ns.connect()
        assert receive(ns, "4{}") == [ConnectRefused("", None)]
        ns.connect()
        assert receive(ns, '4"Invalid namespace"') == [ConnectRefused("Invalid namespace")]

    @pytest.mark.parametrize("reply", ["0", '0{"pid":"p"}', '0{"sid":""}', '0{"sid":1}'])
    def test_connect_reply_without_sid_is_a_refusal(self, reply: str) -> None:
        ns = ClientNamespace()
        ns.connect()
        assert receive(ns, reply) == [ConnectRefused(V2_SERVER_MESSAGE)]
        assert ns.state is NamespaceState.DISCONNECTED

    def test_connect_or_refusal_on_a_connected_namespace_is_a_violation(self) -> None:
        ns = connected()
        assert receive(ns, '0{"sid":"again"}') == [
            ProtocolViolation("CONNECT on a connected namespace")
        ]
        assert receive(ns, '4{"message":"x"}') == [
            ProtocolViolation("CONNECT_ERROR on a connected namespace")
        ]
        assert ns.sid == "s1"

    def test_packets_are_ignored_when_disconnected(self) -> None:
        ns = ClientNamespace()
        assert receive(ns, '2["hello"]') == []
        assert receive(ns, '0{"sid":"late"}') == []

    @pytest.mark.parametrize("namespace", ["chat", "/a,b"])
    def test_invalid_namespace(self, namespace: str) -> None:
        with pytest.raises(ValueError, match="invalid namespace"):
            ClientNamespace(namespace)

    def test_invalid_receive_buffer(self) -> None:
        with pytest.raises(ValueError, match="max_receive_buffer"):
            ClientNamespace(max_receive_buffer=-1)


class TestEventsAndAcks:
    def test_event_packets(self) -> None:
        ns = connected("/chat")
        assert wire(ns.event("hi", [1, "x"])) == ['2/chat,["hi",1,"x"]']
        ack_id = ns.next_ack_id()
        assert wire(ns.event("q", [b"\x01"], ack_id)) == [
            '51-/chat,0["q",{"_placeholder":true,"num":0}]',
            b"\x01",
        ]
        assert ns.next_ack_id() == 1

    def test_ack_ids_wrap_after_the_largest(self) -> None:
        ns = ClientNamespace()
        ns._next_id = MAX_ACK_ID
        assert ns.next_ack_id() == MAX_ACK_ID
        assert ns.next_ack_id() == 0

    def test_incoming_events_and_acks(self) -> None:
        ns = connected()
        assert receive(ns, '2["news",{"a":1}]') == [EventReceived("news", [{"a": 1}])]
        assert receive(ns, '27["question"]') == [EventReceived("question", [], 7)]
        assert wire(ns.ack(7, ["answer"])) == ['37["answer"]']
        assert receive(ns, '31["ok",2]') == [AckReceived(1, ["ok", 2])]
        assert receive(ns, '61-3[{"_placeholder":true,"num":0}]', b"\xff") == [
            AckReceived(3, [b"\xff"])
        ]

    def test_reserved_event_names_from_the_server_are_a_violation(self) -> None:
        ns = connected()
        assert receive(ns, '2["disconnect"]') == [
            ProtocolViolation("reserved event name 'disconnect'")
        ]


class TestDisconnect:
    def test_client_disconnect_sends_a_packet_only_when_connected(self) -> None:
        ns = connected("/chat")
        assert wire(ns.disconnect()) == ["1/chat,"]
        assert ns.state is NamespaceState.DISCONNECTED
        assert ns.sid is None
        assert ns.disconnect() is None
        ns.connect()
        assert ns.disconnect() is None  # still connecting: no packet (as in JS)

    def test_server_disconnect(self) -> None:
        ns = connected()
        assert receive(ns, "1") == [DisconnectedByServer()]
        assert ns.state is NamespaceState.DISCONNECTED

    def test_transport_closed(self) -> None:
        ns = connected()
        ns.transport_closed()
        assert ns.state is NamespaceState.DISCONNECTED
        assert ns.sid is None


class TestRecovery:
    def test_pid_and_last_offset_are_sent_back(self) -> None:
        ns = connected(reply='{"sid":"s1","pid":"p1"}')
        assert ns.pid == "p1"
        assert not ns.recovered
        assert wire(ns.connect({"token": "t"})) == ['0{"pid":"p1","token":"t"}']  # no offset yet
        assert receive(ns, '0{"sid":"s1","pid":"p1"}') == [Connected("s1", recovered=True)]
        receive(ns, '2["news",1,"off-1"]')
        receive(ns, '2["news",2,"off-2"]')
        assert ns.last_offset == "off-2"
        ns.transport_closed()
        assert wire(ns.connect({"pid": "mine"})) == ['0{"pid":"mine","offset":"off-2"}']

    def test_offsets_are_only_tracked_with_recovery_and_without_ack(self) -> None:
        ns = connected()  # no pid: the server has recovery off
        receive(ns, '2["news","looks like an offset"]')
        assert ns.last_offset is None
        ns = connected(reply='{"sid":"s1","pid":"p1"}')
        receive(ns, '25["question","not an offset"]')
        receive(ns, '2["news",1]')
        receive(ns, '2["ping"]')
        assert ns.last_offset is None

    def test_missed_events_before_the_connect_reply_are_delivered_first(self) -> None:
        ns = connected(reply='{"sid":"s1","pid":"p1"}')
        receive(ns, '2["news",0,"off-0"]')
        ns.transport_closed()
        ns.connect()
        assert receive(ns, '2["news",1,"off-1"]') == []
        assert receive(ns, '2["news",2,"off-2"]') == []
        assert ns.last_offset == "off-0"
        assert receive(ns, '0{"sid":"s1","pid":"p1"}') == [
            EventReceived("news", [1, "off-1"]),
            EventReceived("news", [2, "off-2"]),
            Connected("s1", recovered=True),
        ]
        assert ns.recovered
        assert ns.last_offset == "off-2"

    def test_a_new_session_forgets_the_old_offset(self) -> None:
        ns = connected(reply='{"sid":"s1","pid":"p1"}')
        receive(ns, '2["news",0,"off-0"]')
        ns.transport_closed()
        ns.connect()
        assert receive(ns, '0{"sid":"s2","pid":"p2"}') == [Connected("s2", recovered=False)]
        assert ns.last_offset is None
        assert ns.pid == "p2"
        ns.transport_closed()
        assert wire(ns.connect()) == ['0{"pid":"p2"}']

    def test_invalid_pid_means_no_recovery(self) -> None:
        ns = connected(reply='{"sid":"s1","pid":5}')
        assert ns.pid is None

    def test_buffer_before_the_connect_reply_is_bounded(self) -> None:
        ns = ClientNamespace(max_receive_buffer=1)
        ns.connect()
        assert receive(ns, '2["a"]') == []
        assert receive(ns, '2["b"]') == [
            ProtocolViolation("too many events before the CONNECT reply")
        ]

    def test_reconnecting_drops_a_half_received_buffer(self) -> None:
        ns = ClientNamespace()
        ns.connect()
        receive(ns, '2["stale"]')
        ns.connect()
        assert receive(ns, '0{"sid":"s"}') == [Connected("s", recovered=False)]


def test_packet_types_route_as_expected() -> None:
    ns = connected()
    packet = Packet(PacketType.DISCONNECT, "/")
    assert ns.receive(packet) == [DisconnectedByServer()]
