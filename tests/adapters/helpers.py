"""Helpers of the adapter tests (fixtures in ``conftest.py``).

- ``FakeNamespace``: the ``LocalSockets`` an adapter sees, without a server: it records
  what the adapter delivers (decoded back into packets), answers acks and server-side
  events as told, and lets a test wait (bounded) for a condition.
- ``RecordingLink``: a Redis link that records what the Redis adapters publish instead of
  publishing it (for byte-exact comparisons with the JS vectors).
- ``fixed_ids``: makes the adapters' random ids (node uids, request ids) a known sequence.
- ``redis_url`` / ``prefix``: the test Redis (127.0.0.1:6379) and a channel prefix unique
  to the test, so that tests never see each other's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from socketeer._types import SocketId
from socketeer.adapters._redis_io import RedisOptions
from socketeer.adapters.base import AckRegistrar, ServerSideReply, SocketDetails
from socketeer.adapters.memory import InMemoryAdapter
from socketeer.socketio.codecs import Decoder, Encoder
from socketeer.socketio.packets import Packet

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
WAIT = 5.0
VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "cluster_wire.json"

ENCODE = Encoder().encode


def vectors() -> dict[str, list[dict[str, Any]]]:
    """The golden vectors made by ``tests/interop/js/cluster_vectors.mjs``."""
    data: dict[str, list[dict[str, Any]]] = json.loads(VECTORS.read_text())
    return data


def vector(group: str, name: str) -> dict[str, Any]:
    found = [item for item in vectors()[group] if item["name"] == name]
    assert len(found) == 1, (group, name)
    return found[0]


def payload_of(item: dict[str, Any]) -> bytes | str:
    """The published payload of a vector: text, or bytes."""
    return bytes.fromhex(item["hex"]) if "hex" in item else item["text"]


def handshake(label: str) -> dict[str, Any]:
    return {"headers": {"host": "localhost"}, "auth": {"label": label}, "issued": 1}


class FakeNamespace:
    """``LocalSockets`` for adapter tests; ``adapter`` must be set after creation."""

    def __init__(self, name: str = "/") -> None:
        self.name = name
        self.adapter: InMemoryAdapter | None = None
        self.received: list[tuple[SocketId, Packet]] = []
        self.disconnected: list[tuple[SocketId, bool]] = []
        self.server_events: list[list[Any]] = []
        self.data: dict[SocketId, Any] = {}
        self.handshakes: dict[SocketId, dict[str, Any]] = {}
        # event -> answer for server-side events; socket id -> ack answer (args)
        self.server_answers: dict[str, Any] = {}
        self.ack_answers: dict[SocketId, list[Any]] = {}
        self._ack_ids = 0
        self._changed = asyncio.Event()
        self._decoders: dict[SocketId, Decoder] = {}

    # -- setup -----------------------------------------------------------------------------

    def connect(self, id: str, *rooms: str, data: Any = None) -> SocketId:
        sid = SocketId(id)
        assert self.adapter is not None
        self.adapter.add_all(sid, [sid, *rooms])
        self.data[sid] = data
        return sid

    # -- LocalSockets ----------------------------------------------------------------------

    def _record(self, ids: Iterable[SocketId], messages: Sequence[str | bytes]) -> None:
        for id in ids:
            decoder = self._decoders.setdefault(id, Decoder())
            for message in messages:
                packet = decoder.receive(message, 0.0)
                if packet is not None:
                    self.received.append((id, packet))
        self._changed.set()

    def send_encoded(
        self,
        ids: Iterable[SocketId],
        messages: Sequence[str | bytes],
        *,
        volatile: bool,
        packet: Packet | None = None,
    ) -> None:
        self._record(list(ids), messages)

    def disconnect_local(self, ids: Iterable[SocketId], *, close: bool) -> None:
        assert self.adapter is not None
        for id in list(ids):
            self.disconnected.append((id, close))
            self.adapter.delete_all(id)
        self._changed.set()

    def describe(self, id: SocketId) -> SocketDetails | None:
        assert self.adapter is not None
        if id not in self.adapter.sids:
            return None
        details = self.handshakes.get(id) or handshake(id)
        return SocketDetails(id, details, self.adapter.socket_rooms(id), self.data.get(id))

    def next_ack_id(self) -> int:
        self._ack_ids += 1
        return self._ack_ids

    def ack_registrar(
        self, answered: Callable[[SocketId, list[Any]], None], waiting: set[SocketId]
    ) -> AckRegistrar:
        def register(ids: Iterable[SocketId], messages: Sequence[str | bytes], ack_id: int) -> int:
            ids = list(ids)
            self._record(ids, messages)
            loop = asyncio.get_running_loop()
            for id in ids:
                waiting.add(id)
                answer = self.ack_answers.get(id)
                if answer is not None:
                    loop.call_soon(answered, id, list(answer))
            return len(ids)

        return register

    def forget_acks(self, ids: Iterable[SocketId], ack_id: int) -> None:
        pass

    def server_side_event(self, args: list[Any], reply: ServerSideReply | None) -> None:
        self.server_events.append(args)
        self._changed.set()
        if reply is not None and args[0] in self.server_answers:
            reply(self.server_answers[args[0]])

    # -- waiting ---------------------------------------------------------------------------

    def events(self, id: str) -> list[list[Any]]:
        """The EVENT data each socket received, in order."""
        return [packet.data for sid, packet in self.received if sid == id]  # type: ignore[misc]

    async def until(self, predicate: Callable[[], bool], what: str = "condition") -> None:
        """Wait (at most ``WAIT`` seconds) until ``predicate()`` holds: checked whenever
        this namespace sees something, and at least every 50 ms for conditions on state
        elsewhere (another node's acks, rooms)."""
        try:
            async with asyncio.timeout(WAIT):
                while not predicate():
                    self._changed.clear()
                    # asyncio.timeout, not wait_for: on 3.11 wait_for may raise
                    # CancelledError when the event is set as it times out
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.05):
                            await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{what}: not within {WAIT} s") from None


class RecordingPublisher:
    def __init__(self, numsub: int) -> None:
        self.sent: list[tuple[str, str, bytes | str]] = []
        self.numsub = numsub
        self.entries = 0
        self.changed = asyncio.Event()

    async def until_sent(self, count: int) -> None:
        """Wait (at most ``WAIT`` seconds) until ``count`` commands were sent."""
        try:
            async with asyncio.timeout(WAIT):
                while len(self.sent) < count:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"{len(self.sent)} commands sent, not {count}") from None

    def send(self, *command: Any) -> asyncio.Future[Any]:
        self.sent.append(tuple(command))  # type: ignore[arg-type]
        self.changed.set()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if command[0] == "XADD":
            self.entries += 1
            future.set_result(f"1700000000000-{self.entries}".encode())
        else:
            future.set_result(1)
        return future

    async def execute(self, *command: Any) -> Any:
        return [command[-1].encode(), self.numsub]


class RecordingSubscriber:
    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Callable[[str, bytes], None]] = {}

    def add(self, kind: str, name: str, handler: Callable[[str, bytes], None]) -> None:
        self.handlers[(kind, name)] = handler

    def remove(self, kind: str, name: str) -> None:
        self.handlers.pop((kind, name), None)

    async def wait_synced(self, timeout: float) -> bool:  # noqa: ASYNC109
        return True


class RecordingLink:
    """Stands for ``RedisLink``: records publications, never connects."""

    def __init__(self, numsub: int = 1) -> None:
        self.publisher = RecordingPublisher(numsub)
        self.subscriber = RecordingSubscriber()
        self.options = RedisOptions()

    def acquire(self) -> None:
        pass

    async def release(self) -> None:
        pass

    def take(self) -> list[tuple[str, str, bytes | str]]:
        sent, self.publisher.sent = self.publisher.sent, []
        return sent
