"""Redis adapters, wire-compatible with ``@socket.io/redis-adapter`` 8.x.

Two formats, chosen by the factory (every node of a cluster must use the same one, with
the same key/prefix):

- ``create_adapter(redis, key="socket.io")``: the classic adapter of ``createAdapter``
  (Redis pub/sub). Per namespace ``<nsp>`` the node listens on the pattern
  ``<key>#<nsp>#*`` (broadcasts: ``<key>#<nsp>#`` for everyone or several rooms,
  ``<key>#<nsp>#<room>#`` for exactly one room) and on the channels ``<key>-request#<nsp>#``,
  ``<key>-response#<nsp>#`` and ``<key>-response#<nsp>#<uid>#``. Broadcasts are the
  notepack msgpack array ``[uid, {type: 2, data, nsp}, {rooms, except, flags}]``; requests
  are JSON objects (msgpack for broadcasts with acks) numbered as in ``RequestType``;
  the server count is ``PUBSUB NUMSUB <key>-request#<nsp>#``. This format is also what
  ``@socket.io/redis-emitter`` (and ``socketeer.adapters.emitter.Emitter``) speaks.
- ``create_sharded_adapter(redis, channel_prefix="socket.io")``: ``createShardedAdapter``
  (sharded pub/sub, Redis >= 7: SPUBLISH / SSUBSCRIBE), built on the cluster message model
  of ``socketeer.adapters.cluster``. Channels ``<prefix>#<nsp>#`` (everything) and
  ``<prefix>#<nsp>#<uid>#`` (responses to this node); with ``subscription_mode="dynamic"``
  (the default) also ``<prefix>#<nsp>#<room>#`` for each public room that has local
  members (``"dynamic-private"``: socket-id rooms too; ``"static"``: none). Messages are
  JSON, or msgpack when they carry binary; the server count is ``PUBSUB SHARDNUMSUB``.

Differences from the JS classic adapter, on purpose and invisible on the wire: a node
applies its own ``sockets_join`` / ``sockets_leave`` / ``disconnect_sockets`` at once (JS
waits for its request to come back from Redis) and ignores the echo; request timeouts fail
with ``AdapterTimeout`` carrying the partial results.

Connections: the adapters of one factory share one publishing connection pool and one
subscriber connection, opened with the settings of the client given (see ``RedisOptions``
for reconnection and the watchdog of the subscriber). Standalone Redis only (not Redis
Cluster).

``redis`` (redis-py >= 5) and ``msgpack`` are needed: ``pip install 'socketeer[redis]'``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final, Literal

from .._types import Room, SocketId
from ..exceptions import AdapterError, RemoteProtocolError
from ..socketio.packets import Packet, PacketType
from . import _wire as wire
from ._redis_io import RedisLink, RedisOptions, count_subscribers
from .base import (
    AckRegistrar,
    BroadcastOptions,
    LocalSockets,
    RemoteAckRequests,
    RemoteAcks,
    SocketDetails,
)
from .cluster import (
    DEFAULT_REQUESTS_TIMEOUT,
    Broadcast,
    ClusterAdapter,
    ClusterMessage,
    DropLog,
    PendingRequests,
)
from .memory import Encode, InMemoryAdapter

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("socketeer.adapters.redis")

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]


class RequestType(IntEnum):
    """Request types of the classic ``@socket.io/redis-adapter`` (``lib/index.ts``)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


_GLOB_SPECIAL: Final = str.maketrans({c: "\\" + c for c in "\\*?[]"})


def glob_escape(text: str) -> str:
    """``text`` as a literal in a PSUBSCRIBE pattern (JS does not escape: avoid ``*?[``
    in namespace names if JS nodes share the cluster)."""
    return text.translate(_GLOB_SPECIAL)


def _event_packet(data: list[Any], nsp: str) -> dict[str, Any]:
    return {"type": PacketType.EVENT.value, "data": data, "nsp": nsp}


def _request_options(options: BroadcastOptions) -> dict[str, Any]:
    return wire.options_to_wire(options, flags=False)


class RedisAdapterFactory:
    """Makes the adapter of each namespace: ``Server(adapter=create_adapter(redis))``.

    The adapters it makes share one Redis link (``link``): one publishing pool and one
    subscriber connection.
    """

    def __init__(
        self, link: RedisLink, make: Callable[[LocalSockets, Encode, RedisLink], InMemoryAdapter]
    ) -> None:
        self.link = link
        self._make = make

    def __call__(self, local: LocalSockets, encode: Encode) -> InMemoryAdapter:
        return self._make(local, encode, self.link)

    async def close(self) -> None:
        """Close the connections (the server's ``close()`` does it when its last adapter
        closes; this is for adapters that were never started)."""
        await self.link.close()


def create_adapter(
    redis: Redis | str,
    *,
    key: str = "socket.io",
    requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    publish_on_specific_response_channel: bool = False,
    options: RedisOptions | None = None,
) -> RedisAdapterFactory:
    """The classic Redis adapter (``@socket.io/redis-adapter`` ``createAdapter``).

    Args:
        redis: a ``redis.asyncio.Redis`` client (its settings are used for the adapter's own
            connections) or a ``redis://`` URL.
        key: the channel prefix (JS ``key``).
        requests_timeout: seconds to wait for the other nodes' answers (JS
            ``requestsTimeout``).
        publish_on_specific_response_channel: answer on the requester's own response
            channel instead of the shared one (JS option of the same name).
        options: connection behaviour (timeouts, watchdog, caps).
    """
    link = RedisLink(redis, options or RedisOptions(), f"redis adapter {key}")

    def make(local: LocalSockets, encode: Encode, link: RedisLink) -> RedisAdapter:
        return RedisAdapter(
            local,
            encode,
            link,
            key=key,
            requests_timeout=requests_timeout,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
        )

    return RedisAdapterFactory(link, make)


def create_sharded_adapter(
    redis: Redis | str,
    *,
    channel_prefix: str = "socket.io",
    subscription_mode: SubscriptionMode = "dynamic",
    requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    options: RedisOptions | None = None,
) -> RedisAdapterFactory:
    """The sharded Redis adapter (``@socket.io/redis-adapter`` ``createShardedAdapter``,
    Redis >= 7).

    Args:
        redis: a ``redis.asyncio.Redis`` client or a ``redis://`` URL.
        channel_prefix: the channel prefix (JS ``channelPrefix``).
        subscription_mode: ``"static"``, ``"dynamic"`` or ``"dynamic-private"`` (JS
            ``subscriptionMode``); every node must use the same.
        requests_timeout: seconds to wait for the other nodes' answers.
        options: connection behaviour (timeouts, watchdog, caps).
    """
    if subscription_mode not in ("static", "dynamic", "dynamic-private"):
        raise ValueError(f"unknown subscription mode {subscription_mode!r}")
    link = RedisLink(redis, options or RedisOptions(), f"sharded redis adapter {channel_prefix}")

    def make(local: LocalSockets, encode: Encode, link: RedisLink) -> ShardedRedisAdapter:
        return ShardedRedisAdapter(
            local,
            encode,
            link,
            channel_prefix=channel_prefix,
            subscription_mode=subscription_mode,
            requests_timeout=requests_timeout,
        )

    return RedisAdapterFactory(link, make)


# -- the classic adapter ---------------------------------------------------------------------


class RedisAdapter(InMemoryAdapter):
    """The classic Redis adapter of one namespace (see the module documentation)."""

    __slots__ = (
        "_ack_requests",
        "_drop",
        "_kinds",
        "_link",
        "_started",
        "channel",
        "publish_on_specific_response_channel",
        "request_channel",
        "requests",
        "requests_timeout",
        "response_channel",
        "specific_response_channel",
        "uid",
    )

    def __init__(
        self,
        local: LocalSockets,
        encode: Encode,
        link: RedisLink,
        *,
        key: str = "socket.io",
        requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(local, encode)
        wire.msgpack()  # fail now when msgpack is missing
        self._link = link
        self.uid = wire.uid2(6)
        self.requests_timeout = requests_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        name = local.name
        self.channel = f"{key}#{name}#"
        self.request_channel = f"{key}-request#{name}#"
        self.response_channel = f"{key}-response#{name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        self.requests = PendingRequests()
        self._kinds: dict[str, RequestType] = {}
        self._ack_requests = RemoteAckRequests()
        self._started = False
        self._drop = DropLog(f"redis adapter {name}")

    # -- lifecycle -------------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the namespace's channels (and wait, boundedly, until Redis has them)."""
        if self._started:
            return
        self._started = True
        self._link.acquire()
        subscriber = self._link.subscriber
        subscriber.add("pattern", glob_escape(self.channel) + "*", self._on_broadcast)
        for channel in (
            self.request_channel,
            self.response_channel,
            self.specific_response_channel,
        ):
            subscriber.add("channel", channel, self._on_request_channel)
        timeout = self._link.options.subscribe_timeout
        if not await subscriber.wait_synced(timeout):
            logger.warning(
                "%s: Redis did not confirm the subscriptions within %s s; they will be made "
                "when it answers",
                self.local.name,
                timeout,
            )

    async def close(self) -> None:
        """Unsubscribe, fail the requests still waiting, release the connections."""
        if not self._started:
            return
        self._started = False
        subscriber = self._link.subscriber
        subscriber.remove("pattern", glob_escape(self.channel) + "*")
        for channel in (
            self.request_channel,
            self.response_channel,
            self.specific_response_channel,
        ):
            subscriber.remove("channel", channel)
        self.requests.fail_all("the adapter is closed")
        self._ack_requests.clear()
        await self._link.release()

    async def server_count(self) -> int:
        """``PUBSUB NUMSUB`` of the request channel: the nodes of this namespace."""
        reply = await self._link.publisher.execute("PUBSUB", "NUMSUB", self.request_channel)
        return count_subscribers(reply)

    # -- publishing ------------------------------------------------------------------------

    def _publish(self, channel: str, payload: bytes | str) -> asyncio.Future[Any]:
        return self._link.publisher.send("PUBLISH", channel, payload)

    def _publish_logged(self, channel: str, payload: bytes | str) -> None:
        self._publish(channel, payload).add_done_callback(self._log_failure)

    def _log_failure(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.warning("%s: %s", self.local.name, future.exception())

    def _publish_response(self, request: dict[str, Any], response: bytes | str) -> None:
        uid = request.get("uid")
        if self.publish_on_specific_response_channel and isinstance(uid, str):
            channel = f"{self.response_channel}{uid}#"
        else:
            channel = self.response_channel
        self._publish_logged(channel, response)

    # -- operations ------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Publish ``[uid, packet, opts]`` (unless ``local``), then deliver here."""
        if not options.flags.local and isinstance(packet.data, list):
            message = wire.msgpack().encode(
                [
                    self.uid,
                    _event_packet(packet.data, self.local.name),
                    wire.options_to_wire(options),
                ]
            )
            channel = self.channel
            if len(options.rooms) == 1:
                channel += next(iter(options.rooms)) + "#"
            self._publish_logged(channel, message)
        super().broadcast(packet, options)

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        register: AckRegistrar,
        remote: RemoteAcks | None = None,
    ) -> int:
        """Ask the other nodes (request type 7); they report through ``remote``."""
        if remote is not None and not options.flags.local and isinstance(packet.data, list):
            request_id = wire.uid2(6)
            request = wire.msgpack().encode(
                {
                    "uid": self.uid,
                    "requestId": request_id,
                    "type": RequestType.BROADCAST.value,
                    "packet": _event_packet(packet.data, self.local.name),
                    "opts": wire.options_to_wire(options),
                }
            )
            self._ack_requests.add(request_id, remote, options.flags.timeout)
            self._publish_logged(self.request_channel, request)
        return super().broadcast_with_ack(packet, options, register)

    def release_acks(self, remote: RemoteAcks) -> None:
        super().release_acks(remote)
        self._ack_requests.release(remote)

    async def _publish_request(self, request: dict[str, Any], what: str) -> None:
        try:
            await self._publish(self.request_channel, wire.json_dumps(request))
        except AdapterError as exc:
            logger.warning("%s: %s: %s", self.local.name, what, exc)

    async def add_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self.add_local(options, rooms)
        if not options.flags.local:
            request = {
                "uid": self.uid,
                "type": RequestType.REMOTE_JOIN.value,
                "opts": _request_options(options),
                "rooms": list(rooms),
            }
            await self._publish_request(request, "sockets_join")

    async def del_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        rooms = tuple(rooms)
        self.del_local(options, rooms)
        if not options.flags.local:
            request = {
                "uid": self.uid,
                "type": RequestType.REMOTE_LEAVE.value,
                "opts": _request_options(options),
                "rooms": list(rooms),
            }
            await self._publish_request(request, "sockets_leave")

    async def disconnect_sockets(self, options: BroadcastOptions, *, close: bool) -> None:
        self.disconnect_local(options, close=close)
        if not options.flags.local:
            request = {
                "uid": self.uid,
                "type": RequestType.REMOTE_DISCONNECT.value,
                "opts": _request_options(options),
                "close": close,
            }
            await self._publish_request(request, "disconnect_sockets")

    async def _request(
        self, kind: RequestType, what: str, fields: dict[str, Any], responses: list[Any]
    ) -> list[Any]:
        count = await self.server_count()
        if count <= 1:
            return responses
        request_id = wire.uid2(6)
        request = {"uid": self.uid, "requestId": request_id, "type": kind.value, **fields}
        payload = wire.json_dumps(request)
        future = self.requests.start(
            request_id,
            what,
            timeout=self.requests_timeout,
            responses=responses,
            expected=count - 1,
        )
        self._kinds[request_id] = kind
        future.add_done_callback(lambda _: self._kinds.pop(request_id, None))
        published = self._publish(self.request_channel, payload)

        def on_published(done: asyncio.Future[Any]) -> None:
            error = None if done.cancelled() else done.exception()
            if error is not None:
                self.requests.fail(request_id, AdapterError(f"{what}: {error}"))

        published.add_done_callback(on_published)
        return await future

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketDetails]:
        """The selected sockets of every node (request type 5)."""
        local = self.fetch_local(options)
        if options.flags.local:
            return local
        fields = {"opts": _request_options(options)}
        return await self._request(RequestType.REMOTE_FETCH, "fetch_sockets", fields, local)

    async def all_rooms(self) -> set[Room]:
        """Every room on every node (request type 1)."""
        found = await self._request(RequestType.ALL_ROOMS, "all_rooms", {}, list(self.rooms))
        return set(found)

    async def server_side_emit(self, args: Sequence[Any]) -> None:
        request = {"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT.value, "data": list(args)}
        await self._publish(self.request_channel, wire.json_dumps(request))

    async def server_side_emit_with_ack(self, args: Sequence[Any]) -> list[Any]:
        fields = {"data": list(args)}
        return await self._request(RequestType.SERVER_SIDE_EMIT, "server_side_emit", fields, [])

    # -- receiving -------------------------------------------------------------------------

    def _on_broadcast(self, channel: str, payload: bytes) -> None:
        if not channel.startswith(self.channel) or not self._started:
            return
        room = channel[len(self.channel) : -1]
        if room and room not in self.rooms:
            return  # a one-room broadcast for a room without local members
        try:
            message = wire.expect_list(wire.msgpack().decode(payload), "a broadcast")
            if len(message) < 2:
                raise RemoteProtocolError("a broadcast is [uid, packet, opts]")
            if message[0] == self.uid:
                return
            packet = wire.expect_dict(message[1], "packet")
            nsp = packet.get("nsp", "/")
            if nsp != self.local.name:
                return
            data = wire.event_packet(packet)
            options = wire.options_from_wire(message[2] if len(message) > 2 else {})
        except RemoteProtocolError as exc:
            self._drop(exc)
            return
        try:
            InMemoryAdapter.broadcast(self, Packet(PacketType.EVENT, nsp, data), options)
        except Exception:  # e.g. data our codec cannot encode: drop it, go on
            logger.exception("%s: cannot deliver a broadcast from another node", self.local.name)

    def _on_request_channel(self, channel: str, payload: bytes) -> None:
        if not self._started:
            return
        try:
            value = wire.expect_dict(wire.decode_json_or_msgpack(payload), "a request")
            if channel == self.request_channel:
                self._on_request(value)
            else:
                self._on_response(value)
        except RemoteProtocolError as exc:
            self._drop(exc)
        except Exception:  # never let a message take the node down
            logger.exception("%s: error while handling a request", self.local.name)

    def _on_request(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        uid = request.get("uid")
        request_id = wire.optional_str(request.get("requestId"), "requestId")
        mine = uid == self.uid
        match kind:
            case RequestType.SOCKETS:
                if request_id is None or request_id in self.requests:
                    return
                rooms = wire.rooms_of(request.get("rooms"), "rooms")
                ids = sorted(self.select(BroadcastOptions(rooms=rooms)))
                response = {"requestId": request_id, "sockets": ids}
                self._publish_response(request, wire.json_dumps(response))
            case RequestType.ALL_ROOMS:
                if request_id is None or request_id in self.requests:
                    return
                response = {"requestId": request_id, "rooms": list(self.rooms)}
                self._publish_response(request, wire.json_dumps(response))
            case RequestType.REMOTE_JOIN | RequestType.REMOTE_LEAVE:
                if "opts" in request:
                    if mine:
                        return  # applied when it was sent
                    options = wire.options_from_wire(request["opts"])
                    targets = sorted(wire.rooms_of(request.get("rooms"), "rooms"))
                    if kind == RequestType.REMOTE_JOIN:
                        self.add_local(options, targets)
                    else:
                        self.del_local(options, targets)
                    return
                sid = SocketId(wire.expect_str(request.get("sid"), "sid"))
                room = wire.expect_str(request.get("room"), "room")
                if sid not in self.sids:
                    return
                if kind == RequestType.REMOTE_JOIN:
                    self.add_all(sid, [room])
                else:
                    self.delete(sid, room)
                self._publish_response(request, wire.json_dumps({"requestId": request_id}))
            case RequestType.REMOTE_DISCONNECT:
                close = request.get("close") is True
                if "opts" in request:
                    if mine:
                        return
                    self.disconnect_local(wire.options_from_wire(request["opts"]), close=close)
                    return
                sid = SocketId(wire.expect_str(request.get("sid"), "sid"))
                if sid not in self.sids:
                    return
                self.local.disconnect_local([sid], close=close)
                self._publish_response(request, wire.json_dumps({"requestId": request_id}))
            case RequestType.REMOTE_FETCH:
                if request_id is None or request_id in self.requests:
                    return
                options = wire.options_from_wire(request.get("opts"))
                found = [wire.details_to_wire(s) for s in self.fetch_local(options)]
                self._publish_response(
                    request, wire.json_dumps({"requestId": request_id, "sockets": found})
                )
            case RequestType.SERVER_SIDE_EMIT:
                if mine:
                    return
                data = wire.event_data(request.get("data"), "data", server_side=True)
                self._server_side_event(data, request_id)
            case RequestType.BROADCAST:
                if request_id is None or request_id in self._ack_requests:
                    return  # ours
                self._deliver_with_ack(request, request_id)
            case _:
                pass  # unknown type: ignored, as JS does

    def _server_side_event(self, data: list[Any], request_id: str | None) -> None:
        if request_id is None:
            self.local.server_side_event(data, None)
            return
        answered = False

        def reply(value: Any) -> None:
            nonlocal answered
            if answered or not self._started:
                return
            answered = True
            response: dict[str, Any] = {
                "type": RequestType.SERVER_SIDE_EMIT.value,
                "requestId": request_id,
            }
            if value is not None:
                response["data"] = value
            # JS answers server-side emits on the shared response channel, always.
            self._publish_logged(self.response_channel, wire.json_dumps(response))

        self.local.server_side_event(data, reply)

    def _deliver_with_ack(self, request: dict[str, Any], request_id: str) -> None:
        data = wire.event_packet(request.get("packet"))
        options = wire.options_from_wire(request.get("opts"))
        local = self.local
        ack_id = local.next_ack_id()
        waiting: set[SocketId] = set()
        encode = wire.msgpack().encode

        def answered(id: SocketId, args: list[Any]) -> None:
            waiting.discard(id)
            response = {
                "type": RequestType.BROADCAST_ACK.value,
                "requestId": request_id,
                "packet": wire.first_arg(args),
            }
            self._publish_response(request, encode(response))

        packet = Packet(PacketType.EVENT, local.name, data, ack_id)
        count = InMemoryAdapter.broadcast_with_ack(
            self, packet, options, local.ack_registrar(answered, waiting)
        )
        response = {
            "type": RequestType.BROADCAST_CLIENT_COUNT.value,
            "requestId": request_id,
            "clientCount": count,
        }
        self._publish_response(request, wire.json_dumps(response))
        timeout = options.flags.timeout
        if waiting and timeout is not None:
            asyncio.get_running_loop().call_later(timeout, local.forget_acks, waiting, ack_id)

    def _on_response(self, response: dict[str, Any]) -> None:
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        remote = self._ack_requests.get(request_id)
        if remote is not None:
            if remote.released:
                return
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT:
                remote.client_count(wire.expect_int(response.get("clientCount"), "clientCount"))
            elif kind == RequestType.BROADCAST_ACK:
                remote.ack(response.get("packet"))
            return
        kind = self._kinds.get(request_id)
        items: list[Any]
        if kind is RequestType.REMOTE_FETCH:
            sockets = response.get("sockets")
            items = [wire.details_from_wire(s) for s in sockets] if type(sockets) is list else []
        elif kind is RequestType.ALL_ROOMS:
            rooms = response.get("rooms")
            items = sorted(wire.rooms_of(rooms, "rooms")) if type(rooms) is list else []
        elif kind is RequestType.SERVER_SIDE_EMIT:
            items = [response.get("data")]
        else:
            return
        self.requests.answer(request_id, items)


# -- the sharded adapter ---------------------------------------------------------------------


def encode_sharded(message: ClusterMessage) -> bytes | str:
    """The sharded adapter's encoding: JSON text, msgpack when the data holds binary."""
    if message.has_binary():
        return wire.msgpack().encode(message.to_wire())
    return wire.json_dumps(message.to_wire())


def _looks_like_a_socket_id(room: Room) -> bool:
    return len(room) == 20


class ShardedRedisAdapter(ClusterAdapter):
    """The sharded Redis adapter of one namespace (see the module documentation)."""

    __slots__ = (
        "_dynamic",
        "_link",
        "_started",
        "channel",
        "response_channel",
        "subscription_mode",
    )

    def __init__(
        self,
        local: LocalSockets,
        encode: Encode,
        link: RedisLink,
        *,
        channel_prefix: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    ) -> None:
        super().__init__(local, encode, requests_timeout=requests_timeout, heartbeat=None)
        wire.msgpack()  # fail now when msgpack is missing
        self._link = link
        self.subscription_mode = subscription_mode
        self.channel = f"{channel_prefix}#{local.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self._dynamic: set[str] = set()  # dynamic room channels subscribed
        self._started = False
        if subscription_mode != "static":
            self.on("create-room", self._room_created)
            self.on("delete-room", self._room_deleted)

    async def init(self) -> None:
        """Subscribe to the namespace's channels (and wait, boundedly, until Redis has them)."""
        if self._started:
            return
        self._started = True
        self._link.acquire()
        subscriber = self._link.subscriber
        subscriber.add("shard", self.channel, self._on_raw)
        subscriber.add("shard", self.response_channel, self._on_raw)
        for room in list(self.rooms):
            self._room_created(room)
        timeout = self._link.options.subscribe_timeout
        if not await subscriber.wait_synced(timeout):
            logger.warning(
                "%s: Redis did not confirm the subscriptions within %s s; they will be made "
                "when it answers",
                self.local.name,
                timeout,
            )
        await super().init()

    async def close(self) -> None:
        """Unsubscribe, fail the requests still waiting, release the connections."""
        if not self._started:
            return
        self._started = False
        await super().close()
        subscriber = self._link.subscriber
        for channel in (self.channel, self.response_channel, *self._dynamic):
            subscriber.remove("shard", channel)
        self._dynamic.clear()
        await self._link.release()

    async def server_count(self) -> int:
        """``PUBSUB SHARDNUMSUB`` of the namespace channel."""
        reply = await self._link.publisher.execute("PUBSUB", "SHARDNUMSUB", self.channel)
        return count_subscribers(reply)

    # -- dynamic room channels -------------------------------------------------------------

    def _dynamic_channel(self, room: Room) -> str:
        return f"{self.channel}{room}#"

    def _separate_channel(self, room: Room) -> bool:
        if self.subscription_mode == "dynamic-private":
            return True
        return self.subscription_mode == "dynamic" and room not in self.sids

    def _room_created(self, room: Room) -> None:
        if self._started and self._separate_channel(room):
            channel = self._dynamic_channel(room)
            self._dynamic.add(channel)
            self._link.subscriber.add("shard", channel, self._on_raw)

    def _room_deleted(self, room: Room) -> None:
        channel = self._dynamic_channel(room)
        if channel in self._dynamic:
            self._dynamic.discard(channel)
            self._link.subscriber.remove("shard", channel)

    # -- the broker hooks ------------------------------------------------------------------

    def _compute_channel(self, message: ClusterMessage) -> str:
        body = message.body
        if (
            self.subscription_mode != "static"
            and isinstance(body, Broadcast)
            and body.request_id is None
            and len(body.options.rooms) == 1
        ):
            room = next(iter(body.options.rooms))
            if self.subscription_mode == "dynamic-private" or not _looks_like_a_socket_id(room):
                return self._dynamic_channel(room)
        return self.channel

    def do_publish(self, message: ClusterMessage) -> Awaitable[str]:
        sent = self._link.publisher.send(
            "SPUBLISH", self._compute_channel(message), encode_sharded(message)
        )
        return _offset_of(sent)

    def do_publish_response(self, requester_uid: str, message: ClusterMessage) -> Awaitable[None]:
        sent = self._link.publisher.send(
            "SPUBLISH", f"{self.channel}{requester_uid}#", encode_sharded(message)
        )
        return _nothing(sent)

    def _on_raw(self, channel: str, payload: bytes) -> None:
        if not self._started:
            return
        try:
            value = wire.decode_json_or_msgpack(payload)
        except RemoteProtocolError as exc:
            self._drop(exc)
            return
        self.receive(value, response=channel == self.response_channel)


async def _offset_of(sent: asyncio.Future[Any]) -> str:
    await sent
    return ""


async def _nothing(sent: asyncio.Future[Any]) -> None:
    await sent


__all__ = [
    "RedisAdapter",
    "RedisAdapterFactory",
    "RedisOptions",
    "RequestType",
    "ShardedRedisAdapter",
    "SubscriptionMode",
    "create_adapter",
    "create_sharded_adapter",
    "encode_sharded",
    "glob_escape",
]
