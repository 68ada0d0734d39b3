"""socketeer: Socket.IO for Python, wire-compatible with the official JavaScript socket.io 4.x.

The public API is re-exported here; everything else is an implementation detail.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .adapters.base import BroadcastFlags, BroadcastOptions, SocketDetails
from .adapters.memory import InMemoryAdapter
from .admin import instrument
from .asgi import ASGIApp
from .engineio import CloseReason
from .exceptions import (
    AckTimeout,
    AdapterError,
    AdapterTimeout,
    BufferFull,
    ConnectionFailed,
    ConnectionRefusedByServer,
    Disconnected,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    SocketeerError,
)
from .native import NativeOptions, NativeServer, run, serve
from .server.broadcast import BroadcastOperator, RemoteSocket
from .server.engine import CookieOptions, EngineConnectionError, EngineServer, EngineSocket
from .server.http import CorsOptions
from .server.namespace import Namespace, ParentNamespace
from .server.reasons import DisconnectReason
from .server.server import Server
from .server.socket import Socket
from .socketio.codecs import JsonCodec

if TYPE_CHECKING:
    from .client import BlockingClient, Client, ClientSocket

__version__ = "0.1.0"

# The client needs the ``client`` extra (httpx, websockets): imported on first use.
_LAZY = {
    "BlockingClient": "socketeer.client",
    "Client": "socketeer.client",
    "ClientSocket": "socketeer.client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'socketeer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ASGIApp",
    "AckTimeout",
    "AdapterError",
    "AdapterTimeout",
    "BlockingClient",
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "BufferFull",
    "Client",
    "ClientSocket",
    "CloseReason",
    "ConnectionFailed",
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
    "NativeOptions",
    "NativeServer",
    "ParentNamespace",
    "ProtocolError",
    "RemoteProtocolError",
    "RemoteSocket",
    "Server",
    "Socket",
    "SocketDetails",
    "SocketeerError",
    "__version__",
    "instrument",
    "run",
    "serve",
]
