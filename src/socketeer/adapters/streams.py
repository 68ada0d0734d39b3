"""A Redis Streams adapter, wire-compatible with ``@socket.io/redis-streams-adapter`` 0.3.x,
with connection-state recovery across nodes.

Built on the cluster message model (``socketeer.adapters.cluster``):

- durable messages (broadcasts without acks, join, leave, disconnect) are ``XADD``ed to the
  stream ``<stream_name>`` (``<stream_name>-<i>`` with ``stream_count > 1``, ``i`` the JS
  ``hashCode(nsp) % stream_count``, negative included) with ``MAXLEN ~ max_len`` and the
  fields ``uid``, ``nsp``, ``type`` (decimal text) and ``data``: JSON text, or
  base64(msgpack(data)) when it holds binary (unless ``only_plaintext``). Each node reads
  every stream with ``XREAD BLOCK``; the entry id is the message's offset;
- ephemeral messages (broadcasts with acks, fetch_sockets, server-side emits) go over
  pub/sub on ``<channel_prefix>#<nsp>#`` (``SPUBLISH`` with ``use_sharded_pubsub``) as
  whole msgpack messages; responses on ``<channel_prefix>#<nsp>#<uid>#``; the server count is
  ``PUBSUB NUMSUB`` (``SHARDNUMSUB``) of the public channel.

Connection-state recovery (``Server(connection_state_recovery=True)``) works across
nodes: a broadcast is delivered with its stream entry id appended as the offset; a socket
that drops is stored as ``SET <session_key_prefix><pid> base64(msgpack({sid, pid, rooms,
data})) PX <max disconnection ms>``; whichever node the client reconnects to takes the
session (``GET`` + ``DEL`` in a transaction), checks that its offset is still in the stream
and replays the broadcasts after it that the socket would have received. As in JS, a local
broadcast is then delivered once Redis has given it its offset.

The stream reader is resilient like the pub/sub subscriber (``socketeer.adapters.redis``):
after an error it reconnects with backoff and goes on from the last entry it read, so a
Redis restart with a persisted stream loses nothing.

``redis`` (redis-py >= 5) and ``msgpack`` are needed: ``pip install 'socketeer[redis]'``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, Final

from .._types import Room, SocketId
from ..exceptions import AdapterError, RemoteProtocolError
from ..socketio.packets import Packet, PacketType
from . import _wire as wire
from ._redis_io import RedisLink, RedisOptions, count_subscribers, own_client, stop_task
from .base import BroadcastOptions, LocalSockets
from .cluster import (
    DEFAULT_REQUESTS_TIMEOUT,
    Broadcast,
    ClusterAdapter,
    ClusterMessage,
    MessageType,
)
from .memory import Encode, InMemoryAdapter
from .recovery import ConnectionStateRecovery, RestoredSession

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("socketeer.adapters.streams")

RESTORE_SESSION_MAX_XRANGE_CALLS: Final = 100
_OFFSET: Final = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
_BINARY_CAPABLE: Final = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    }
)


def js_hash_code(text: str) -> int:
    """JS ``hashCode``: ``hash = hash * 31 + charCodeAt(i) | 0`` over UTF-16 code units."""
    units = text.encode("utf-16-le", "surrogatepass")
    value = 0
    for index in range(0, len(units), 2):
        value = (value * 31 + int.from_bytes(units[index : index + 2], "little")) & 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def js_remainder(value: int, divisor: int) -> int:
    """JS ``%``: the sign of the dividend (Python's ``%`` takes the divisor's)."""
    remainder = abs(value) % divisor
    return -remainder if value < 0 else remainder


def stream_name_for(nsp: str, stream_name: str, stream_count: int) -> str:
    """The stream of namespace ``nsp`` (JS ``computeStreamName``)."""
    if stream_count == 1:
        return stream_name
    return f"{stream_name}-{js_remainder(js_hash_code(nsp), stream_count)}"


def is_ephemeral(message: ClusterMessage) -> bool:
    """Sent over pub/sub rather than the stream (JS ``isEphemeral``)."""
    if message.type is MessageType.BROADCAST:
        assert isinstance(message.body, Broadcast)
        return message.body.request_id is not None
    return message.type in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


def encode_entry(message: ClusterMessage, *, only_plaintext: bool = False) -> dict[str, str]:
    """The stream entry fields of a durable message (JS ``RedisStreamsAdapter.encode``)."""
    fields = {"uid": message.uid, "nsp": message.nsp, "type": str(message.type.value)}
    data = message.wire_data()
    if data is not None:
        if not only_plaintext and message.type in _BINARY_CAPABLE and message.has_binary():
            fields["data"] = base64.b64encode(wire.msgpack().encode(data)).decode()
        else:
            fields["data"] = wire.json_dumps(data)
    return fields


def decode_entry(fields: dict[Any, Any]) -> dict[str, Any]:
    """The message (before checks) of stream entry fields (JS ``RedisStreamsAdapter.decode``)."""
    text = {_text(key): _text(value) for key, value in fields.items()}
    message: dict[str, Any] = {
        "uid": text.get("uid"),
        "nsp": text.get("nsp"),
        "type": text.get("type"),
    }
    data = text.get("data")
    if data:
        if data.startswith("{"):
            message["data"] = wire.json_loads(data)
        else:
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RemoteProtocolError(f"invalid base64 data: {exc}") from None
            message["data"] = wire.msgpack().decode(raw)
    return message


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise RemoteProtocolError("a stream field is not UTF-8") from None
    if isinstance(value, str):
        return value
    raise RemoteProtocolError("a stream field must be text")


def _next_offset(offset: str) -> str:
    timestamp, _, sequence = offset.partition("-")
    return f"{timestamp}-{int(sequence) + 1}"


def _included(rooms: frozenset[Room], options: BroadcastOptions) -> bool:
    # JS shouldIncludePacket
    included = not options.rooms or not rooms.isdisjoint(options.rooms)
    return included and rooms.isdisjoint(options.except_rooms)


class StreamsAdapterFactory:
    """Makes the adapter of each namespace: ``Server(adapter=create_streams_adapter(redis))``.

    It reads the streams (one connection per stream) for the adapters it made.
    """

    def __init__(
        self,
        redis: Redis | str,
        *,
        stream_name: str,
        stream_count: int,
        channel_prefix: str,
        use_sharded_pubsub: bool,
        max_len: int,
        read_count: int,
        block_time: float,
        session_key_prefix: str,
        only_plaintext: bool,
        requests_timeout: float,
        options: RedisOptions,
    ) -> None:
        if stream_count < 1 or max_len < 1 or read_count < 1 or not block_time > 0:
            raise ValueError("stream_count, max_len, read_count and block_time must be positive")
        self.link = RedisLink(redis, options, f"streams adapter {stream_name}")
        self._source = redis
        self.stream_name = stream_name
        self.stream_count = stream_count
        self.channel_prefix = channel_prefix
        self.use_sharded_pubsub = use_sharded_pubsub
        self.max_len = max_len
        self.read_count = read_count
        self.block_time = block_time
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        self.requests_timeout = requests_timeout
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._reader_clients: list[Redis] = []
        self.reconnections = 0

    def __call__(self, local: LocalSockets, encode: Encode) -> InMemoryAdapter:
        return RedisStreamsAdapter(local, encode, self)

    def stream_for(self, nsp: str) -> str:
        """The stream of a namespace."""
        return stream_name_for(nsp, self.stream_name, self.stream_count)

    # -- reading the streams ---------------------------------------------------------------

    async def _register(self, adapter: RedisStreamsAdapter) -> None:
        self.adapters[adapter.local.name] = adapter
        stream = self.stream_for(adapter.local.name)
        if stream not in self._readers:
            start = await self._last_id(stream)
            client = own_client(self._source)
            self._reader_clients.append(client)
            self._readers[stream] = asyncio.get_running_loop().create_task(
                self._read(client, stream, start), name=f"XREAD {stream}"
            )

    async def _unregister(self, adapter: RedisStreamsAdapter) -> None:
        if self.adapters.get(adapter.local.name) is adapter:
            del self.adapters[adapter.local.name]
        if not self.adapters:
            await self.close()

    async def _last_id(self, stream: str) -> str:
        # Start after the stream's last entry rather than at "$": no gap between init() and
        # the first XREAD.
        try:
            entries = await self.link.publisher.execute("XREVRANGE", stream, "+", "-", "COUNT", 1)
        except AdapterError as exc:
            logger.warning(
                "cannot read the stream %s yet (%s); reading from its start", stream, exc
            )
            return "0-0"
        if entries:
            return _text(entries[0][0])
        return "0-0"

    async def _read(self, client: Redis, stream: str, offset: str) -> None:
        errors = _redis_errors()
        attempt = 0
        block_ms = round(self.block_time * 1000)
        while True:
            try:
                async with asyncio.timeout(self.block_time + self.link.options.command_timeout):
                    reply: Any = await client.xread(
                        {stream: offset}, count=self.read_count, block=block_ms
                    )
            except errors as exc:
                attempt += 1
                logger.warning(
                    "reading the stream %s failed (%r); retrying from %s", stream, exc, offset
                )
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            if attempt:
                logger.warning("reading the stream %s again", stream)
                self.reconnections += 1
                attempt = 0
            for _, entries in reply or ():
                for raw_id, fields in entries:
                    offset = _text(raw_id)
                    self._dispatch(fields, offset)

    def _dispatch(self, fields: dict[Any, Any], offset: str) -> None:
        nsp = fields.get(b"nsp", fields.get("nsp"))
        name = nsp.decode("utf-8", "replace") if isinstance(nsp, bytes) else nsp
        adapter = self.adapters.get(name) if isinstance(name, str) else None
        if adapter is None:
            return
        try:
            message = decode_entry(fields)
        except RemoteProtocolError as exc:
            adapter._drop(exc)
            return
        adapter.receive(message, offset)

    async def close(self) -> None:
        """Stop reading and close the connections."""
        readers, self._readers = self._readers, {}
        for task in readers.values():
            await stop_task(task)
        clients, self._reader_clients = self._reader_clients, []
        for client in clients:
            with contextlib.suppress(*_redis_errors()):
                await client.aclose(close_connection_pool=True)
        await self.link.close()


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError, TimeoutError)


def create_streams_adapter(
    redis: Redis | str,
    *,
    stream_name: str = "socket.io",
    stream_count: int = 1,
    channel_prefix: str = "socket.io",
    use_sharded_pubsub: bool = False,
    max_len: int = 10_000,
    read_count: int = 100,
    block_time: float = 5.0,
    session_key_prefix: str = "sio:session:",
    only_plaintext: bool = False,
    requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    options: RedisOptions | None = None,
) -> StreamsAdapterFactory:
    """The Redis Streams adapter (``@socket.io/redis-streams-adapter`` ``createAdapter``).

    Args (JS option in parentheses): ``stream_name`` (``streamName``), ``stream_count``
    (``streamCount``), ``channel_prefix`` (``channelPrefix``), ``use_sharded_pubsub``
    (``useShardedPubSub``), ``max_len`` (``maxLen``), ``read_count`` (``readCount``),
    ``block_time`` in seconds (``blockTimeInMs``), ``session_key_prefix``
    (``sessionKeyPrefix``), ``only_plaintext`` (``onlyPlaintext``); ``requests_timeout``:
    seconds to wait for the other nodes' answers; ``options``: connection behaviour.
    """
    return StreamsAdapterFactory(
        redis,
        stream_name=stream_name,
        stream_count=stream_count,
        channel_prefix=channel_prefix,
        use_sharded_pubsub=use_sharded_pubsub,
        max_len=max_len,
        read_count=read_count,
        block_time=block_time,
        session_key_prefix=session_key_prefix,
        only_plaintext=only_plaintext,
        requests_timeout=requests_timeout,
        options=options or RedisOptions(),
    )


class RedisStreamsAdapter(ClusterAdapter):
    """The Redis Streams adapter of one namespace (see the module documentation)."""

    __slots__ = (
        "_factory",
        "_recovery_options",
        "_started",
        "private_channel",
        "public_channel",
        "stream",
    )

    def __init__(self, local: LocalSockets, encode: Encode, factory: StreamsAdapterFactory) -> None:
        super().__init__(local, encode, requests_timeout=factory.requests_timeout, heartbeat=None)
        wire.msgpack()  # fail now when msgpack is missing
        self._factory = factory
        self.stream = factory.stream_for(local.name)
        self.public_channel = f"{factory.channel_prefix}#{local.name}#"
        self.private_channel = f"{self.public_channel}{self.uid}#"
        self._recovery_options: ConnectionStateRecovery | None = None
        self._started = False

    @property
    def _kind(self) -> Any:
        return "shard" if self._factory.use_sharded_pubsub else "channel"

    @property
    def _publish_command(self) -> str:
        return "SPUBLISH" if self._factory.use_sharded_pubsub else "PUBLISH"

    # -- lifecycle -------------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the channels and start reading the stream."""
        if self._started:
            return
        self._started = True
        link = self._factory.link
        link.acquire()
        link.subscriber.add(self._kind, self.public_channel, self._on_pubsub)
        link.subscriber.add(self._kind, self.private_channel, self._on_pubsub)
        await self._factory._register(self)
        if not await link.subscriber.wait_synced(link.options.subscribe_timeout):
            logger.warning("%s: Redis did not confirm the subscriptions in time", self.local.name)

    async def close(self) -> None:
        """Unsubscribe, stop reading when no namespace is left, fail waiting requests."""
        if not self._started:
            return
        self._started = False
        await super().close()
        link = self._factory.link
        link.subscriber.remove(self._kind, self.public_channel)
        link.subscriber.remove(self._kind, self.private_channel)
        await self._factory._unregister(self)
        await link.release()

    async def server_count(self) -> int:
        """``PUBSUB NUMSUB`` (``SHARDNUMSUB``) of the public channel."""
        kind = "SHARDNUMSUB" if self._factory.use_sharded_pubsub else "NUMSUB"
        reply = await self._factory.link.publisher.execute("PUBSUB", kind, self.public_channel)
        return count_subscribers(reply)

    # -- the broker hooks ------------------------------------------------------------------

    def _xadd(self, message: ClusterMessage) -> asyncio.Future[Any]:
        fields = encode_entry(message, only_plaintext=self._factory.only_plaintext)
        command: list[Any] = ["XADD", self.stream, "MAXLEN", "~", self._factory.max_len, "*"]
        for name, value in fields.items():
            command += [name, value]
        return self._factory.link.publisher.send(*command)

    def do_publish(self, message: ClusterMessage) -> Awaitable[str]:
        if is_ephemeral(message):
            payload = wire.msgpack().encode(message.to_wire())
            sent = self._factory.link.publisher.send(
                self._publish_command, self.public_channel, payload
            )
            return _empty_offset(sent)
        return _offset(self._xadd(message))

    def do_publish_response(self, requester_uid: str, message: ClusterMessage) -> Awaitable[None]:
        channel = f"{self.public_channel}{requester_uid}#"
        payload = wire.msgpack().encode(message.to_wire())
        return _nothing(self._factory.link.publisher.send(self._publish_command, channel, payload))

    def _on_pubsub(self, channel: str, payload: bytes) -> None:
        if not self._started:
            return
        try:
            value = wire.msgpack().decode(payload)
        except RemoteProtocolError as exc:
            self._drop(exc)
            return
        self.receive(value)  # JS routes both channels through onMessage

    # -- broadcasts with offsets -----------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Publish the broadcast; with recovery on, deliver it here once Redis gave it its
        offset (as JS), so that local clients get the offset too."""
        if options.flags.local or not isinstance(packet.data, list):
            InMemoryAdapter.broadcast(self, packet, options)
            return
        published = self._publish(
            self._message(MessageType.BROADCAST, Broadcast(packet.data, options))
        )
        if self._recovery_options is None:
            published.add_done_callback(self._log_failure)
            InMemoryAdapter.broadcast(self, packet, options)
            return

        def deliver(done: asyncio.Future[str]) -> None:
            offset: str | None = None
            if done.cancelled() or done.exception() is not None:
                logger.warning("%s: cannot publish a broadcast: %s", self.local.name, done)
            else:
                offset = done.result()
            InMemoryAdapter.broadcast(
                self, self._with_stream_offset(packet, options, offset), options
            )

        published.add_done_callback(deliver)

    def _with_stream_offset(
        self, packet: Packet, options: BroadcastOptions, offset: str | None
    ) -> Packet:
        # JS addOffsetIfNecessary
        if (
            self._recovery_options is None
            or offset is None
            or packet.type is not PacketType.EVENT
            or packet.id is not None
            or options.flags.volatile
            or not isinstance(packet.data, list)
        ):
            return packet
        return Packet(packet.type, packet.namespace, [*packet.data, offset], packet.id)

    def _deliver(self, data: list[Any], options: BroadcastOptions, offset: str | None) -> None:
        packet = Packet(PacketType.EVENT, self.local.name, data)
        InMemoryAdapter.broadcast(self, self._with_stream_offset(packet, options, offset), options)

    # -- connection-state recovery ---------------------------------------------------------

    def enable_recovery(self, options: ConnectionStateRecovery) -> None:
        """Keep sessions in Redis and offsets in the stream (no local store)."""
        self._recovery_options = options

    def recovery_position(self) -> int:
        return 0

    async def persist_session(
        self, sid: SocketId, pid: str, rooms: frozenset[Room], data: Any, position: int
    ) -> None:
        """``SET <prefix><pid> base64(msgpack({sid, pid, rooms, data})) PX <ms>``."""
        options = self._recovery_options
        if options is None:
            return
        session = {"sid": sid, "pid": pid, "rooms": sorted(rooms), "data": data}
        encoded = base64.b64encode(wire.msgpack().encode(session)).decode()
        key = self._factory.session_key_prefix + pid
        milliseconds = max(1, round(options.max_disconnection_duration * 1000))
        try:
            await self._factory.link.publisher.send("SET", key, encoded, "PX", milliseconds)
        except AdapterError as exc:
            logger.warning("%s: cannot keep the session %s: %s", self.local.name, pid, exc)

    async def restore_session(self, pid: str, offset: str | None) -> RestoredSession | None:
        """Take the session from Redis and the broadcasts it missed from the stream."""
        if self._recovery_options is None or offset is None or not _OFFSET.fullmatch(offset):
            return None
        link = self._factory.link
        key = self._factory.session_key_prefix + pid
        try:
            async with asyncio.timeout(link.options.command_timeout):
                # MULTI GET + DEL, as JS (GETDEL needs Redis 6.2); and the offset's entry
                transaction = link.client.pipeline(transaction=True)
                transaction.get(key)
                transaction.delete(key)
                raw, _ = await transaction.execute()
                entry = await link.client.xrange(self.stream, offset, offset)
        except _redis_errors() as exc:
            logger.warning("%s: cannot restore the session %s: %s", self.local.name, pid, exc)
            return None
        if not raw or not entry:
            return None
        try:
            session = wire.expect_dict(
                wire.msgpack().decode(base64.b64decode(raw, validate=True)), "session"
            )
            sid = SocketId(wire.expect_str(session.get("sid"), "sid"))
            rooms = wire.rooms_of(session.get("rooms"), "rooms")
        except (RemoteProtocolError, binascii.Error, ValueError) as exc:
            self._drop(exc)
            return None
        missed: list[list[Any]] = []
        for _ in range(RESTORE_SESSION_MAX_XRANGE_CALLS):
            try:
                entries = await link.publisher.execute(
                    "XRANGE", self.stream, _next_offset(offset), "+"
                )
            except AdapterError as exc:
                logger.warning("%s: cannot read the stream: %s", self.local.name, exc)
                return None
            if not entries:
                break
            for raw_id, fields in entries:
                offset = _text(raw_id)
                missed.extend(self._missed(fields, offset, rooms))
        return RestoredSession(sid, pid, rooms, session.get("data"), missed)

    def _missed(
        self, fields: dict[Any, Any], offset: str, rooms: frozenset[Room]
    ) -> Iterable[list[Any]]:
        try:
            value = decode_entry(fields)
            if value.get("nsp") != self.local.name or value.get("type") != "3":
                return ()
            message = ClusterMessage.from_wire(value)
        except RemoteProtocolError:
            return ()
        body = message.body
        if not isinstance(body, Broadcast) or not _included(rooms, body.options):
            return ()
        return ([*body.data, offset],)


async def _offset(sent: asyncio.Future[Any]) -> str:
    return _text(await sent)


async def _empty_offset(sent: asyncio.Future[Any]) -> str:
    await sent
    return ""


async def _nothing(sent: asyncio.Future[Any]) -> None:
    await sent


__all__ = [
    "RedisStreamsAdapter",
    "StreamsAdapterFactory",
    "create_streams_adapter",
    "decode_entry",
    "encode_entry",
    "is_ephemeral",
    "js_hash_code",
    "js_remainder",
    "stream_name_for",
]
