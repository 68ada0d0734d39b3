"""socketeer: Socket.IO for Python, wire-compatible with the official JavaScript socket.io 4.x.

The public API is re-exported here; everything else is an implementation detail.
"""

from __future__ import annotations

from .adapters.base import BroadcastFlags, BroadcastOptions, SocketDetails
from .adapters.memory import InMemoryAdapter
from .asgi import ASGIApp
from .engineio import CloseReason
from .exceptions import (
    AckTimeout,
    AdapterError,
    ConnectionRefusedByServer,
    Disconnected,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    SocketeerError,
)
from .server.broadcast import BroadcastOperator, RemoteSocket
from .server.engine import CookieOptions, EngineConnectionError, EngineServer, EngineSocket
from .server.http import CorsOptions
from .server.namespace import Namespace, ParentNamespace
from .server.reasons import DisconnectReason
from .server.server import Server
from .server.socket import Socket
from .socketio.codecs import JsonCodec

__version__ = "0.1.0"

__all__ = [
    "ASGIApp",
    "AckTimeout",
    "AdapterError",
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "CloseReason",
    "ConnectionRefusedByServer",
    "CookieOptions",
    "CorsOptions",
    "DisconnectReason",
    "Disconnected",
    "EngineConnectionError",
    "EngineServer",
    "EngineSocket",
    "InMemoryAdapter",
    "JsonCodec",
    "LocalProtocolError",
    "Namespace",
    "ParentNamespace",
    "ProtocolError",
    "RemoteProtocolError",
    "RemoteSocket",
    "Server",
    "Socket",
    "SocketDetails",
    "SocketeerError",
    "__version__",
]
