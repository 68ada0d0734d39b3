"""The in-memory adapter: the reference every cluster adapter builds on.

It keeps two maps, as the JS ``Adapter`` (socket.io-adapter ``in-memory-adapter.ts``):
``sids`` (socket id -> rooms) and ``rooms`` (room -> socket ids), and emits
``create-room``, ``delete-room``, ``join-room`` and ``leave-room``. A broadcast is encoded
once and the same engine messages are written to every recipient.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .._emitter import Emitter
from .._types import Room, SocketId
from ..socketio.packets import Packet, PacketType
from .base import AckRegistrar, BroadcastOptions, LocalSockets, RemoteAcks, SocketDetails
from .recovery import ConnectionStateRecovery, RecoveryStore, RestoredSession

Encode = Callable[[Packet], Sequence[str | bytes]]


class InMemoryAdapter(Emitter):
    """Rooms and broadcasts of one namespace within one process."""

    __slots__ = ("encode", "local", "recovery", "rooms", "sids")

    def __init__(self, local: LocalSockets, encode: Encode) -> None:
        super().__init__()
        self.local = local
        self.encode = encode
        self.rooms: dict[Room, set[SocketId]] = {}
        self.sids: dict[SocketId, set[Room]] = {}
        self.recovery: RecoveryStore | None = None

    # -- connection-state recovery ---------------------------------------------------------

    def enable_recovery(self, options: ConnectionStateRecovery) -> None:
        """Keep sessions and packets for connection-state recovery."""
        self.recovery = RecoveryStore(options)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def recovery_position(self) -> int:
        """The current packet position (recorded when a socket connects)."""
        return self.recovery.position if self.recovery is not None else 0

    async def persist_session(
        self, sid: SocketId, pid: str, rooms: frozenset[Room], data: Any, position: int
    ) -> None:
        """Keep a dropped socket's state for recovery."""
        if self.recovery is not None:
            self.recovery.persist(sid, pid, rooms, data, position, self._now())

    async def restore_session(self, pid: str, offset: str | None) -> RestoredSession | None:
        """A dropped session and its missed packets, or None."""
        if self.recovery is None:
            return None
        return self.recovery.restore(pid, offset, self._now())

    def _with_offset(self, packet: Packet, options: BroadcastOptions) -> Packet:
        recovery = self.recovery
        if (
            recovery is None
            or packet.type is not PacketType.EVENT
            or packet.id is not None
            or options.flags.volatile
            or not isinstance(packet.data, list)
        ):
            return packet
        data = recovery.record(packet.data, options, self._now())
        return dataclasses.replace(packet, data=data)

    # -- lifecycle (overridden by cluster adapters) ----------------------------------------

    async def init(self) -> None:
        """Start whatever the adapter needs (subscriptions, heartbeats)."""

    async def close(self) -> None:
        """Stop the adapter."""

    async def server_count(self) -> int:
        """How many server nodes share this namespace."""
        return 1

    # -- membership ------------------------------------------------------------------------

    def add_all(self, id: SocketId, rooms: Iterable[Room]) -> None:
        """Add socket ``id`` to ``rooms``."""
        joined = self.sids.setdefault(id, set())
        for room in rooms:
            joined.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                self._emit_background("create-room", room)
            if id not in members:
                members.add(id)
                self._emit_background("join-room", room, id)

    def delete(self, id: SocketId, room: Room) -> None:
        """Remove socket ``id`` from ``room``."""
        joined = self.sids.get(id)
        if joined is not None:
            joined.discard(room)
        self._leave(id, room)

    def _leave(self, id: SocketId, room: Room) -> None:
        members = self.rooms.get(room)
        if members is None or id not in members:
            return
        members.discard(id)
        self._emit_background("leave-room", room, id)
        if not members:
            del self.rooms[room]
            self._emit_background("delete-room", room)

    def delete_all(self, id: SocketId) -> None:
        """Remove socket ``id`` from every room (at disconnect)."""
        joined = self.sids.pop(id, None)
        if joined is None:
            return
        for room in joined:
            self._leave(id, room)

    def socket_rooms(self, id: SocketId) -> frozenset[Room]:
        """The rooms of socket ``id`` (empty when unknown)."""
        return frozenset(self.sids.get(id, ()))

    # -- selection -------------------------------------------------------------------------

    def select(self, options: BroadcastOptions) -> list[SocketId]:
        """The local socket ids a broadcast with these options reaches, without duplicates."""
        excluded: set[SocketId] = set()
        for room in options.except_rooms:
            excluded.update(self.rooms.get(room, ()))
        if options.rooms:
            seen: set[SocketId] = set()
            chosen: list[SocketId] = []
            for room in options.rooms:
                for id in self.rooms.get(room, ()):
                    if id not in seen and id not in excluded:
                        seen.add(id)
                        chosen.append(id)
            return chosen
        return [id for id in self.sids if id not in excluded]

    def sockets(self, rooms: Iterable[Room] = ()) -> set[SocketId]:
        """The local socket ids in any of ``rooms`` (all when empty)."""
        return set(self.select(BroadcastOptions(rooms=frozenset(rooms))))

    # -- operations ------------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Encode ``packet`` once and write it to every selected local socket."""
        ids = self.select(options)
        sent = self._with_offset(packet, options)  # stored even when nobody is here now
        if ids:
            self.local.send_encoded(
                ids, self.encode(sent), volatile=options.flags.volatile, packet=packet
            )

    def broadcast_with_ack(
        self,
        packet: Packet,
        options: BroadcastOptions,
        register: AckRegistrar,
        remote: RemoteAcks | None = None,
    ) -> int:
        """Send ``packet`` (which carries an ack id) and register the ack on each recipient.

        Returns how many local sockets were sent the packet (how many local answers to
        expect). A cluster adapter also asks the other nodes, which report through
        ``remote`` (unused here: a single node has no others).
        """
        ids = self.select(options)
        if not ids or packet.id is None:
            return 0
        return register(ids, self.encode(packet), packet.id)

    def release_acks(self, remote: RemoteAcks) -> None:
        """The broadcast with acks is over (answered or timed out): stop reporting."""
        remote.released = True

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketDetails]:
        """Describe the selected sockets."""
        return self.fetch_local(options)

    async def add_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets join ``rooms``."""
        self.add_local(options, rooms)

    async def del_sockets(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected sockets leave ``rooms``."""
        self.del_local(options, rooms)

    async def disconnect_sockets(self, options: BroadcastOptions, *, close: bool) -> None:
        """Disconnect the selected sockets."""
        self.disconnect_local(options, close=close)

    # The same, on this node only and at once (what a cluster adapter applies for others).

    def fetch_local(self, options: BroadcastOptions) -> list[SocketDetails]:
        """Describe the selected local sockets."""
        found = (self.local.describe(id) for id in self.select(options))
        return [details for details in found if details is not None]

    def add_local(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected local sockets join ``rooms``."""
        rooms = tuple(rooms)
        for id in self.select(options):
            self.add_all(id, rooms)

    def del_local(self, options: BroadcastOptions, rooms: Iterable[Room]) -> None:
        """Make the selected local sockets leave ``rooms``."""
        rooms = tuple(rooms)
        for id in self.select(options):
            for room in rooms:
                self.delete(id, room)

    def disconnect_local(self, options: BroadcastOptions, *, close: bool) -> None:
        """Disconnect the selected local sockets."""
        self.local.disconnect_local(self.select(options), close=close)

    async def server_side_emit(self, args: Sequence[Any]) -> None:
        """Send an event to the other nodes; a single node has none (no-op)."""

    async def server_side_emit_with_ack(self, args: Sequence[Any]) -> list[Any]:
        """Send an event to the other nodes and collect one answer per node; a single node
        has none."""
        return []

    async def all_rooms(self) -> set[Room]:
        """Every room of the namespace (on every node, for a cluster adapter)."""
        return set(self.rooms)


__all__ = ["InMemoryAdapter"]
