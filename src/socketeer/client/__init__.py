"""The Socket.IO client: ``Client`` (asyncio) and ``BlockingClient`` (synchronous code).

``Client`` follows socket.io-client 4.x: a manager (``client.io``) holds one Engine.IO
connection and reconnects it; namespace sockets (``client.socket("/chat")``) share it.
``BlockingClient`` runs a ``Client`` on a private event-loop thread.
"""

from __future__ import annotations

from .blocking import BlockingClient, BlockingClientSocket
from .client import Auth, Client, ClientSocket
from .engine import EngineClient
from .manager import ClientOptions, Manager

__all__ = [
    "Auth",
    "BlockingClient",
    "BlockingClientSocket",
    "Client",
    "ClientOptions",
    "ClientSocket",
    "EngineClient",
    "Manager",
]
