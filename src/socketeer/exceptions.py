"""The exceptions socketeer raises, one tree::

    SocketeerError
    ├── ProtocolError
    │   ├── LocalProtocolError     our API was misused (e.g. emitting a reserved event)
    │   └── RemoteProtocolError    the peer sent something the protocol forbids
    ├── ConnectionRefusedByServer  the server answered a connection attempt with an error
    ├── ConnectionFailed           the client could not connect (also a ``ConnectionError``)
    ├── Disconnected               the operation needs a connection that is gone
    ├── BufferFull                 an outgoing buffer of the client is at its cap
    ├── AckTimeout                 no acknowledgement in time (also a ``TimeoutError``)
    └── AdapterError               a cluster adapter could not complete a request
        └── AdapterTimeout         other nodes did not all answer in time (a ``TimeoutError``)

The sans-I/O cores never raise because of what a peer sent: they close the session with
a reason. ``RemoteProtocolError`` is raised by the pure decoding helpers and caught by the
cores at their entry points.
"""

from __future__ import annotations

from typing import Any


class SocketeerError(Exception):
    """Root of every exception socketeer raises on purpose."""


class ProtocolError(SocketeerError):
    """A protocol rule was broken, by us or by the peer."""


class LocalProtocolError(ProtocolError):
    """The API was used in a way the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent data that the protocol does not allow."""


class ConnectionRefusedByServer(SocketeerError):
    """A connection attempt was refused; ``data`` holds what the server sent."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConnectionFailed(SocketeerError, ConnectionError):
    """The client could not connect: the server could not be reached, refused the
    transport, sent no valid handshake in time, or reconnection gave up."""


class BufferFull(SocketeerError):
    """An event could not be buffered: the client's outgoing buffer is at its cap."""


class Disconnected(SocketeerError):
    """The connection is closed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AckTimeout(SocketeerError, TimeoutError):
    """No acknowledgement arrived in time.

    For a broadcast, ``responses`` holds the answers that did arrive and ``missing`` the
    ids of the sockets that did not answer.
    """

    def __init__(
        self,
        message: str = "operation has timed out",
        *,
        responses: list[Any] | None = None,
        missing: set[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.responses: list[Any] = responses if responses is not None else []
        self.missing: set[str] = missing if missing is not None else set()


class AdapterError(SocketeerError):
    """A cluster adapter request failed or timed out.

    ``responses`` holds what was gathered before it failed: the sockets found so far for
    ``fetch_sockets``, the answers received for ``server_side_emit_with_ack``.
    """

    def __init__(self, message: str, *, responses: list[Any] | None = None) -> None:
        super().__init__(message)
        self.responses: list[Any] = responses if responses is not None else []


class AdapterTimeout(AdapterError, TimeoutError):
    """Some nodes of the cluster did not answer a request in time (partial ``responses``)."""


__all__ = [
    "AckTimeout",
    "AdapterError",
    "AdapterTimeout",
    "BufferFull",
    "ConnectionFailed",
    "ConnectionRefusedByServer",
    "Disconnected",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "SocketeerError",
]
