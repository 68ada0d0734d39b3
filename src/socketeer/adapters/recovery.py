"""Connection-state recovery storage (the JS ``SessionAwareAdapter``), without I/O.

With recovery on, every broadcast EVENT without an ack and not volatile gets an *offset*
appended as its last argument (the JS client remembers the last one it saw), and is kept
for ``max_disconnection_duration``. When a socket drops for a recoverable reason its id,
rooms and data are kept too. A client that reconnects in time sends its private session
id (``pid``) and last offset; it gets its socket id, rooms and data back, and every kept
packet after that offset that would have reached it, in order.

Differences from the JS adapter, on purpose:
- a client that received no event before it dropped sends no offset; the JS server then
  refuses recovery, we replay from the position the socket had when it connected;
- a restored session is removed, so a pid can be used once;
- kept packets are bounded in count (``max_packets``) as well as in time.

Time is passed in (``now``, seconds); the adapter supplies it.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Any

from .._types import Room, SocketId
from .base import BroadcastOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionStateRecovery:
    """Options of connection-state recovery.

    Attributes:
        max_disconnection_duration: how long (seconds) a dropped session and the packets it
            may have missed are kept (JS default: 2 minutes).
        skip_middlewares: whether a recovered connection skips the connection middlewares.
        max_packets: the most packets kept; beyond it the oldest are dropped (and sessions
            that needed them can no longer be recovered).
        max_sessions: the most dropped sessions kept; beyond it the oldest are forgotten.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True
    max_packets: int = 10_000
    max_sessions: int = 100_000

    def __post_init__(self) -> None:
        if not self.max_disconnection_duration > 0:
            raise ValueError("max_disconnection_duration must be positive")
        if self.max_packets < 1 or self.max_sessions < 1:
            raise ValueError("max_packets and max_sessions must be at least 1")


@dataclass(frozen=True, slots=True)
class PersistedSession:
    """What is kept of a socket that dropped."""

    sid: SocketId
    pid: str
    rooms: frozenset[Room]
    data: Any
    offset: int  # the last packet position the socket is known to have been sent
    disconnected_at: float


@dataclass(frozen=True, slots=True)
class RestoredSession:
    """A session given back to a reconnecting client, with the packets it missed."""

    sid: SocketId
    pid: str
    rooms: frozenset[Room]
    data: Any
    missed: list[list[Any]]


@dataclass(frozen=True, slots=True)
class _Kept:
    position: int
    options: BroadcastOptions
    data: list[Any]
    emitted_at: float


class RecoveryStore:
    """Kept packets and dropped sessions of one namespace on one node."""

    __slots__ = ("_counter", "_packets", "_prefix", "_sessions", "options")

    def __init__(self, options: ConnectionStateRecovery) -> None:
        self.options = options
        self._packets: deque[_Kept] = deque()
        self._sessions: dict[str, PersistedSession] = {}
        self._counter = 0
        # Offsets are "<prefix>-<position>"; the random prefix keeps offsets of another
        # node or an earlier process from being taken for ours.
        self._prefix = os.urandom(4).hex()

    @property
    def position(self) -> int:
        """The position of the latest kept packet (0 before any)."""
        return self._counter

    def offset_of(self, position: int) -> str:
        """The offset string sent to clients for a packet position."""
        return f"{self._prefix}-{position}"

    def _position_of(self, offset: str) -> int | None:
        prefix, _, number = offset.partition("-")
        if prefix != self._prefix or not number.isdigit() or len(number) > 18:
            return None
        return int(number)

    def record(self, data: list[Any], options: BroadcastOptions, now: float) -> list[Any]:
        """Keep an outgoing event; return its data with the offset appended."""
        self._trim(now)
        self._counter += 1
        with_offset = [*data, self.offset_of(self._counter)]
        self._packets.append(_Kept(self._counter, options, with_offset, now))
        if len(self._packets) > self.options.max_packets:
            self._packets.popleft()
        return with_offset

    def persist(
        self, sid: SocketId, pid: str, rooms: frozenset[Room], data: Any, position: int, now: float
    ) -> None:
        """Keep a dropped socket's state."""
        self._trim(now)
        self._sessions[pid] = PersistedSession(sid, pid, rooms, data, position, now)
        while len(self._sessions) > self.options.max_sessions:
            del self._sessions[next(iter(self._sessions))]

    def restore(self, pid: str, offset: str | None, now: float) -> RestoredSession | None:
        """Give back a session and its missed packets, or None when it cannot be done."""
        self._trim(now)
        session = self._sessions.pop(pid, None)
        if session is None:
            return None
        if offset is None:
            position: int | None = session.offset
        else:
            position = self._position_of(offset)
        if position is None or position > self._counter:
            return None
        first = self._packets[0].position if self._packets else self._counter + 1
        if position + 1 < first:
            return None  # some of the packets it missed were dropped already
        missed = [
            kept.data
            for kept in self._packets
            if kept.position > position and _reaches(session.rooms, kept.options)
        ]
        return RestoredSession(session.sid, session.pid, session.rooms, session.data, missed)

    def _trim(self, now: float) -> None:
        threshold = now - self.options.max_disconnection_duration
        packets = self._packets
        while packets and packets[0].emitted_at < threshold:
            packets.popleft()
        sessions = self._sessions
        while sessions:
            oldest = next(iter(sessions.values()))
            if oldest.disconnected_at >= threshold:
                break
            del sessions[oldest.pid]


def _reaches(rooms: frozenset[Room], options: BroadcastOptions) -> bool:
    included = not options.rooms or not rooms.isdisjoint(options.rooms)
    return included and rooms.isdisjoint(options.except_rooms)


__all__ = [
    "ConnectionStateRecovery",
    "PersistedSession",
    "RecoveryStore",
    "RestoredSession",
]
