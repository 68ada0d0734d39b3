"""What every adapter shares: broadcast options and the narrow view of local sockets.

Adapters never import the server classes. They see a namespace through ``LocalSockets``
(send pre-encoded messages to socket ids, disconnect them, describe them), the same cut
as socketioxide's ``SocketEmitter`` and the JS adapter's use of ``nsp.sockets``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
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


@dataclass(eq=False, slots=True)
class RemoteAcks:
    """Where a cluster adapter reports the other nodes' side of a broadcast with acks.

    ``client_count(n)`` is called once per node that sent the packet (with how many of its
    clients got it), ``ack(value)`` once per client answer (its first argument only: that
    is all that crosses node boundaries). The adapter stops calling them once ``released``.
    """

    client_count: Callable[[int], None]
    ack: Callable[[Any], None]
    released: bool = False


class RemoteAckRequests:
    """The broadcasts with acks this node asked the other nodes to run, by request id.

    Shared by the cluster adapters: ``add`` registers a request (forgotten after the
    broadcast's timeout, whatever happens, as the JS adapters do), ``get`` finds where to
    report an answer, ``release`` drops the request when the broadcast is over.
    """

    __slots__ = ("_by_id", "_by_remote")

    def __init__(self) -> None:
        self._by_id: dict[str, RemoteAcks] = {}
        self._by_remote: dict[RemoteAcks, str] = {}

    def add(self, request_id: str, remote: RemoteAcks, timeout: float | None) -> None:
        """Register a request; with a timeout it is forgotten once that passes."""
        self._by_id[request_id] = remote
        self._by_remote[remote] = request_id
        if timeout is not None:
            asyncio.get_running_loop().call_later(timeout, self.forget, request_id)

    def get(self, request_id: str) -> RemoteAcks | None:
        """Where to report answers to ``request_id``, if it is still ours."""
        return self._by_id.get(request_id)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def release(self, remote: RemoteAcks) -> None:
        """The broadcast reporting to ``remote`` is over."""
        request_id = self._by_remote.pop(remote, None)
        if request_id is not None:
            self._by_id.pop(request_id, None)

    def forget(self, request_id: str) -> None:
        """Drop ``request_id`` (its timeout passed)."""
        remote = self._by_id.pop(request_id, None)
        if remote is not None:
            self._by_remote.pop(remote, None)

    def clear(self) -> None:
        """Drop every request (the adapter is closing)."""
        self._by_id.clear()
        self._by_remote.clear()


ServerSideReply = Callable[[Any], None]
"""Answers a server-side emit that asked for an acknowledgement (first argument only)."""

AckRegistrar = Callable[[Iterable[SocketId], Sequence[str | bytes], int], int]
"""Writes an encoded EVENT with an ack id to local sockets and registers the ack on each;
returns how many sockets got it."""


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

    def next_ack_id(self) -> int:
        """A fresh ack id of this namespace (shared by socket and broadcast acks)."""
        ...

    def ack_registrar(
        self, answered: Callable[[SocketId, list[Any]], None], waiting: set[SocketId]
    ) -> AckRegistrar:
        """Register acks on local sockets: ``answered(id, args)`` runs at each answer; the
        ids that have not answered yet are kept in ``waiting``."""
        ...

    def forget_acks(self, ids: Iterable[SocketId], ack_id: int) -> None:
        """Drop the ack ``ack_id`` of these sockets (it timed out)."""
        ...

    def server_side_event(self, args: list[Any], reply: ServerSideReply | None) -> None:
        """An event another node sent with ``server_side_emit``: run this namespace's
        handlers of ``args[0]``; with ``reply``, answer with the first handler's result."""
        ...


__all__ = [
    "AckRegistrar",
    "BroadcastFlags",
    "BroadcastOptions",
    "LocalSockets",
    "RemoteAckRequests",
    "RemoteAcks",
    "ServerSideReply",
    "SocketDetails",
]
