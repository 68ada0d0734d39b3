"""socketeer: Socket.IO for Python, wire-compatible with the official JavaScript socket.io 4.x.

The public API is re-exported here; everything else is an implementation detail.
"""

from __future__ import annotations

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
from .server.engine import CookieOptions, EngineConnectionError, EngineServer, EngineSocket
from .server.http import CorsOptions

__version__ = "0.1.0"

__all__ = [
    "ASGIApp",
    "AckTimeout",
    "AdapterError",
    "CloseReason",
    "ConnectionRefusedByServer",
    "CookieOptions",
    "CorsOptions",
    "Disconnected",
    "EngineConnectionError",
    "EngineServer",
    "EngineSocket",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "SocketeerError",
    "__version__",
]
