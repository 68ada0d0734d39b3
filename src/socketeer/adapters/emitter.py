"""Emit to a Socket.IO cluster from any process, without running a server.

``Emitter`` (asyncio) and ``SyncEmitter`` (blocking) publish on Redis in the format of
``@socket.io/redis-emitter`` 5.x, which every node using the classic Redis adapter (JS
``createAdapter`` or ``socketeer.adapters.redis.create_adapter``) understands::

    emitter = Emitter(redis.asyncio.Redis())            # or Emitter("redis://...")
    await emitter.emit("news", {"title": "hello"})       # everyone in "/"
    await emitter.to("room1").except_("room2").emit("x")
    await emitter.of("/admin").volatile.emit("tick")
    await emitter.in_("room1").sockets_join("room2")
    await emitter.disconnect_sockets(close=True)
    await emitter.server_side_emit("reload", 1)          # the nodes' io.on("reload")

    SyncEmitter(redis.Redis()).to("room1").emit("x")    # the same, blocking

Wire format (classic): a broadcast is the msgpack array ``["emitter", {type: 2, data:
[event, ...args], nsp}, {rooms, flags, except}]`` published on ``<key>#<nsp>#``, or
``<key>#<nsp>#<room>#`` when exactly one room is targeted; ``sockets_join`` /
``sockets_leave`` / ``disconnect_sockets`` / ``server_side_emit`` are JSON requests on
``<key>-request#<nsp>#`` (types 2, 3, 4 and 6). Acknowledgements are not supported, as in
JS.

``sharded=True`` speaks the sharded adapter's format instead (``createShardedAdapter``;
the JS emitter package has no such mode): cluster messages with uid ``"emitter"``,
SPUBLISHed on ``<prefix>#<nsp>#`` (or the room's channel, with the same
``subscription_mode`` as the nodes).

The message building is shared (``EmitTarget``, sans I/O); the two emitters differ only
in how they publish.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from .._types import Room
from ..exceptions import LocalProtocolError
from . import _wire as wire
from .base import BroadcastFlags, BroadcastOptions
from .cluster import (
    EMITTER_UID,
    Broadcast,
    ClusterMessage,
    DisconnectSockets,
    MessageType,
    ServerSideEmit,
    SocketsJoin,
    SocketsLeave,
)
from .redis import RequestType, SubscriptionMode, encode_sharded

if TYPE_CHECKING:
    import redis as sync_redis
    from redis.asyncio import Redis

R = TypeVar("R")


def _rooms(room: Room | Iterable[Room]) -> frozenset[Room]:
    return frozenset((room,) if isinstance(room, str) else room)


@dataclass(frozen=True, slots=True)
class EmitTarget:
    """Who an emitter targets and how: the sans-I/O part of the emitters.

    Each method that builds a message returns ``(command, channel, payload)``, ready for
    ``PUBLISH`` / ``SPUBLISH``.
    """

    key: str = "socket.io"
    nsp: str = "/"
    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    volatile: bool = False
    compress: bool | None = None  # None: not set (the flag is then not sent)
    sharded: bool = False
    subscription_mode: SubscriptionMode = "dynamic"

    @property
    def _command(self) -> str:
        return "SPUBLISH" if self.sharded else "PUBLISH"

    @property
    def broadcast_channel(self) -> str:
        """``<key>#<nsp>#``."""
        return f"{self.key}#{self.nsp}#"

    @property
    def request_channel(self) -> str:
        """``<key>-request#<nsp>#`` (classic format)."""
        return f"{self.key}-request#{self.nsp}#"

    def _options(self) -> BroadcastOptions:
        flags = BroadcastFlags(volatile=self.volatile, compress=self.compress is not False)
        return BroadcastOptions(self.rooms, self.except_rooms, flags)

    def _cluster(self, kind: MessageType, body: Any, channel: str | None = None) -> Message:
        payload = encode_sharded(ClusterMessage(kind, EMITTER_UID, self.nsp, body))
        return self._command, channel or self.broadcast_channel, payload

    def emit_message(self, event: str, args: Iterable[Any]) -> Message:
        """The broadcast of ``event``."""
        wire.check_event_to_send(event)
        data = [event, *args]
        if self.sharded:
            channel = self.broadcast_channel
            if len(self.rooms) == 1 and self.subscription_mode != "static":
                room = next(iter(self.rooms))
                if self.subscription_mode == "dynamic-private" or len(room) != 20:
                    channel = f"{channel}{room}#"
            body = Broadcast(data, self._options())
            return self._cluster(MessageType.BROADCAST, body, channel)
        flags: dict[str, Any] = {}
        if self.volatile:
            flags["volatile"] = True
        if self.compress is not None:
            flags["compress"] = self.compress
        options = {
            "rooms": wire.room_list(self.rooms),
            "flags": flags,
            "except": wire.room_list(self.except_rooms),
        }
        packet = {"type": 2, "data": data, "nsp": self.nsp}
        payload = wire.msgpack().encode([EMITTER_UID, packet, options])
        channel = self.broadcast_channel
        if len(self.rooms) == 1:
            channel += next(iter(self.rooms)) + "#"
        return "PUBLISH", channel, payload

    def _request(self, request: dict[str, Any]) -> Message:
        return "PUBLISH", self.request_channel, wire.json_dumps(request)

    def _request_options(self) -> dict[str, Any]:
        return {"rooms": wire.room_list(self.rooms), "except": wire.room_list(self.except_rooms)}

    def join_message(self, rooms: Room | Iterable[Room]) -> Message:
        """``sockets_join(rooms)``."""
        targets = sorted(_rooms(rooms))
        if self.sharded:
            return self._cluster(
                MessageType.SOCKETS_JOIN, SocketsJoin(self._options(), tuple(targets))
            )
        return self._request(
            {
                "type": RequestType.REMOTE_JOIN.value,
                "opts": self._request_options(),
                "rooms": targets,
            }
        )

    def leave_message(self, rooms: Room | Iterable[Room]) -> Message:
        """``sockets_leave(rooms)``."""
        targets = sorted(_rooms(rooms))
        if self.sharded:
            return self._cluster(
                MessageType.SOCKETS_LEAVE, SocketsLeave(self._options(), tuple(targets))
            )
        return self._request(
            {
                "type": RequestType.REMOTE_LEAVE.value,
                "opts": self._request_options(),
                "rooms": targets,
            }
        )

    def disconnect_message(self, close: bool) -> Message:
        """``disconnect_sockets(close)``."""
        if self.sharded:
            return self._cluster(
                MessageType.DISCONNECT_SOCKETS, DisconnectSockets(self._options(), close)
            )
        return self._request(
            {
                "type": RequestType.REMOTE_DISCONNECT.value,
                "opts": self._request_options(),
                "close": close,
            }
        )

    def server_side_emit_message(self, event: str, args: Iterable[Any]) -> Message:
        """``server_side_emit(event, *args)``."""
        wire.check_event_to_send(event, server_side=True)
        data = [event, *args]
        if self.sharded:
            return self._cluster(MessageType.SERVER_SIDE_EMIT, ServerSideEmit(data))
        return self._request(
            {"uid": EMITTER_UID, "type": RequestType.SERVER_SIDE_EMIT.value, "data": data}
        )


Message = tuple[str, str, bytes | str]
"""``(command, channel, payload)``."""


class _Emitter(Generic[R]):
    """What both emitters share: targeting (immutable) and the messages; ``R`` is what a
    publish returns (an awaitable for ``Emitter``)."""

    __slots__ = ("_send", "target")

    def __init__(self, send: Callable[[str, str, bytes | str], R], target: EmitTarget) -> None:
        self._send = send
        self.target = target

    def _with(self, **changes: Any) -> Self:
        clone = object.__new__(type(self))
        clone._send = self._send
        clone.target = dataclasses.replace(self.target, **changes)
        clone._init_clone(self)
        return clone

    def _init_clone(self, original: Any) -> None:
        """Copy what a subclass keeps besides the target (the connection)."""

    # -- targeting (each returns a new emitter) ---------------------------------------------

    def of(self, nsp: str) -> Self:
        """The same emitter for namespace ``nsp`` (targets reset)."""
        return self._with(
            nsp=nsp if nsp.startswith("/") else "/" + nsp,
            rooms=frozenset(),
            except_rooms=frozenset(),
            volatile=False,
            compress=None,
        )

    def to(self, room: Room | Iterable[Room]) -> Self:
        """Also target the sockets in ``room``."""
        return self._with(rooms=self.target.rooms | _rooms(room))

    def in_(self, room: Room | Iterable[Room]) -> Self:
        """Alias of ``to``."""
        return self.to(room)

    def except_(self, room: Room | Iterable[Room]) -> Self:
        """Exclude the sockets in ``room``."""
        return self._with(except_rooms=self.target.except_rooms | _rooms(room))

    @property
    def volatile(self) -> Self:
        """Drop the event for clients that are not writable right now."""
        return self._with(volatile=True)

    def compress(self, compress: bool) -> Self:
        """The compress flag."""
        return self._with(compress=compress)

    # -- sending ---------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> R:
        """Broadcast ``event`` to the targeted sockets of every node."""
        return self._send(*self.target.emit_message(event, args))

    def send(self, *args: Any) -> R:
        """Emit a ``message`` event."""
        return self.emit("message", *args)

    def emit_with_ack(self, event: str, *args: Any) -> R:
        """Not supported: an emitter cannot receive acknowledgements."""
        raise LocalProtocolError("Acknowledgements are not supported")

    def sockets_join(self, rooms: Room | Iterable[Room]) -> R:
        """Make the targeted sockets join ``rooms``."""
        return self._send(*self.target.join_message(rooms))

    def sockets_leave(self, rooms: Room | Iterable[Room]) -> R:
        """Make the targeted sockets leave ``rooms``."""
        return self._send(*self.target.leave_message(rooms))

    def disconnect_sockets(self, close: bool = False) -> R:
        """Disconnect the targeted sockets (``close``: their whole connection)."""
        return self._send(*self.target.disconnect_message(close))

    def server_side_emit(self, event: str, *args: Any) -> R:
        """Send ``event`` to the servers' ``io.on(event)`` handlers (no acknowledgement)."""
        return self._send(*self.target.server_side_emit_message(event, args))


def _target(key: str, nsp: str, sharded: bool, subscription_mode: SubscriptionMode) -> EmitTarget:
    wire.msgpack()  # fail now when msgpack is missing
    return EmitTarget(
        key=key,
        nsp=nsp if nsp.startswith("/") else "/" + nsp,
        sharded=sharded,
        subscription_mode=subscription_mode,
    )


class Emitter(_Emitter[Awaitable[int]]):
    """Publish to a Socket.IO cluster with asyncio (``redis.asyncio``); see the module doc.

    Args:
        redis: a ``redis.asyncio.Redis`` client, or a ``redis://`` URL (the emitter then
            owns the client: ``await emitter.close()``).
        key: the channel prefix of the nodes (``key`` / ``channelPrefix`` in JS).
        nsp: the namespace (``of()`` makes emitters for others).
        sharded: use the sharded adapter's format (SPUBLISH).
        subscription_mode: with ``sharded``, the nodes' subscription mode.

    Every method that sends returns an awaitable of the number of Redis subscribers that
    got the message.
    """

    __slots__ = ("_client", "_owned")

    def __init__(
        self,
        redis: Redis | str,
        *,
        key: str = "socket.io",
        nsp: str = "/",
        sharded: bool = False,
        subscription_mode: SubscriptionMode = "dynamic",
    ) -> None:
        if isinstance(redis, str):
            from redis.asyncio import Redis

            self._client: Redis = Redis.from_url(redis)
            self._owned = True
        else:
            self._client = redis
            self._owned = False
        super().__init__(self._publish, _target(key, nsp, sharded, subscription_mode))

    def _init_clone(self, original: Any) -> None:
        self._client = original._client
        self._owned = False

    async def _publish(self, command: str, channel: str, payload: bytes | str) -> int:
        result = await self._client.execute_command(command, channel, payload)  # type: ignore[no-untyped-call]
        return int(result)

    async def close(self) -> None:
        """Close the client if the emitter made it (from a URL)."""
        if self._owned:
            await self._client.aclose()


class SyncEmitter(_Emitter[int]):
    """Publish to a Socket.IO cluster from blocking code (``redis.Redis``); the same API as
    ``Emitter``, whose messages it shares, with blocking methods."""

    __slots__ = ("_client", "_owned")

    def __init__(
        self,
        redis: sync_redis.Redis | str,
        *,
        key: str = "socket.io",
        nsp: str = "/",
        sharded: bool = False,
        subscription_mode: SubscriptionMode = "dynamic",
    ) -> None:
        if isinstance(redis, str):
            from redis import Redis

            self._client: sync_redis.Redis = Redis.from_url(redis)
            self._owned = True
        else:
            self._client = redis
            self._owned = False
        super().__init__(self._publish, _target(key, nsp, sharded, subscription_mode))

    def _init_clone(self, original: Any) -> None:
        self._client = original._client
        self._owned = False

    def _publish(self, command: str, channel: str, payload: bytes | str) -> int:
        return int(self._client.execute_command(command, channel, payload))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the client if the emitter made it (from a URL)."""
        if self._owned:
            self._client.close()


__all__ = ["EmitTarget", "Emitter", "Message", "SyncEmitter"]
