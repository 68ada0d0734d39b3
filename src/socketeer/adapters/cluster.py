"""The cluster layer: the typed message model and request/response correlation of the JS
``ClusterAdapter`` (socket.io-adapter 2.5 ``cluster-adapter.ts``).

A cluster adapter is the in-memory adapter plus messages to and from the other nodes of the
namespace. Brokers (Redis sharded pub/sub, Redis streams, ...) subclass ``ClusterAdapter``
and implement two hooks only, ``do_publish(message)`` and ``do_publish_response(uid,
message)``, and hand what they receive to ``receive(...)``; how a message is serialised
is theirs (JSON, msgpack, stream fields).

Wire model (every message is ``{type, data?, uid, nsp}``; ``uid`` is the sender's node id,
16 hex characters, ``"emitter"`` for emitters; ``nsp`` the namespace)::

    1  INITIAL_HEARTBEAT          -                                 (heartbeat mode)
    2  HEARTBEAT                  -                                 (heartbeat mode)
    3  BROADCAST                  {packet, requestId?, opts}
    4  SOCKETS_JOIN               {opts, rooms}
    5  SOCKETS_LEAVE              {opts, rooms}
    6  DISCONNECT_SOCKETS         {opts, close}
    7  FETCH_SOCKETS              {opts, requestId}
    8  FETCH_SOCKETS_RESPONSE     {requestId, sockets: [{id, handshake, rooms, data}]}
    9  SERVER_SIDE_EMIT           {requestId?, packet: [event, ...args]}
    10 SERVER_SIDE_EMIT_RESPONSE  {requestId, packet}
    11 BROADCAST_CLIENT_COUNT     {requestId, clientCount}
    12 BROADCAST_ACK              {requestId, packet}
    13 ADAPTER_CLOSE              -                                 (heartbeat mode)

``packet`` of a BROADCAST is ``{type: 2, data: [event, ...args]}``; ``opts`` is ``{rooms,
except, flags}``. Join, leave and disconnect apply locally at once and are published for
the others; a node ignores its own messages by ``uid``. Only the first argument of an
acknowledgement crosses node boundaries.

Server count: with heartbeats (the default, JS ``ClusterAdapterWithHeartbeat``) every node
announces itself at start (INITIAL_HEARTBEAT, answered with HEARTBEAT), publishes a
HEARTBEAT after ``interval`` seconds without publishing anything, and is forgotten after
``timeout`` seconds of silence or at ADAPTER_CLOSE; requests then wait for the nodes known
when they were sent. Brokers that can count subscribers (Redis ``PUBSUB NUMSUB``) turn
heartbeats off and override ``server_count()``.

Everything received is checked by ``ClusterMessage.from_wire`` before it is looked at: a
message that does not decode or does not have the expected shape is logged and dropped,
never executed, and an error while handling one never escapes into the broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, TypeAlias

from .._types import Room, SocketId
from ..exceptions import AdapterError, AdapterTimeout, RemoteProtocolError
from ..socketio.binary import has_binary
from ..socketio.packets import Packet, PacketType
from . import _wire as wire
from .base import (
    AckRegistrar,
    BroadcastOptions,
    LocalSockets,
    RemoteAckRequests,
    RemoteAcks,
    SocketDetails,
)
from .memory import Encode, InMemoryAdapter

logger = logging.getLogger("socketeer.adapters")

EMITTER_UID: Final = "emitter"
"""The ``uid`` of messages published by emitters: never counted as a node."""

DEFAULT_REQUESTS_TIMEOUT: Final = 5.0


class MessageType(IntEnum):
    """The message types of socket.io-adapter's ``ClusterAdapter`` (numbered as in JS)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


RESPONSE_TYPES: Final = frozenset(
    {
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    }
)
"""Types that answer a request (sent to the requester only)."""

BINARY_CAPABLE_TYPES: Final = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    }
)
"""Types whose data may hold binary (the brokers then switch to msgpack)."""


# -- payloads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broadcast:
    """BROADCAST: ``data`` (``[event, ...args]``) to the sockets ``options`` select; with
    ``request_id``, each receiving client is asked for an acknowledgement."""

    data: list[Any]
    options: BroadcastOptions
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SocketsJoin:
    """SOCKETS_JOIN: the selected sockets join ``rooms``."""

    options: BroadcastOptions
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class SocketsLeave:
    """SOCKETS_LEAVE: the selected sockets leave ``rooms``."""

    options: BroadcastOptions
    rooms: tuple[Room, ...]


@dataclass(frozen=True, slots=True)
class DisconnectSockets:
    """DISCONNECT_SOCKETS: the selected sockets are disconnected."""

    options: BroadcastOptions
    close: bool


@dataclass(frozen=True, slots=True)
class FetchSockets:
    """FETCH_SOCKETS: describe the selected sockets (answered by FETCH_SOCKETS_RESPONSE)."""

    options: BroadcastOptions
    request_id: str


@dataclass(frozen=True, slots=True)
class FetchSocketsResponse:
    """FETCH_SOCKETS_RESPONSE: one node's selected sockets."""

    request_id: str
    sockets: tuple[SocketDetails, ...]


@dataclass(frozen=True, slots=True)
class ServerSideEmit:
    """SERVER_SIDE_EMIT: ``data`` (``[event, ...args]``) for the other nodes' handlers;
    with ``request_id``, each node answers once (SERVER_SIDE_EMIT_RESPONSE)."""

    data: list[Any]
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class ServerSideEmitResponse:
    """SERVER_SIDE_EMIT_RESPONSE: one node's answer."""

    request_id: str
    value: Any


@dataclass(frozen=True, slots=True)
class BroadcastClientCount:
    """BROADCAST_CLIENT_COUNT: how many clients of one node got a broadcast with acks."""

    request_id: str
    client_count: int


@dataclass(frozen=True, slots=True)
class BroadcastAck:
    """BROADCAST_ACK: one client's acknowledgement (its first argument)."""

    request_id: str
    value: Any


Body: TypeAlias = (
    Broadcast
    | SocketsJoin
    | SocketsLeave
    | DisconnectSockets
    | FetchSockets
    | FetchSocketsResponse
    | ServerSideEmit
    | ServerSideEmitResponse
    | BroadcastClientCount
    | BroadcastAck
    | None
)

_BODY_TYPES: Final[dict[MessageType, type[Any] | None]] = {
    MessageType.INITIAL_HEARTBEAT: None,
    MessageType.HEARTBEAT: None,
    MessageType.BROADCAST: Broadcast,
    MessageType.SOCKETS_JOIN: SocketsJoin,
    MessageType.SOCKETS_LEAVE: SocketsLeave,
    MessageType.DISCONNECT_SOCKETS: DisconnectSockets,
    MessageType.FETCH_SOCKETS: FetchSockets,
    MessageType.FETCH_SOCKETS_RESPONSE: FetchSocketsResponse,
    MessageType.SERVER_SIDE_EMIT: ServerSideEmit,
    MessageType.SERVER_SIDE_EMIT_RESPONSE: ServerSideEmitResponse,
    MessageType.BROADCAST_CLIENT_COUNT: BroadcastClientCount,
    MessageType.BROADCAST_ACK: BroadcastAck,
    MessageType.ADAPTER_CLOSE: None,
}


def _event_packet_to_wire(data: list[Any]) -> dict[str, Any]:
    return {"type": PacketType.EVENT.value, "data": data}


def _body_to_wire(body: Body) -> dict[str, Any] | None:
    # Keys in the order the JS adapter writes them (JSON text and msgpack maps alike).
    match body:
        case None:
            return None
        case Broadcast(data, options, request_id):
            out: dict[str, Any] = {"packet": _event_packet_to_wire(data)}
            if request_id is not None:
                out["requestId"] = request_id
            out["opts"] = wire.options_to_wire(options)
            return out
        case SocketsJoin(options, rooms) | SocketsLeave(options, rooms):
            return {"opts": wire.options_to_wire(options), "rooms": list(rooms)}
        case DisconnectSockets(options, close):
            return {"opts": wire.options_to_wire(options), "close": close}
        case FetchSockets(options, request_id):
            return {"opts": wire.options_to_wire(options), "requestId": request_id}
        case FetchSocketsResponse(request_id, sockets):
            return {
                "requestId": request_id,
                "sockets": [wire.details_to_wire(socket) for socket in sockets],
            }
        case ServerSideEmit(data, request_id):
            if request_id is None:
                return {"packet": data}
            return {"requestId": request_id, "packet": data}
        case ServerSideEmitResponse(request_id, value) | BroadcastAck(request_id, value):
            return {"requestId": request_id, "packet": value}
        case BroadcastClientCount(request_id, client_count):
            return {"requestId": request_id, "clientCount": client_count}
    raise TypeError(f"not a cluster message body: {body!r}")  # pragma: no cover


def _body_from_wire(kind: MessageType, value: Any) -> Body:
    body_type = _BODY_TYPES[kind]
    if body_type is None:
        return None
    data = wire.expect_dict(value, "data")
    request_id = wire.optional_str(data.get("requestId"), "requestId")
    if body_type is Broadcast:
        return Broadcast(
            wire.event_packet(data.get("packet")),
            wire.options_from_wire(data.get("opts")),
            request_id,
        )
    if body_type is SocketsJoin or body_type is SocketsLeave:
        rooms = tuple(sorted(wire.rooms_of(data.get("rooms"), "rooms")))
        return body_type(wire.options_from_wire(data.get("opts")), rooms)  # type: ignore[no-any-return]
    if body_type is DisconnectSockets:
        return DisconnectSockets(
            wire.options_from_wire(data.get("opts")), data.get("close") is True
        )
    if body_type is ServerSideEmit:
        return ServerSideEmit(
            wire.event_data(data.get("packet"), "packet", server_side=True), request_id
        )
    if request_id is None:
        raise RemoteProtocolError(f"{kind.name} needs a requestId")
    if body_type is FetchSockets:
        return FetchSockets(wire.options_from_wire(data.get("opts")), request_id)
    if body_type is FetchSocketsResponse:
        sockets = wire.expect_list(data.get("sockets"), "sockets")
        return FetchSocketsResponse(
            request_id, tuple(wire.details_from_wire(socket) for socket in sockets)
        )
    if body_type is BroadcastClientCount:
        return BroadcastClientCount(request_id, wire.expect_int(data.get("clientCount"), "count"))
    return body_type(request_id, data.get("packet"))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """One message between the nodes of a cluster: ``{type, data?, uid, nsp}``.

    ``body`` is the typed ``data`` (None for the heartbeat types).
    """

    type: MessageType
    uid: str
    nsp: str
    body: Body = None

    def to_wire(self) -> dict[str, Any]:
        """The JS object, ready for JSON or msgpack (keys in the JS order)."""
        out: dict[str, Any] = {"type": self.type.value}
        data = _body_to_wire(self.body)
        if data is not None:
            out["data"] = data
        out["uid"] = self.uid
        out["nsp"] = self.nsp
        return out

    def wire_data(self) -> dict[str, Any] | None:
        """The ``data`` member alone (brokers that store it as a separate field)."""
        return _body_to_wire(self.body)

    @classmethod
    def from_wire(cls, value: Any) -> ClusterMessage:
        """Check and read a decoded message; ``RemoteProtocolError`` when it is not one."""
        message = wire.expect_dict(value, "a cluster message")
        raw_type = message.get("type")
        if isinstance(raw_type, str) and raw_type.isdigit() and len(raw_type) < 4:
            raw_type = int(raw_type)  # stream entries carry the type as decimal text
        if type(raw_type) is not int or raw_type not in _TYPES:
            raise RemoteProtocolError(f"unknown cluster message type {raw_type!r}")
        kind = _TYPES[raw_type]
        uid = message.get("uid")
        uid = EMITTER_UID if uid is None else wire.expect_str(uid, "uid")
        nsp = message.get("nsp")
        nsp = "/" if nsp is None else wire.expect_str(nsp, "nsp")
        return cls(kind, uid, nsp, _body_from_wire(kind, message.get("data")))

    def has_binary(self) -> bool:
        """Whether the message data holds ``bytes`` (brokers then use msgpack)."""
        return self.type in BINARY_CAPABLE_TYPES and has_binary(_body_to_wire(self.body))


_TYPES: Final = {kind.value: kind for kind in MessageType}


# -- request/response correlation ------------------------------------------------------------


class _Request:
    __slots__ = ("expected", "future", "missing", "received", "responses", "timer", "what")

    def __init__(
        self,
        what: str,
        future: asyncio.Future[list[Any]],
        responses: list[Any],
        expected: int,
        missing: set[str] | None,
    ) -> None:
        self.what = what
        self.future = future
        self.responses = responses
        self.expected = expected
        self.missing = missing
        self.received = 0
        self.timer: asyncio.TimerHandle | None = None

    @property
    def complete(self) -> bool:
        if self.missing is not None:
            return not self.missing
        return self.received >= self.expected


class PendingRequests:
    """Requests sent to the other nodes, waiting for their answers (by request id).

    A request completes when ``expected`` answers came, or (heartbeat mode) when every node
    of ``missing`` answered or was forgotten. At ``timeout`` it fails with
    ``AdapterTimeout``, whose ``responses`` holds what came. At most ``max_pending``
    requests wait at once.
    """

    __slots__ = ("_requests", "max_pending")

    def __init__(self, *, max_pending: int = 10_000) -> None:
        self._requests: dict[str, _Request] = {}
        self.max_pending = max_pending

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._requests

    def __len__(self) -> int:
        return len(self._requests)

    def start(
        self,
        request_id: str,
        what: str,
        *,
        timeout: float,
        responses: list[Any] | None = None,
        expected: int = 0,
        missing: set[str] | None = None,
    ) -> asyncio.Future[list[Any]]:
        """Wait for the answers to request ``request_id``: the returned future gets the
        responses (``responses`` first, then what the answers carry)."""
        if len(self._requests) >= self.max_pending:
            raise AdapterError(f"{what}: too many pending requests ({self.max_pending})")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        request = _Request(what, future, list(responses or ()), expected, missing)
        if request.complete:
            future.set_result(request.responses)
            return future
        self._requests[request_id] = request
        request.timer = loop.call_later(timeout, self._expire, request_id)
        future.add_done_callback(lambda _: self._discard(request_id, request))
        return future

    def answer(self, request_id: str, items: Iterable[Any], uid: str | None = None) -> None:
        """One node answered ``request_id`` with ``items``."""
        request = self._requests.get(request_id)
        if request is None:
            return
        if request.missing is not None:
            if uid not in request.missing:
                return  # not a node we wait for, or a second answer
            request.missing.discard(uid)
        request.received += 1
        request.responses.extend(items)
        if request.complete:
            self._finish(request_id, request)

    def node_gone(self, uid: str) -> None:
        """A node was forgotten: stop waiting for it."""
        for request_id, request in list(self._requests.items()):
            if request.missing is not None and uid in request.missing:
                request.missing.discard(uid)
                if request.complete:
                    self._finish(request_id, request)

    def fail(self, request_id: str, error: AdapterError) -> None:
        """Fail one request (its publication failed)."""
        request = self._requests.pop(request_id, None)
        if request is not None:
            error.responses = list(request.responses)
            self._settle(request, error)

    def fail_all(self, message: str) -> None:
        """Fail every pending request (the adapter closes)."""
        for request_id in list(self._requests):
            self.fail(request_id, AdapterError(message))

    def _finish(self, request_id: str, request: _Request) -> None:
        self._requests.pop(request_id, None)
        if request.timer is not None:
            request.timer.cancel()
        if not request.future.done():
            request.future.set_result(request.responses)

    def _expire(self, request_id: str) -> None:
        request = self._requests.pop(request_id, None)
        if request is None:
            return
        if request.missing is not None:
            detail = f"missing {len(request.missing)} responses"
        else:
            detail = f"only {request.received} responses received out of {request.expected}"
        error = AdapterTimeout(
            f"{request.what}: timeout reached: {detail}", responses=list(request.responses)
        )
        self._settle(request, error)

    @staticmethod
    def _settle(request: _Request, error: AdapterError) -> None:
        if request.timer is not None:
            request.timer.cancel()
        if not request.future.done():
            request.future.set_exception(error)

    def _discard(self, request_id: str, request: _Request) -> None:
        # The waiter went away (cancelled): forget the request.
        if self._requests.get(request_id) is request:
            del self._requests[request_id]
            if request.timer is not None:
                request.timer.cancel()


class DropLog:
    """Logs dropped messages without flooding: one warning per ``every`` seconds, with the
    count of the others."""

    __slots__ = ("_dropped", "_last", "every", "what")

    def __init__(self, what: str, every: float = 5.0) -> None:
        self.what = what
        self.every = every
        self._last = -float("inf")
        self._dropped = 0

    def __call__(self, reason: object) -> None:
        now = time.monotonic()
        self._dropped += 1
        if now - self._last >= self.every:
            logger.warning(
                "%s: dropped %d invalid message(s); latest: %s", self.what, self._dropped, reason
            )
            self._last = now
            self._dropped = 0
        else:
            logger.debug("%s: dropped an invalid message: %s", self.what, reason)


# -- the adapter -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatOptions:
    """Heartbeats of a ``ClusterAdapter`` (JS ``ClusterAdapterWithHeartbeat``).

    Attributes:
        interval: a node publishes a HEARTBEAT after this many seconds without publishing.
        timeout: a node not heard from for this many seconds is forgotten.
    """

    interval: float = 5.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.interval < self.timeout:
            raise ValueError("heartbeat interval must be positive and below the timeout")


class ClusterAdapter(InMemoryAdapter):
    """The in-memory adapter plus the cluster message model (JS ``ClusterAdapter``).

    Subclasses implement ``do_publish`` and ``do_publish_response`` and call ``receive``
    (or ``on_message`` / ``on_response`` with a checked ``ClusterMessage``).

    Args:
        local, encode: as for ``InMemoryAdapter``.
        requests_timeout: seconds to wait for the answers to ``fetch_sockets`` and
            ``server_side_emit_with_ack`` (JS default 5 s).
        heartbeat: heartbeat options; None when the broker counts nodes itself
            (``server_count()`` is then overridden).
        max_pending_requests: the most requests that may wait for answers at once.
    """

    __slots__ = (
        "_ack_requests",
        "_cleanup_timer",
        "_closed",
        "_drop",
        "_heartbeat_timer",
        "_last_publish",
        "_nodes",
        "heartbeat",
        "requests",
        "requests_timeout",
        "uid",
    )

    def __init__(
        self,
        local: LocalSockets,
        encode: Encode,
        *,
        requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
        heartbeat: HeartbeatOptions | None = HeartbeatOptions(),
        max_pending_requests: int = 10_000,
        uid: str | None = None,
    ) -> None:
        super().__init__(local, encode)
        if not requests_timeout > 0:
            raise ValueError("requests_timeout must be positive")
        self.uid = uid if uid is not None else wire.random_hex_id()
        self.requests_timeout = requests_timeout
        self.heartbeat = heartbeat
        self.requests = PendingRequests(max_pending=max_pending_requests)
        self._ack_requests = RemoteAckRequests()
        self._nodes: dict[str, float] = {}  # uid -> when last heard (heartbeat mode)
        self._last_publish = -float("inf")
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._cleanup_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._drop = DropLog(f"cluster adapter {local.name}")

    # -- the broker's hooks ----------------------------------------------------------------

    def do_publish(self, message: ClusterMessage) -> Awaitable[str]:
        """Send ``message`` to every node of the namespace; the awaitable gives its offset
        (``""`` when the broker has none). Called in order: hand the message over before
        returning, so that messages leave in the order they were published."""
        raise NotImplementedError

    def do_publish_response(self, requester_uid: str, message: ClusterMessage) -> Awaitable[None]:
        """Send a response to node ``requester_uid`` only (same ordering rule)."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------------------

    async def init(self) -> None:
        """Announce this node (heartbeat mode)."""
        if self.heartbeat is not None and not self._closed:
            loop = asyncio.get_running_loop()
            self._cleanup_timer = loop.call_later(self._cleanup_period, self._cleanup_nodes)
            await self._publish_logged(self._message(MessageType.INITIAL_HEARTBEAT))

    async def close(self) -> None:
        """Say goodbye (heartbeat mode) and fail the requests still waiting."""
        if self._closed:
            return
        self._closed = True
        for timer in (self._heartbeat_timer, self._cleanup_timer):
            if timer is not None:
                timer.cancel()
        self._heartbeat_timer = self._cleanup_timer = None
        self.requests.fail_all("the adapter is closed")
        self._ack_requests.clear()
        if self.heartbeat is not None:
            await self._publish_logged(self._message(MessageType.ADAPTER_CLOSE))

    async def server_count(self) -> int:
        """This node plus the nodes heard from (heartbeat mode)."""
        return 1 + len(self._nodes)

    @property
    def nodes(self) -> frozenset[str]:
        """The uids of the other nodes known from their heartbeats (heartbeat mode)."""
        return frozenset(self._nodes)

    # -- publishing ------------------------------------------------------------------------

    def _message(self, kind: MessageType, body: Body = None) -> ClusterMessage:
        return ClusterMessage(kind, self.uid, self.local.name, body)

    def _publish(self, message: ClusterMessage) -> asyncio.Future[str]:
        if self.heartbeat is not None:
            self._last_publish = time.monotonic()
            self._arm_heartbeat()
        return asyncio.ensure_future(self.do_publish(message))

    def _publish_background(self, message: ClusterMessage) -> None:
        self._publish(message).add_done_callback(self._log_failure)

    async def _publish_logged(self, message: ClusterMessage) -> None:
        try:
            await self._publish(message)
        except (AdapterError, OSError) as exc:
            logger.warning("%s: could not publish %s: %s", self.local.name, message.type.name, exc)

    def _respond(self, requester_uid: str, kind: MessageType, body: Body) -> None:
        future = asyncio.ensure_future(
            self.do_publish_response(requester_uid, self._message(kind, body))
        )
        future.add_done_callback(self._log_failure)

    def _log_failure(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            logger.warning("%s: could not publish: %s", self.local.name, error)

    # -- operations ------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Publish the broadcast (unless ``local``), then deliver it here."""
        if not options.flags.local and isinstance(packet.data, list):
            self._publish_background(
                self._message(MessageType.BROADCAST, Broadcast(packet.data, options))
            )
        super().broadcast(packet, options)

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        register: AckRegistrar,
        remote: RemoteAcks | None = None,
    ) -> int:
        """Ask the other nodes to send the packet too; they report through ``remote``."""
        if remote is not None and not options.flags.local and isinstance(packet.data, list):
            request_id = wire.random_hex_id()
            self._ack_requests.add(request_id, remote, options.flags.timeout)
            body = Broadcast(packet.data, options, request_id)
            self._publish_background(self._message(MessageType.BROADCAST, body))
        return super().broadcast_with_ack(packet, options, register)

    def release_acks(self, remote: RemoteAcks) -> None:
        super().release_acks(remote)
        self._ack_requests.release(remote)

    async def add_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self.add_local(options, rooms)
        if not options.flags.local:
            body = SocketsJoin(options, rooms)
            await self._publish_logged(self._message(MessageType.SOCKETS_JOIN, body))

    async def del_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self.del_local(options, rooms)
        if not options.flags.local:
            body = SocketsLeave(options, rooms)
            await self._publish_logged(self._message(MessageType.SOCKETS_LEAVE, body))

    async def disconnect_sockets(self, options: BroadcastOptions, *, close: bool) -> None:
        self.disconnect_local(options, close=close)
        if not options.flags.local:
            body = DisconnectSockets(options, close)
            await self._publish_logged(self._message(MessageType.DISCONNECT_SOCKETS, body))

    async def _expected_answers(self) -> tuple[int, set[str] | None]:
        if self.heartbeat is not None:
            return len(self._nodes), set(self._nodes)
        return await self.server_count() - 1, None

    async def _request(
        self,
        what: str,
        make: Callable[[str], ClusterMessage],
        limit: float | None,
        responses: list[Any],
    ) -> list[Any]:
        expected, missing = await self._expected_answers()
        if expected <= 0 or self._closed:
            return responses
        request_id = wire.random_hex_id()
        future = self.requests.start(
            request_id,
            what,
            timeout=limit or self.requests_timeout,
            responses=responses,
            expected=expected,
            missing=missing,
        )
        published = self._publish(make(request_id))

        def on_published(done: asyncio.Future[str]) -> None:
            error = None if done.cancelled() else done.exception()
            if error is not None:
                self.requests.fail(request_id, AdapterError(f"{what}: cannot publish: {error}"))

        published.add_done_callback(on_published)
        return await future

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketDetails]:
        """The selected sockets of every node. Raises ``AdapterTimeout`` (with the sockets
        found so far in ``responses``) when some node does not answer in time."""
        local = self.fetch_local(options)
        if options.flags.local:
            return local

        def make(request_id: str) -> ClusterMessage:
            body = FetchSockets(options, request_id)
            return self._message(MessageType.FETCH_SOCKETS, body)

        return await self._request("fetch_sockets", make, options.flags.timeout, list(local))

    async def server_side_emit(self, args: Sequence[Any]) -> None:
        """Send ``[event, ...args]`` to the other nodes' handlers."""
        body = ServerSideEmit(list(args))
        await self._publish(self._message(MessageType.SERVER_SIDE_EMIT, body))

    async def server_side_emit_with_ack(self, args: Sequence[Any]) -> list[Any]:
        """Send ``[event, ...args]`` and return one answer per other node; raises
        ``AdapterTimeout`` (answers so far in ``responses``) when some do not answer."""

        def make(request_id: str) -> ClusterMessage:
            body = ServerSideEmit(list(args), request_id)
            return self._message(MessageType.SERVER_SIDE_EMIT, body)

        return await self._request("server_side_emit", make, None, [])

    async def all_rooms(self) -> set[Room]:
        """Every room of the namespace on every node (from the rooms of every socket)."""
        rooms = set(self.rooms)
        for socket in await self.fetch_sockets(BroadcastOptions()):
            rooms.update(socket.rooms)
        return rooms

    # -- receiving -------------------------------------------------------------------------

    def receive(self, value: Any, offset: str | None = None, *, response: bool = False) -> None:
        """Handle a decoded message from the broker (``response``: it came on this node's
        own response channel); never raises."""
        try:
            message = ClusterMessage.from_wire(value)
        except RemoteProtocolError as exc:
            self._drop(exc)
            return
        if response:
            self.on_response(message)
        else:
            self.on_message(message, offset)

    def on_message(self, message: ClusterMessage, offset: str | None = None) -> None:
        """Handle a checked message from another node; never raises."""
        if message.uid == self.uid or message.nsp != self.local.name or self._closed:
            return
        try:
            self._on_message(message, offset)
        except Exception:  # a bad message must never take the node down
            logger.exception("%s: error while handling %s", self.local.name, message.type.name)

    def on_response(self, message: ClusterMessage) -> None:
        """Handle a checked response addressed to this node; never raises."""
        if message.nsp != self.local.name or self._closed:
            return
        try:
            self._on_response(message)
        except Exception:  # a bad response must never take the node down
            logger.exception("%s: error while handling %s", self.local.name, message.type.name)

    def _on_message(self, message: ClusterMessage, offset: str | None) -> None:
        if self.heartbeat is not None and message.uid != EMITTER_UID:
            self._nodes[message.uid] = time.monotonic()
        body = message.body
        match message.type:
            case MessageType.INITIAL_HEARTBEAT:
                if self.heartbeat is not None:
                    self._publish_background(self._message(MessageType.HEARTBEAT))
            case MessageType.HEARTBEAT:
                pass
            case MessageType.ADAPTER_CLOSE:
                if self.heartbeat is not None:
                    self._remove_node(message.uid)
            case MessageType.BROADCAST:
                assert isinstance(body, Broadcast)
                if body.request_id is None:
                    self._deliver(body.data, body.options, offset)
                else:
                    self._deliver_with_ack(message.uid, body)
            case MessageType.SOCKETS_JOIN:
                assert isinstance(body, SocketsJoin)
                self.add_local(body.options, body.rooms)
            case MessageType.SOCKETS_LEAVE:
                assert isinstance(body, SocketsLeave)
                self.del_local(body.options, body.rooms)
            case MessageType.DISCONNECT_SOCKETS:
                assert isinstance(body, DisconnectSockets)
                self.disconnect_local(body.options, close=body.close)
            case MessageType.FETCH_SOCKETS:
                assert isinstance(body, FetchSockets)
                sockets = tuple(self.fetch_local(body.options))
                self._respond(
                    message.uid,
                    MessageType.FETCH_SOCKETS_RESPONSE,
                    FetchSocketsResponse(body.request_id, sockets),
                )
            case MessageType.SERVER_SIDE_EMIT:
                assert isinstance(body, ServerSideEmit)
                self._server_side_event(message.uid, body)
            case _:
                self._on_response(message)

    def _deliver(self, data: list[Any], options: BroadcastOptions, offset: str | None) -> None:
        InMemoryAdapter.broadcast(self, Packet(PacketType.EVENT, self.local.name, data), options)

    def _deliver_with_ack(self, requester: str, body: Broadcast) -> None:
        request_id = body.request_id
        assert request_id is not None
        local = self.local
        ack_id = local.next_ack_id()
        waiting: set[SocketId] = set()

        def answered(id: SocketId, args: list[Any]) -> None:
            waiting.discard(id)
            self._respond(
                requester,
                MessageType.BROADCAST_ACK,
                BroadcastAck(request_id, wire.first_arg(args)),
            )

        packet = Packet(PacketType.EVENT, local.name, body.data, ack_id)
        count = InMemoryAdapter.broadcast_with_ack(
            self, packet, body.options, local.ack_registrar(answered, waiting)
        )
        self._respond(
            requester,
            MessageType.BROADCAST_CLIENT_COUNT,
            BroadcastClientCount(request_id, count),
        )
        timeout = body.options.flags.timeout
        if waiting and timeout is not None:
            # The requester stops listening after its timeout: forget the acks too.
            asyncio.get_running_loop().call_later(timeout, local.forget_acks, waiting, ack_id)

    def _server_side_event(self, requester: str, body: ServerSideEmit) -> None:
        request_id = body.request_id
        if request_id is None:
            self.local.server_side_event(list(body.data), None)
            return
        answered = False

        def reply(value: Any) -> None:
            nonlocal answered
            if answered or self._closed:
                return  # one answer per node
            answered = True
            self._respond(
                requester,
                MessageType.SERVER_SIDE_EMIT_RESPONSE,
                ServerSideEmitResponse(request_id, value),
            )

        self.local.server_side_event(list(body.data), reply)

    def _on_response(self, message: ClusterMessage) -> None:
        body = message.body
        match body:
            case BroadcastClientCount(request_id, count):
                remote = self._ack_requests.get(request_id)
                if remote is not None and not remote.released:
                    remote.client_count(count)
            case BroadcastAck(request_id, value):
                remote = self._ack_requests.get(request_id)
                if remote is not None and not remote.released:
                    remote.ack(value)
            case FetchSocketsResponse(request_id, sockets):
                self.requests.answer(request_id, sockets, message.uid)
            case ServerSideEmitResponse(request_id, value):
                self.requests.answer(request_id, [value], message.uid)
            case _:
                pass  # a request type sent as a response: ignored, as JS does

    # -- heartbeats ------------------------------------------------------------------------

    def _arm_heartbeat(self) -> None:
        if self._heartbeat_timer is None and self.heartbeat is not None and not self._closed:
            loop = asyncio.get_running_loop()
            self._heartbeat_timer = loop.call_later(self.heartbeat.interval, self._beat)

    def _beat(self) -> None:
        self._heartbeat_timer = None
        assert self.heartbeat is not None
        quiet = time.monotonic() - self._last_publish
        if quiet >= self.heartbeat.interval:
            self._publish_background(self._message(MessageType.HEARTBEAT))
        else:  # published meanwhile: the next heartbeat is due one interval after that
            loop = asyncio.get_running_loop()
            self._heartbeat_timer = loop.call_later(self.heartbeat.interval - quiet, self._beat)

    def _cleanup_nodes(self) -> None:
        assert self.heartbeat is not None
        now = time.monotonic()
        for uid, seen in list(self._nodes.items()):
            if now - seen > self.heartbeat.timeout:
                logger.info("%s: node %s seems down, forgetting it", self.local.name, uid)
                self._remove_node(uid)
        self._cleanup_timer = asyncio.get_running_loop().call_later(
            self._cleanup_period, self._cleanup_nodes
        )

    @property
    def _cleanup_period(self) -> float:
        # JS checks every second; a shorter heartbeat timeout is checked more often.
        assert self.heartbeat is not None
        return min(1.0, self.heartbeat.timeout / 4)

    def _remove_node(self, uid: str) -> None:
        self._nodes.pop(uid, None)
        self.requests.node_gone(uid)


__all__ = [
    "BINARY_CAPABLE_TYPES",
    "EMITTER_UID",
    "RESPONSE_TYPES",
    "Body",
    "Broadcast",
    "BroadcastAck",
    "BroadcastClientCount",
    "ClusterAdapter",
    "ClusterMessage",
    "DisconnectSockets",
    "DropLog",
    "FetchSockets",
    "FetchSocketsResponse",
    "HeartbeatOptions",
    "MessageType",
    "PendingRequests",
    "ServerSideEmit",
    "ServerSideEmitResponse",
    "SocketsJoin",
    "SocketsLeave",
]
