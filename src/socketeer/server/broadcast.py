"""``BroadcastOperator``: an immutable description of "who receives this".

``to()``, ``in_()``, ``except_()``, ``local``, ``volatile``, ``compress()`` and ``timeout()``
each return a new operator (JS ``BroadcastOperator``); ``emit`` hands one packet to the
adapter, which encodes it once for every recipient.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._types import Room, SocketId
from ..adapters.base import BroadcastFlags, BroadcastOptions, RemoteAcks, SocketDetails
from ..exceptions import AckTimeout
from ..socketio.packets import Packet, PacketType
from ._util import DONE, Done, ack_result
from .socket import check_event_name

if TYPE_CHECKING:
    from .namespace import Namespace


_NO_FLAGS = BroadcastFlags()


def _rooms(room: Room | Iterable[Room]) -> frozenset[Room]:
    return frozenset((room,) if isinstance(room, str) else room)


@dataclass(frozen=True, slots=True)
class BroadcastOperator:
    """Targets of a broadcast in one namespace."""

    nsp: Namespace
    rooms: frozenset[Room] = frozenset()
    except_rooms: frozenset[Room] = frozenset()
    flags: BroadcastFlags = _NO_FLAGS

    def to(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Also target the sockets in ``room`` (a union, without duplicates)."""
        return dataclasses.replace(self, rooms=self.rooms | _rooms(room))

    def in_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Alias of ``to``."""
        return self.to(room)

    def except_(self, room: Room | Iterable[Room]) -> BroadcastOperator:
        """Exclude the sockets in ``room``."""
        return dataclasses.replace(self, except_rooms=self.except_rooms | _rooms(room))

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this node."""
        return dataclasses.replace(self, flags=dataclasses.replace(self.flags, local=True))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the event for clients whose transport is not writable right now."""
        return dataclasses.replace(self, flags=dataclasses.replace(self.flags, volatile=True))

    def compress(self, compress: bool) -> BroadcastOperator:
        """Whether to compress (negotiated by the WebSocket layer)."""
        return dataclasses.replace(self, flags=dataclasses.replace(self.flags, compress=compress))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Wait at most ``seconds`` for acknowledgements (``emit_with_ack``)."""
        return dataclasses.replace(self, flags=dataclasses.replace(self.flags, timeout=seconds))

    @property
    def _options(self) -> BroadcastOptions:
        return BroadcastOptions(self.rooms, self.except_rooms, self.flags)

    def emit(self, event: str, *args: Any) -> Done:
        """Send the event to every target. Works at once; awaiting is optional."""
        check_event_name(event)
        packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args])
        self.nsp.adapter.broadcast(packet, self._options)
        return DONE

    def send(self, *args: Any) -> Done:
        """Emit a ``message`` event."""
        return self.emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send the event and collect every target's acknowledgement.

        Returns one answer per client (None, the value, or a tuple, as
        ``Socket.emit_with_ack``; a client of another node answers with its first argument
        only). Raises ``AckTimeout`` when the timeout (``timeout()``, else the server's
        ``ack_timeout``) passes first; the exception's ``responses`` holds the answers
        received and ``missing`` the local socket ids that did not answer.

        As in JS, it is complete when every node of the cluster (``server_count()``) has
        said how many of its clients got the event and that many answers came.
        """
        check_event_name(event)
        nsp = self.nsp
        adapter = nsp.adapter
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        responses: list[Any] = []
        waiting: set[SocketId] = set()
        servers = 0  # nodes that reported how many clients got the event (this one too)
        expected_servers: int | None = None
        expected_clients = 0

        def check() -> None:
            if (
                expected_servers is not None
                and servers >= expected_servers
                and len(responses) >= expected_clients
                and not done.done()
            ):
                done.set_result(None)

        def answered(id: SocketId, args: list[Any]) -> None:
            waiting.discard(id)
            responses.append(ack_result(args))
            check()

        def client_count(count: int) -> None:
            nonlocal servers, expected_clients
            servers += 1
            expected_clients += count
            check()

        def remote_ack(value: Any) -> None:
            responses.append(value)
            check()

        ack_id = nsp._next_ack_id()
        packet = Packet(PacketType.EVENT, nsp.name, [event, *args], ack_id)
        remote = RemoteAcks(client_count, remote_ack)
        local_count = adapter.broadcast_with_ack(
            packet, self._options, nsp._ack_registrar(answered, waiting), remote
        )
        timeout = self.flags.timeout if self.flags.timeout is not None else nsp.server.ack_timeout
        try:
            async with asyncio.timeout(timeout):
                client_count(local_count)
                expected_servers = await adapter.server_count()
                check()
                await done
        except TimeoutError:
            nsp._forget_acks(waiting, ack_id)
            raise AckTimeout(
                "operation has timed out", responses=list(responses), missing=set(waiting)
            ) from None
        except BaseException:
            nsp._forget_acks(waiting, ack_id)
            raise
        finally:
            adapter.release_acks(remote)
        return responses

    async def fetch_sockets(self) -> list[RemoteSocket]:
        """The targeted sockets (on every node), as ``RemoteSocket`` handles."""
        found = await self.nsp.adapter.fetch_sockets(self._options)
        return [RemoteSocket(self.nsp, details) for details in found]

    async def sockets_join(self, room: Room | Iterable[Room]) -> None:
        """Make the targeted sockets join ``room``."""
        await self.nsp.adapter.add_sockets(self._options, _rooms(room))

    async def sockets_leave(self, room: Room | Iterable[Room]) -> None:
        """Make the targeted sockets leave ``room``."""
        await self.nsp.adapter.del_sockets(self._options, _rooms(room))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (``close=True`` closes their connections)."""
        await self.nsp.adapter.disconnect_sockets(self._options, close=close)


class RemoteSocket:
    """A socket returned by ``fetch_sockets``, possibly living on another node."""

    __slots__ = ("_nsp", "data", "handshake", "id", "rooms")

    def __init__(self, nsp: Namespace, details: SocketDetails) -> None:
        self._nsp = nsp
        self.id = details.id
        self.handshake = details.handshake
        self.rooms = details.rooms
        self.data = details.data

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id} {self._nsp.name}>"

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self._nsp, rooms=frozenset((self.id,)))

    def emit(self, event: str, *args: Any) -> Done:
        """Send an event to this socket."""
        return self._operator().emit(event, *args)

    async def join(self, room: Room | Iterable[Room]) -> None:
        """Make this socket join ``room``."""
        await self._operator().sockets_join(room)

    async def leave(self, room: Room | Iterable[Room]) -> None:
        """Make this socket leave ``room``."""
        await self._operator().sockets_leave(room)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket."""
        await self._operator().disconnect_sockets(close)


__all__ = ["BroadcastOperator", "RemoteSocket"]
