"""What every adapter shares: broadcast options and the narrow view of local sockets.

Adapters never import the server classes. They see a namespace through ``LocalSockets``
(send pre-encoded messages to socket ids, disconnect them, describe them), the same cut
as socketioxide's ``SocketEmitter`` and the JS adapter's use of ``nsp.sockets``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._types import Room, SocketId
from ..socketio.packets import Packet


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Flags of a broadcast, as the JS ``BroadcastFlags``."""

    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who receives a broadcast: sockets in any of ``rooms`` (all when empty), minus the
    sockets in any of ``except_rooms``."""

    rooms: frozenset[Room] = field(default_factory=frozenset)
    except_rooms: frozenset[Room] = field(default_factory=frozenset)
    flags: BroadcastFlags = field(default_factory=BroadcastFlags)


@dataclass(frozen=True, slots=True)
class SocketDetails:
    """What ``fetch_sockets`` reports about one socket (JS ``SocketDetails``)."""

    id: SocketId
    handshake: dict[str, Any]
    rooms: frozenset[Room]
    data: Any


class LocalSockets(Protocol):
    """The namespace as an adapter sees it."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    def send_encoded(
        self,
        ids: Iterable[SocketId],
        messages: Sequence[str | bytes],
        *,
        volatile: bool,
        packet: Packet | None = None,
    ) -> None:
        """Write pre-encoded engine messages to each of these local sockets (``packet`` is
        what they encode, for the sockets' outgoing listeners)."""
        ...

    def disconnect_local(self, ids: Iterable[SocketId], *, close: bool) -> None:
        """Disconnect these local sockets."""
        ...

    def describe(self, id: SocketId) -> SocketDetails | None:
        """The details of a local socket, or None when it is gone."""
        ...


__all__ = ["BroadcastFlags", "BroadcastOptions", "LocalSockets", "SocketDetails"]
