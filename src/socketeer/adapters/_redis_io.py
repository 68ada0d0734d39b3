"""Redis connections of the Redis adapters (private): one ordered publisher and one
self-healing subscriber per adapter factory, shared by its namespaces.

- ``Publisher``: commands go out in the order they were queued, in pipelined batches on one
  connection at a time, so that broadcasts reach the other nodes in order. When Redis is
  unreachable the batch fails (its futures get ``AdapterError``), the outage is logged once
  and the publisher backs off; the queue is capped.
- ``Subscriber``: one pub/sub connection holding every channel, pattern and shard channel
  the adapters want. If the connection breaks (a Redis restart), it reconnects with backoff
  and subscribes again to everything, and says so in the log. A connection that stays open
  but goes silent is caught by a watchdog: after ``health_check_interval`` seconds without
  traffic it sends a PING on the subscriber connection, and replaces the connection when no
  PONG comes within ``health_check_timeout``.

Both use their own connections, made with the settings of the client the user passed
(host, credentials, TLS...) but without redis-py's retries (we retry ourselves) and without
response decoding (payloads are bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from ..exceptions import AdapterError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

logger = logging.getLogger("socketeer.adapters.redis")

Kind = Literal["channel", "pattern", "shard"]
Handler = Callable[[str, bytes], None]
"""Called with the channel and the payload of each message."""

_BACKOFF_MIN: Final = 0.05
_BACKOFF_MAX: Final = 2.0
_FAILURES: Final = (OSError, TimeoutError)


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, *_FAILURES)


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return (RedisConnectionError, ConnectionError)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisOptions:
    """How the Redis adapters use their connections.

    Attributes:
        command_timeout: the most a Redis command (a publish batch, ``PUBSUB NUMSUB``...)
            may take, in seconds.
        health_check_interval: after this many seconds without traffic on the subscriber
            connection, check it with a PING.
        health_check_timeout: replace the subscriber connection when the PONG takes longer.
        max_queued: the most messages waiting to be published; beyond it publishing fails.
        max_batch: the most messages sent in one pipelined batch.
        max_message_size: bigger received messages are dropped (bytes).
        subscribe_timeout: how long ``init()`` waits for its subscriptions to be active
            (it logs and goes on if Redis is unreachable: they are made when it is back).
    """

    command_timeout: float = 5.0
    health_check_interval: float = 5.0
    health_check_timeout: float = 2.0
    max_queued: int = 10_000
    max_batch: int = 512
    max_message_size: int = 64 * 1024 * 1024
    subscribe_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in (
            "command_timeout",
            "health_check_interval",
            "health_check_timeout",
            "subscribe_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_queued < 1 or self.max_batch < 1 or self.max_message_size < 1:
            raise ValueError("max_queued, max_batch and max_message_size must be at least 1")


def own_client(source: Redis | str) -> Redis:
    """A client with the settings of ``source`` (a ``redis.asyncio.Redis`` or a URL), on its
    own connection pool, without retries and without response decoding."""
    from redis.asyncio import ConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    no_retry = Retry(NoBackoff(), 0)
    if isinstance(source, str):
        pool = ConnectionPool.from_url(source, decode_responses=False, retry=no_retry)
    elif isinstance(source, Redis):
        original = source.connection_pool
        kwargs = dict(original.connection_kwargs)
        kwargs.update(decode_responses=False, retry=no_retry)
        pool = ConnectionPool(connection_class=original.connection_class, **kwargs)
    else:
        raise TypeError(
            f"expected a redis.asyncio.Redis client or a redis:// URL, not {type(source).__name__}"
        )
    return Redis(connection_pool=pool)


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it is over, without raising its outcome.

    (``asyncio.wait`` rather than awaiting the cancelled task: under a tracer such as
    coverage, CPython 3.11 can let the CancelledError escape an enclosing handler.)
    """
    task.cancel()
    await asyncio.wait([task])


def _backoff(attempt: int) -> float:
    return float(min(_BACKOFF_MAX, _BACKOFF_MIN * 2 ** min(attempt, 16)))


class Publisher:
    """Sends commands in order, batched, on its own connections."""

    def __init__(self, client: Redis, options: RedisOptions) -> None:
        self._client = client
        self._options = options
        self._queue: deque[tuple[tuple[Any, ...], asyncio.Future[Any]]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._down = False
        self._closing = False
        self._closed = False

    def send(self, *command: Any) -> asyncio.Future[Any]:
        """Queue a command; the future gets its reply (or ``AdapterError``)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closing:
            future.set_exception(AdapterError("the Redis adapter is closed"))
        elif len(self._queue) >= self._options.max_queued:
            future.set_exception(
                AdapterError(f"{len(self._queue)} messages wait to be published: dropped")
            )
        else:
            self._queue.append((command, future))
            self._start()
            assert self._wakeup is not None
            self._wakeup.set()
        return future

    async def execute(self, *command: Any) -> Any:
        """Run one command now, outside the queue (bounded by ``command_timeout``)."""
        try:
            async with asyncio.timeout(self._options.command_timeout):
                return await self._client.execute_command(*command)  # type: ignore[no-untyped-call]
        except _redis_errors() as exc:
            raise AdapterError(f"Redis command {command[0]} failed: {exc!r}") from exc

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis publish")

    async def _run(self) -> None:
        queue = self._queue
        attempt = 0
        errors = _redis_errors()
        while not self._closed:
            if not queue:
                assert self._wakeup is not None
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [queue.popleft() for _ in range(min(len(queue), self._options.max_batch))]
            try:
                try:
                    results = await self._send_batch(batch)
                except _connection_errors():
                    # Most often a pooled connection that died with a Redis restart (Redis
                    # never got the batch): redis-py dropped it, try once on a fresh one.
                    results = await self._send_batch(batch)
            except errors as exc:
                if not self._down:
                    logger.warning("cannot publish to Redis (%r); retrying in the background", exc)
                    self._down = True
                for _, future in batch:
                    if not future.done():
                        future.set_exception(AdapterError(f"cannot publish to Redis: {exc!r}"))
                attempt += 1
                await asyncio.sleep(_backoff(attempt))
                continue
            if self._down:
                logger.warning("publishing to Redis again")
                self._down = False
            attempt = 0
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(AdapterError(f"Redis refused a command: {result!r}"))
                else:
                    future.set_result(result)

    async def _send_batch(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> Any:
        async with asyncio.timeout(self._options.command_timeout):
            pipe = self._client.pipeline(transaction=False)
            for command, _ in batch:
                pipe.execute_command(*command)
            return await pipe.execute(raise_on_error=False)

    async def close(self) -> None:
        """Stop taking commands, send those already queued (for at most ``command_timeout``
        seconds: e.g. the sessions stored at shutdown), then stop; what is left fails."""
        self._closing = True
        if self._queue and self._task is not None and not self._task.done():
            pending = [future for _, future in self._queue]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._options.command_timeout):
                    await asyncio.wait(pending)
        self._closed = True
        while self._queue:
            _, future = self._queue.popleft()
            if not future.done():
                future.set_exception(AdapterError("the Redis adapter is closed"))
        if self._task is not None:
            await stop_task(self._task)
            self._task = None


class _DeadConnection(Exception):
    """The subscriber connection stopped answering."""


class _Idle(Exception):
    """Nothing to subscribe to any more: the subscriber stops until something is wanted."""


class Subscriber:
    """One pub/sub connection for every subscription, kept alive (see the module doc)."""

    def __init__(self, client: Redis, options: RedisOptions, name: str = "redis") -> None:
        self._client = client
        self._options = options
        self._name = name
        self._wanted: dict[tuple[Kind, str], Handler] = {}
        self._active: set[tuple[Kind, str]] = set()
        self._generation = 0  # bumped at each change of _wanted
        self._synced = -1  # the generation the connection is known to have applied
        self._condition: asyncio.Condition | None = None
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._tokens = itertools.count()
        self._last_traffic = 0.0
        self._closed = False
        self.connections = 0  # how many connections were made (1 + reconnections)
        self.dropped = 0  # messages dropped for their size

    # -- what the adapters call ------------------------------------------------------------

    def add(self, kind: Kind, name: str, handler: Handler) -> None:
        """Subscribe (in the background) to a channel, a pattern or a shard channel."""
        self._wanted[(kind, name)] = handler
        self._change()

    def remove(self, kind: Kind, name: str) -> None:
        """Unsubscribe (in the background)."""
        if self._wanted.pop((kind, name), None) is not None:
            self._change()

    @property
    def subscriptions(self) -> frozenset[tuple[Kind, str]]:
        """What is subscribed or about to be."""
        return frozenset(self._wanted)

    async def wait_synced(self, timeout: float) -> bool:  # noqa: ASYNC109 - returns False
        """Wait until Redis has applied every change made so far; False after ``timeout``."""
        target = self._generation
        condition = self._ensure_condition()
        try:
            async with asyncio.timeout(timeout), condition:
                await condition.wait_for(lambda: self._synced >= target)
        except TimeoutError:
            return False
        return True

    async def wait_connected(self, count: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``count`` connections were made and subscribed (``count - 1``
        reconnections); False after ``timeout``."""
        condition = self._ensure_condition()
        try:
            async with asyncio.timeout(timeout), condition:
                await condition.wait_for(lambda: self.connections >= count)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Unsubscribe from everything and close the connection."""
        self._closed = True
        self._wanted.clear()
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    # -- internals -------------------------------------------------------------------------

    def _ensure_condition(self) -> asyncio.Condition:
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    def _change(self) -> None:
        self._generation += 1
        if self._changed is not None:
            self._changed.set()
        if (self._task is None or self._task.done()) and not self._closed and self._wanted:
            self._changed = asyncio.Event()
            self._changed.set()
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"{self._name} subscriber"
            )

    async def _mark_synced(self, generation: int) -> None:
        condition = self._ensure_condition()
        async with condition:
            self._synced = max(self._synced, generation)
            condition.notify_all()

    async def _supervise(self) -> None:
        attempt = 0
        errors: tuple[type[BaseException], ...] = (*_redis_errors(), _DeadConnection)
        while not self._closed:
            idle = False
            pubsub = self._client.pubsub()
            self._active = set()
            assert self._changed is not None
            self._changed.set()
            try:
                await self._serve(pubsub, reconnected=attempt > 0)
            except _Idle:
                idle = True
            except errors as exc:
                if not self._closed:
                    logger.warning(
                        "%s: the Redis subscriber connection failed (%r); reconnecting",
                        self._name,
                        exc,
                    )
            finally:
                for future in self._pongs.values():
                    if not future.done():
                        future.cancel()
                self._pongs.clear()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self._options.command_timeout):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            if self._closed or (idle and not self._wanted):
                return
            if idle:
                continue  # something was wanted again meanwhile
            attempt += 1
            await asyncio.sleep(_backoff(attempt))

    async def _serve(self, pubsub: PubSub, *, reconnected: bool) -> None:
        loop = asyncio.get_running_loop()
        self._last_traffic = loop.time()
        tasks = [
            loop.create_task(self._apply_changes(pubsub, reconnected)),
            loop.create_task(self._read(pubsub)),
            loop.create_task(self._watch(pubsub)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # raises what ended the connection
        raise _DeadConnection("the subscriber stopped")  # pragma: no cover - tasks loop

    async def _apply_changes(self, pubsub: PubSub, reconnected: bool) -> None:
        assert self._changed is not None
        first = True
        while True:
            await self._changed.wait()
            self._changed.clear()
            generation = self._generation
            wanted = set(self._wanted)
            if not wanted:
                await self._mark_synced(generation)
                raise _Idle
            add = wanted - self._active
            drop = self._active - wanted
            async with asyncio.timeout(self._options.command_timeout):
                for kind, names in _by_kind(drop).items():
                    if kind == "channel":
                        await pubsub.unsubscribe(*names)
                    elif kind == "pattern":
                        await pubsub.punsubscribe(*names)
                    else:
                        await pubsub.sunsubscribe(*names)
                for kind, names in _by_kind(add).items():
                    if kind == "channel":
                        await pubsub.subscribe(*names)
                    elif kind == "pattern":
                        await pubsub.psubscribe(*names)
                    else:
                        await pubsub.ssubscribe(*names)
            self._active = wanted
            await self._ping(pubsub)  # Redis runs commands in order: all of them are applied
            if first:
                async with self._ensure_condition():
                    self.connections += 1
                if reconnected:
                    logger.warning(
                        "%s: reconnected to Redis, subscribed again to %d channel(s)",
                        self._name,
                        len(wanted),
                    )
                first = False
            await self._mark_synced(generation)

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not pubsub.subscribed:
                # get_message() does not wait on a connection without subscriptions
                await asyncio.sleep(0.05)
                continue
            message = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            self._last_traffic = loop.time()
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if isinstance(kind, bytes):
            kind = kind.decode()
        data = message.get("data")
        if kind == "pong":
            future = self._pongs.pop(data, None) if isinstance(data, bytes) else None
            if future is not None and not future.done():
                future.set_result(None)
            return
        if kind == "message":
            key: tuple[Kind, Any] = ("channel", message.get("channel"))
        elif kind == "pmessage":
            key = ("pattern", message.get("pattern"))
        elif kind == "smessage":
            key = ("shard", message.get("channel"))
        else:
            return  # (un)subscribe confirmations
        raw_channel = message.get("channel")
        if not isinstance(data, bytes) or not isinstance(raw_channel, bytes):
            return
        name = key[1].decode("utf-8", "replace") if isinstance(key[1], bytes) else key[1]
        handler = self._wanted.get((key[0], name))
        if handler is None:
            return
        if len(data) > self._options.max_message_size:
            self.dropped += 1
            logger.warning("%s: dropped a message of %d bytes", self._name, len(data))
            return
        try:
            handler(raw_channel.decode("utf-8", "replace"), data)
        except Exception:  # a handler failing must not stop the subscriber
            logger.exception("%s: error in a message handler", self._name)

    async def _ping(self, pubsub: PubSub) -> None:
        token = f"socketeer-{next(self._tokens)}".encode()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[token] = future
        try:
            async with asyncio.timeout(self._options.health_check_timeout):
                await pubsub.ping(token)
                await future
        except TimeoutError:
            raise _DeadConnection(
                f"no PONG within {self._options.health_check_timeout} s"
            ) from None
        finally:
            self._pongs.pop(token, None)

    async def _watch(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        interval = self._options.health_check_interval
        while True:
            quiet = loop.time() - self._last_traffic
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            await self._ping(pubsub)
            self._last_traffic = loop.time()


def _by_kind(keys: set[tuple[Kind, str]]) -> dict[Kind, list[str]]:
    out: dict[Kind, list[str]] = {}
    for kind, name in sorted(keys):
        out.setdefault(kind, []).append(name)
    return out


class RedisLink:
    """The publisher and the subscriber shared by the adapters of one factory.

    It opens its connections on first use and closes them when the last adapter using it
    closes (``acquire`` / ``release``).
    """

    def __init__(self, source: Redis | str, options: RedisOptions, name: str) -> None:
        self._source = source
        self.options = options
        self.name = name
        self._users = 0
        self._client: Redis | None = None
        self._publisher: Publisher | None = None
        self._subscriber: Subscriber | None = None
        own_client(source)  # fail now on a wrong argument, not at the first connection

    @property
    def client(self) -> Redis:
        if self._client is None:
            self._client = own_client(self._source)
        return self._client

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = Publisher(self.client, self.options)
        return self._publisher

    @property
    def subscriber(self) -> Subscriber:
        if self._subscriber is None:
            self._subscriber = Subscriber(self.client, self.options, self.name)
        return self._subscriber

    def acquire(self) -> None:
        """An adapter starts using the link."""
        self._users += 1

    async def release(self) -> None:
        """An adapter stopped using the link; the last one closes the connections."""
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            await self.close()

    async def close(self) -> None:
        """Close the publisher, the subscriber and the connections (reopened on next use)."""
        publisher, subscriber, client = self._publisher, self._subscriber, self._client
        self._publisher = self._subscriber = None
        self._client = None
        if subscriber is not None:
            await subscriber.close()
        if publisher is not None:
            await publisher.close()
        if client is not None:
            with contextlib.suppress(*_redis_errors()):
                await client.aclose(close_connection_pool=True)


def count_subscribers(reply: Any) -> int:
    """The count of a ``PUBSUB NUMSUB|SHARDNUMSUB <channel>`` reply (raw or parsed)."""
    if isinstance(reply, dict):
        values = list(reply.values())
        return int(values[0]) if values else 0
    if isinstance(reply, list | tuple) and reply:
        first = reply[0]
        if isinstance(first, list | tuple):
            return int(first[1])
        if len(reply) >= 2:
            return int(reply[1])
    return 0


__all__ = [
    "Handler",
    "Kind",
    "Publisher",
    "RedisLink",
    "RedisOptions",
    "Subscriber",
    "count_subscribers",
    "own_client",
    "stop_task",
]
